"""Render the rules as a Prometheus rules file that agrees with the CloudWatch alarms.

CloudWatch judges the last N windows and alarms when M of them breach; Prometheus has only `for:`
(all of them), so each window is written out with `offset` and the breaching ones are added up.
Each window scores 1 or 0 like the alarm's metric math: below the minimum volume it scores 0, and
`bool` comparisons turn a 0/0 into a 0 rather than a NaN. A window with no data at all scores per
the missing-data policy: 1 for `breaching`, else 0 (Prometheus keeps no alarm state, so `ignore`
and `missing` both read as "not breaching" here). An SLO rule multiplies its two windows' scores:
both must breach.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from alerts.rules import Count, MissingData, Quantile, Ratio, Rule, RuleSet, duration

__all__ = ["GROUP_NAME", "alert_expression", "render_rules_file"]

GROUP_NAME = "ragassist"


def render_rules_file(rules: RuleSet) -> str:
    group = {
        "name": GROUP_NAME,
        "interval": "1m",
        "rules": [_alert(rules, rule) for rule in rules],
    }
    header = "# Generated from alerts/rules.yaml by `invoke alerts.render`: edit that instead.\n"
    return header + yaml.dump({"groups": [group]}, Dumper=_Dumper, sort_keys=False, width=100)


def alert_expression(rule: Rule) -> str:
    missing = "1" if rule.missing_data is MissingData.BREACHING else "0"
    if rule.slo is not None:
        long, short = rule.window_seconds, rule.slo.short_window_seconds
        return (
            f"({_breach(rule, 0, long)} or vector({missing}))\n"
            f"* ({_breach(rule, 0, short)} or vector({missing}))\n>= 1"
        )
    windows = [
        f"({_breach(rule, k * rule.window_seconds, rule.window_seconds)} or vector({missing}))"
        for k in range(rule.evaluation_periods)
    ]
    return "\n+ ".join(windows) + f"\n>= {rule.datapoints_to_alarm}"


def _alert(rules: RuleSet, rule: Rule) -> dict[str, Any]:
    window = duration(rule.window_seconds)
    description = (
        f"{{{{ $value }}}} of the last {rule.evaluation_periods} window(s) of {window} "
        f"breached; the alert fires at {rule.datapoints_to_alarm}."
    )
    if rule.slo is not None:
        description = (
            f"More than {rule.threshold:.0%} failed over both {window} and "
            f"{duration(rule.slo.short_window_seconds)}: burn rate {rule.slo.burn_rate:g} of the "
            f"{rule.slo.objective:.0%} objective's error budget."
        )
    return {
        "alert": rule.name,
        "expr": alert_expression(rule),
        "labels": {"severity": str(rule.severity)},
        "annotations": {
            "summary": rule.summary,
            "description": description,
            "runbook_url": rules.runbook_url(rule),
        },
    }


def _breach(rule: Rule, offset: int, window: int) -> str:
    expression = rule.expression
    threshold = f"{rule.threshold:g}"
    volume = f"{rule.min_volume:g}"
    if isinstance(expression, Count):
        return f"(sum({_increase(window, expression.metric, {}, offset)}) > bool {threshold})"
    if isinstance(expression, Quantile):
        buckets = _increase(window, f"{expression.metric}_bucket", {}, offset)
        count = _increase(window, f"{expression.metric}_count", {}, offset)
        return (
            f"((histogram_quantile({expression.q:g}, sum by (le) ({buckets})) > bool {threshold})"
            f" * (sum({count}) >= bool {volume}))"
        )
    assert isinstance(expression, Ratio)
    part = _increase(window, expression.metric, expression.match, offset)
    whole = f"sum({_increase(window, expression.metric, {}, offset)})"
    return (
        f"((((sum({part}) or vector(0)) / {whole}) > bool {threshold})"
        f" * ({whole} >= bool {volume}))"
    )


def _increase(window: int, metric: str, match: Mapping[str, str], offset: int) -> str:
    matchers = ",".join(
        f"{label}{'=' if re.escape(value) == value else '=~'}{json.dumps(value)}"
        for label, value in sorted(match.items())
    )
    selector = f"{metric}{{{matchers}}}" if matchers else metric
    shifted = f" offset {duration(offset)}" if offset else ""
    return f"increase({selector}[{duration(window)}]{shifted})"


class _Dumper(yaml.SafeDumper):
    """Writes multi-line expressions as `|` blocks, one window per line, for reviewers."""


def _block(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _block)
