"""Render the rules as CloudWatch alarm specs (the `PutMetricAlarm` shape).

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

from alerts.rules import Count, Quantile, Ratio, Rule, RuleError, RuleSet
from contracts.metrics import published_metric

__all__ = ["AlarmSpec", "alarm_specs"]


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    rule: Rule
    name: str
    description: str
    # MetricDataQuery dicts; dimension values may be Pulumi Outputs (the load balancer suffix).
    metrics: list[dict[str, Any]]

    @property
    def comparison_operator(self) -> str:
        return "GreaterThanThreshold"


def alarm_specs(
    rules: RuleSet,
    *,
    prefix: str,
    namespace: str,
    environment: str,
    resources: Mapping[str, Any],
) -> list[AlarmSpec]:
    """One spec per rule. `resources` fills the dimension a `cloudwatch:` source names."""
    return [
        AlarmSpec(
            rule=rule,
            name=f"{prefix}-{rule.name}",
            description=(f"[{rule.severity}] {rule.summary} Runbook: {rules.runbook_url(rule)}"),
            metrics=_queries(rule, namespace, environment, resources),
        )
        for rule in rules
    ]


def _queries(
    rule: Rule, namespace: str, environment: str, resources: Mapping[str, Any]
) -> list[dict[str, Any]]:
    expression = rule.expression
    volume = f"{rule.min_volume:g}"
    if isinstance(expression, Ratio):
        numerator, denominator = _ratio_metrics(rule, expression, namespace, environment, resources)
        return [
            _stat("num", numerator, rule, "Sum"),
            _stat("den", denominator, rule, "Sum"),
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
        return [{**_stat("total", identity, rule, "Sum"), "ReturnData": True}]
    assert isinstance(expression, Quantile)
    return [
        _stat("pct", identity, rule, f"p{expression.q * 100:g}"),
        _stat("samples", identity, rule, "SampleCount"),
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


def _stat(query_id: str, identity: dict[str, Any], rule: Rule, stat: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {"Metric": identity, "Period": rule.window_seconds, "Stat": stat},
        "ReturnData": False,
    }


def _math(rule: Rule, expression: str) -> dict[str, Any]:
    return {"Id": "value", "Expression": expression, "Label": rule.name, "ReturnData": True}
