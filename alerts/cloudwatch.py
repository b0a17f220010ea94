"""Render the rules as CloudWatch alarm specs (the `PutMetricAlarm` shape).

An SLO rule becomes one alarm per window, which notify nobody, and a composite alarm that is in
ALARM when both are (`composite_specs`): one alarm's metrics must share one period.

App metrics are looked up in `contracts.metrics.PUBLISHED_METRICS`, the table the app's publisher
sends from, so an alarm can only query a metric name and dimensions the app really publishes.
Every value is guarded in metric math: below the rule's minimum volume (which is at least one
event for ratios, so never a division by zero) the window scores 0, i.e. healthy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.rules import Count, Quantile, Ratio, Rule, RuleError, RuleSet, duration
from contracts.metrics import published_metric

__all__ = ["AlarmSpec", "CompositeSpec", "alarm_specs", "composite_specs", "dashboard_metric"]


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    rule: Rule
    name: str
    description: str
    # MetricDataQuery dicts; dimension values may be Pulumi Outputs (the load balancer suffix).
    metrics: list[dict[str, Any]]
    # False for an SLO rule's window alarms: their composite notifies.
    notifies: bool = True

    @property
    def comparison_operator(self) -> str:
        return "GreaterThanThreshold"


@dataclass(frozen=True, slots=True)
class CompositeSpec:
    rule: Rule
    name: str
    description: str
    children: tuple[str, ...]

    @property
    def alarm_rule(self) -> str:
        return " AND ".join(f'ALARM("{child}")' for child in self.children)


def alarm_specs(
    rules: RuleSet,
    *,
    prefix: str,
    namespace: str,
    environment: str,
    resources: Mapping[str, Any],
) -> list[AlarmSpec]:
    """One spec per rule, one per window of an SLO rule. `resources` fills the dimension a
    `cloudwatch:` source names."""
    specs = []
    for rule in rules:
        description = _description(rules, rule)
        if rule.slo is None:
            metrics = _queries(rule, rule.window_seconds, namespace, environment, resources)
            specs.append(AlarmSpec(rule, f"{prefix}-{rule.name}", description, metrics))
            continue
        for window in _windows(rule):
            metrics = _queries(rule, window, namespace, environment, resources)
            part = f"The {duration(window)} window of {prefix}-{rule.name}. {description}"
            specs.append(AlarmSpec(rule, _window_name(prefix, rule, window), part, metrics, False))
    return specs


def composite_specs(rules: RuleSet, *, prefix: str) -> list[CompositeSpec]:
    """The alarm of each SLO rule: ALARM while the failure ratio is above the burn-rate
    threshold over both its windows."""
    return [
        CompositeSpec(
            rule=rule,
            name=f"{prefix}-{rule.name}",
            description=_description(rules, rule),
            children=tuple(_window_name(prefix, rule, window) for window in _windows(rule)),
        )
        for rule in rules
        if rule.slo is not None
    ]


def dashboard_metric(
    series: str, namespace: str, environment: str, match: Mapping[str, str] | None = None
) -> list[str]:
    """A published series as a dashboard widget's metric row: namespace, name, dimensions."""
    metric = published_metric(series)
    row = [namespace, metric.name]
    for dim in metric.dimensions(environment, match):
        row += [dim["Name"], dim["Value"]]
    return row


def _windows(rule: Rule) -> tuple[int, ...]:
    assert rule.slo is not None
    return (rule.window_seconds, rule.slo.short_window_seconds)


def _window_name(prefix: str, rule: Rule, window: int) -> str:
    return f"{prefix}-{rule.name}-{duration(window)}"


def _description(rules: RuleSet, rule: Rule) -> str:
    return f"[{rule.severity}] {rule.summary} Runbook: {rules.runbook_url(rule)}"


def _queries(
    rule: Rule, period: int, namespace: str, environment: str, resources: Mapping[str, Any]
) -> list[dict[str, Any]]:
    expression = rule.expression
    volume = f"{rule.min_volume:g}"
    if isinstance(expression, Ratio):
        numerator, denominator = _ratio_metrics(rule, expression, namespace, environment, resources)
        return [
            _stat("num", numerator, period, "Sum"),
            _stat("den", denominator, period, "Sum"),
            # FILL: the numerator has no datapoints until the first failure is ever counted.
            _math(rule, f"IF(den >= {volume}, FILL(num, 0) / den, 0)"),
        ]
    metric = published_metric(expression.metric)
    identity = {
        "Namespace": namespace,
        "MetricName": metric.name,
        "Dimensions": metric.dimensions(environment),
    }
    if isinstance(expression, Count):
        return [{**_stat("total", identity, period, "Sum"), "ReturnData": True}]
    assert isinstance(expression, Quantile)
    return [
        _stat("pct", identity, period, f"p{expression.q * 100:g}"),
        _stat("samples", identity, period, "SampleCount"),
        _math(rule, f"IF(samples >= {volume}, pct, 0)"),
    ]


def _ratio_metrics(
    rule: Rule,
    expression: Ratio,
    namespace: str,
    environment: str,
    resources: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    source = rule.cloudwatch
    if source is not None:
        if source.dimension not in resources:
            raise KeyError(f"rule {rule.name} needs the {source.dimension} dimension value")
        dims = [{"Name": source.dimension, "Value": resources[source.dimension]}]
        return (
            {"Namespace": source.namespace, "MetricName": source.numerator, "Dimensions": dims},
            {"Namespace": source.namespace, "MetricName": source.denominator, "Dimensions": dims},
        )
    if any(re.escape(value) != value for value in expression.match.values()):
        raise RuleError(
            f"rule {rule.name}: CloudWatch dimensions match literally; use a literal match "
            "or a `cloudwatch:` source"
        )
    metric = published_metric(expression.metric)
    return (
        {
            "Namespace": namespace,
            "MetricName": metric.name,
            "Dimensions": metric.dimensions(environment, expression.match),
        },
        {
            "Namespace": namespace,
            "MetricName": metric.name,
            "Dimensions": metric.dimensions(environment),
        },
    )


def _stat(query_id: str, identity: dict[str, Any], period: int, stat: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {"Metric": identity, "Period": period, "Stat": stat},
        "ReturnData": False,
    }


def _math(rule: Rule, expression: str) -> dict[str, Any]:
    return {"Id": "value", "Expression": expression, "Label": rule.name, "ReturnData": True}
