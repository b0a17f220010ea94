"""The typed view of `rules.yaml`: a bad rule stops naming the rule, the field and an example."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = [
    "RULES_FILE",
    "CloudWatchSource",
    "Count",
    "Expression",
    "MissingData",
    "Quantile",
    "Ratio",
    "Rule",
    "RuleError",
    "RuleSet",
    "Severity",
    "Slo",
    "duration",
    "load_rules",
]

RULES_FILE = Path(__file__).with_name("rules.yaml")

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")
_WINDOW = re.compile(r"^(\d+)([smh])$")
_DATAPOINTS = re.compile(r"^(\d+) of (\d+)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}
# CloudWatch rejects an alarm whose evaluation range is longer than a day.
_MAX_RANGE_SECONDS = 86_400


_E = TypeVar("_E", bound=StrEnum)


class RuleError(ValueError):
    """rules.yaml holds a rule that cannot be rendered."""


class Severity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


class MissingData(StrEnum):
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"
    IGNORE = "ignore"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Ratio:
    """`metric{match}` / `metric`, both summed over the window. Match values are regexes."""

    metric: str
    match: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Count:
    metric: str


@dataclass(frozen=True, slots=True)
class Quantile:
    metric: str
    q: float


Expression = Ratio | Count | Quantile


@dataclass(frozen=True, slots=True)
class CloudWatchSource:
    """Read a ratio from an AWS service's own metrics instead of what the app publishes."""

    namespace: str
    numerator: str
    denominator: str
    dimension: str


@dataclass(frozen=True, slots=True)
class Slo:
    """A success objective, alerted on by its burn rate over a long and a short window.

    The error budget is `1 - objective`; a burn rate of 2 spends it twice as fast as the
    objective allows. The rule fires when the failure ratio is above `burn_rate * budget` over
    both the rule's window (the spend is real) and `short_window_seconds` (it is still going
    on, so the alert clears soon after the fault does).
    """

    objective: float
    burn_rate: float
    short_window_seconds: int

    @property
    def threshold(self) -> float:
        return round(self.burn_rate * (1 - self.objective), 9)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    severity: Severity
    summary: str
    expression: Expression
    threshold: float
    window_seconds: int
    datapoints_to_alarm: int
    evaluation_periods: int
    min_volume: float
    missing_data: MissingData
    runbook: str
    cloudwatch: CloudWatchSource | None = None
    slo: Slo | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    runbook_base_url: str
    rules: tuple[Rule, ...]

    def runbook_url(self, rule: Rule) -> str:
        return self.runbook_base_url + rule.runbook

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


def load_rules(path: Path = RULES_FILE) -> RuleSet:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError(f"{path.name}: expected a mapping with a `rules:` list")
    base = document.get("runbook_base_url")
    if not isinstance(base, str) or not re.match(r"^https://[^/]+/.*/$", base):
        raise RuleError(
            f"{path.name}: runbook_base_url must be an https URL ending in `/`, "
            "e.g. https://github.com/org/repo/blob/main/"
        )
    rules = tuple(_rule(raw, index) for index, raw in enumerate(document["rules"]))
    names = [rule.name for rule in rules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuleError(f"{path.name}: duplicate rule names {duplicates}")
    return RuleSet(runbook_base_url=base, rules=rules)


def _rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError(f"rule #{index + 1}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RuleError(f"rule #{index + 1}: name must be CamelCase, e.g. ApiErrorRate")
    field = _Fields(name, raw)
    expression = field.expression()
    window = field.window()
    alarm, of = field.datapoints()
    if window * of > _MAX_RANGE_SECONDS:
        raise RuleError(f"rule {name}: window x N must not exceed one day")
    slo = field.slo(window)
    if slo and (not isinstance(expression, Ratio) or "threshold" in raw or (alarm, of) != (1, 1)):
        raise RuleError(
            f"rule {name}: field slo: only for ratio rules, with `datapoints: 1 of 1` and no "
            "threshold (it is burn_rate x (1 - objective))"
        )
    threshold = slo.threshold if slo else field.number("threshold", example="0.05", minimum=0.0)
    if isinstance(expression, Ratio) and threshold >= 1:
        raise RuleError(f"rule {name}: field threshold: a ratio threshold is below 1, e.g. 0.05")
    # A ratio needs at least one event in the denominator; that is also its divide-by-zero guard.
    needs_volume = not isinstance(expression, Count)
    min_volume = (
        field.number("min_volume", example="20", minimum=1.0)
        if needs_volume or "min_volume" in raw
        else 0.0
    )
    cloudwatch = field.cloudwatch()
    if cloudwatch and not isinstance(expression, Ratio):
        raise RuleError(f"rule {name}: field cloudwatch is only for ratio rules")
    runbook = field.text("runbook", example=f"runbooks/{name}.md")
    if runbook != f"runbooks/{name}.md":
        raise RuleError(f"rule {name}: field runbook must be runbooks/{name}.md")
    return Rule(
        name=name,
        severity=field.choice("severity", Severity),
        summary=field.text("summary", example="More than 1% of API requests failed."),
        expression=expression,
        threshold=threshold,
        window_seconds=window,
        datapoints_to_alarm=alarm,
        evaluation_periods=of,
        min_volume=min_volume,
        missing_data=field.choice("missing_data", MissingData),
        runbook=runbook,
        cloudwatch=cloudwatch,
        slo=slo,
    )


def duration(seconds: int) -> str:
    """A window as rules.yaml writes it (and Prometheus reads it): 5m, 1h."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


class _Fields:
    """Typed reads of one rule's fields, each failing with the rule, the field and an example."""

    def __init__(self, name: str, raw: dict[str, Any]) -> None:
        self.name = name
        self.raw = raw

    def fail(self, key: str, message: str) -> RuleError:
        return RuleError(f"rule {self.name}: field {key}: {message}")

    def text(self, key: str, *, example: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected text, e.g. {key}: {example}")
        return value.strip()

    def number(self, key: str, *, example: str, minimum: float) -> float:
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.fail(key, f"expected a number >= {minimum:g}, e.g. {key}: {example}")
        return float(value)

    def choice(self, key: str, enum: type[_E]) -> _E:
        value = self.raw.get(key)
        try:
            return enum(str(value) if value is not None else "")
        except ValueError:
            choices = " | ".join(member.value for member in enum)
            raise self.fail(key, f"expected one of {choices}") from None

    def window(self, key: str = "window", value: Any = None) -> int:
        match = _WINDOW.match(str(self.raw.get(key, "") if value is None else value))
        seconds = int(match[1]) * _UNIT_SECONDS[match[2]] if match else 0
        # CloudWatch periods above a minute must be whole minutes.
        if seconds < 60 or seconds % 60:
            raise self.fail(key, "expected whole minutes like 5m or 1h")
        return seconds

    def slo(self, window: int) -> Slo | None:
        body = self.raw.get("slo")
        if body is None:
            return None
        example = "expected {objective: 0.95, burn_rate: 2, short_window: 30m}"
        if not isinstance(body, dict) or set(body) != {"objective", "burn_rate", "short_window"}:
            raise self.fail("slo", example)
        objective, burn_rate = body["objective"], body["burn_rate"]
        numbers = all(
            isinstance(value, int | float) and not isinstance(value, bool)
            for value in (objective, burn_rate)
        )
        if not numbers or not 0 < objective < 1 or burn_rate <= 0:
            raise self.fail("slo", f"{example}, with 0 < objective < 1 and burn_rate > 0")
        if burn_rate * (1 - objective) >= 1:
            raise self.fail("slo", "burn_rate x (1 - objective) must be a ratio below 1")
        short = self.window("slo.short_window", body["short_window"])
        if short >= window:
            raise self.fail("slo", "short_window must be shorter than the rule's window")
        return Slo(
            objective=float(objective), burn_rate=float(burn_rate), short_window_seconds=short
        )

    def datapoints(self) -> tuple[int, int]:
        match = _DATAPOINTS.match(str(self.raw.get("datapoints", "")))
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise self.fail("datapoints", "expected `M of N` with 1 <= M <= N, e.g. 2 of 3")
        return int(match[1]), int(match[2])

    def expression(self) -> Expression:
        kinds = [kind for kind in ("ratio", "count", "quantile") if kind in self.raw]
        if len(kinds) != 1:
            raise self.fail("ratio|count|quantile", "expected exactly one of them")
        kind = kinds[0]
        body = self.raw[kind]
        metric = body.get("metric") if isinstance(body, dict) else None
        if not isinstance(metric, str) or not re.match(r"^[a-z_][a-z0-9_]*$", metric):
            raise self.fail(kind, "expected {metric: sync_runs_total, ...}")
        if kind == "count":
            return Count(metric=metric)
        if kind == "quantile":
            q = body.get("q")
            if not isinstance(q, float) or not 0 < q < 1:
                raise self.fail("quantile", "expected {metric: ..., q: 0.95}")
            return Quantile(metric=metric, q=q)
        match = body.get("match")
        if (
            not isinstance(match, dict)
            or not match
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in match.items())
        ):
            raise self.fail("ratio", "expected {metric: ..., match: {status: failed}}")
        for value in match.values():
            try:
                re.compile(value)
            except re.error as exc:
                raise self.fail("ratio", f"match value {value!r} is not a regex: {exc}") from None
        return Ratio(metric=metric, match=dict(match))

    def cloudwatch(self) -> CloudWatchSource | None:
        body = self.raw.get("cloudwatch")
        if body is None:
            return None
        keys = ("namespace", "numerator", "denominator", "dimension")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in keys):
            raise self.fail(
                "cloudwatch",
                "expected {namespace: AWS/ApplicationELB, numerator: HTTPCode_Target_5XX_Count, "
                "denominator: RequestCount, dimension: LoadBalancer}",
            )
        return CloudWatchSource(**{k: body[k] for k in keys})
