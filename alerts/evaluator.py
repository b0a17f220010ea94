"""Say which alerts fire, given metric samples over time: the rules' meaning in plain Python.

Samples are what the publisher sends CloudWatch: for a counter, the increase seen at that moment;
for a histogram, one observation (a load time). Windows end at `at` and reach back `window`
seconds each, newest last; a window holds the samples with `end - window < t <= end`. Its value
follows the alarm's metric math (below the minimum volume it is 0), and M of N windows above the
threshold make an ALARM, with windows without any data counted per the rule's missing-data policy.
An SLO rule has two windows ending at `at`, its long and its short one, and needs both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from alerts.rules import Count, MissingData, Quantile, Ratio, Rule

__all__ = ["Sample", "State", "datapoints", "decide", "evaluate"]


class State(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    metric: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


def evaluate(
    rules: Iterable[Rule],
    samples: Iterable[Sample],
    at: float,
    previous: Mapping[str, State] | None = None,
) -> dict[str, State]:
    """Each rule's state at `at`; `previous` states matter only to the `ignore` policy."""
    samples = list(samples)
    return {
        rule.name: decide(
            rule, datapoints(rule, samples, at), (previous or {}).get(rule.name, State.OK)
        )
        for rule in rules
    }


def datapoints(rule: Rule, samples: Iterable[Sample], at: float) -> list[float | None]:
    """The value of each of the rule's N windows ending at `at`, oldest first; None = no data.
    For an SLO rule: its long window's value, then its short window's."""
    samples = [sample for sample in samples if sample.metric == rule.expression.metric]
    if rule.slo is not None:
        spans = [(at, rule.window_seconds), (at, rule.slo.short_window_seconds)]
    else:
        spans = [
            (at - k * rule.window_seconds, rule.window_seconds)
            for k in reversed(range(rule.evaluation_periods))
        ]
    return [
        _value(rule, [sample for sample in samples if end - span < sample.at <= end])
        for end, span in spans
    ]


def decide(rule: Rule, points: list[float | None], previous: State = State.OK) -> State:
    breaching = sum(1 for point in points if point is not None and point > rule.threshold)
    missing = sum(1 for point in points if point is None)
    policy = rule.missing_data
    if policy is MissingData.BREACHING:
        breaching += missing
    elif missing == len(points) and policy is MissingData.IGNORE:
        return previous
    elif missing == len(points) and policy is MissingData.MISSING:
        return State.INSUFFICIENT_DATA
    needed = len(points) if rule.slo is not None else rule.datapoints_to_alarm
    return State.ALARM if breaching >= needed else State.OK


def _value(rule: Rule, window: list[Sample]) -> float | None:
    if not window:
        return None
    expression = rule.expression
    if isinstance(expression, Count):
        return sum(sample.value for sample in window)
    if isinstance(expression, Quantile):
        if len(window) < rule.min_volume:
            return 0.0
        ordered = sorted(sample.value for sample in window)
        # Nearest rank, as CloudWatch percentiles and Prometheus at a bucket bound agree on.
        # (rounded first: 0.95 * 60 must be rank 57, not 58 from a float's last bit).
        return ordered[math.ceil(round(expression.q * len(ordered), 9)) - 1]
    assert isinstance(expression, Ratio)
    whole = sum(sample.value for sample in window)
    if whole < rule.min_volume:
        return 0.0
    part = sum(sample.value for sample in window if _matches(expression.match, sample.labels))
    return part / whole


def _matches(match: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(re.fullmatch(pattern, labels.get(label, "")) for label, pattern in match.items())
