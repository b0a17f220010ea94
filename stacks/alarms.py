"""CloudWatch alarms built from alerts/rules.yaml, the SNS topics they notify, and a dashboard.

One topic per severity, so `page` can reach the on-call rotation while `ticket` goes to the
team's queue. Alarms notify on ALARM and on OK, so whoever was paged also hears the all-clear.
An SLO rule is a composite alarm over one silent alarm per window. The dashboard shows every
alarm, plus what runbooks/deploy.md says to watch after a deploy that no alarm draws: the API's
p95 latency and the webhook delivery success rate against its objective.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from alerts.cloudwatch import (
    AlarmSpec,
    CompositeSpec,
    alarm_specs,
    composite_specs,
    dashboard_metric,
)
from alerts.rules import RuleSet, Severity


@dataclass(frozen=True, slots=True)
class AlarmsArgs:
    rules: RuleSet
    prefix: str
    environment: str
    region: str
    metrics_namespace: str
    load_balancer_arn_suffix: pulumi.Input[str]
    emails: dict[Severity, tuple[str, ...]]


class Alarms(pulumi.ComponentResource):
    topics: dict[Severity, aws.sns.Topic]
    alarms: list[aws.cloudwatch.MetricAlarm]
    composites: list[aws.cloudwatch.CompositeAlarm]
    names: list[pulumi.Output[str]]  # the alarms that notify, one per rule, in rule order

    def __init__(
        self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ragassist:stacks:Alarms", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))

        # CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, whose
        # policy cannot name it; a key of our own can.
        key = aws.kms.Key(
            f"{name}-topics-key",
            description=f"{args.prefix} alarm topics",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=account.account_id.apply(lambda account_id: json.dumps(_key_policy(account_id))),
            opts=child,
        )
        self.topics = {}
        for severity in Severity:
            topic = aws.sns.Topic(
                f"{name}-{severity}",
                name=f"{args.prefix}-alarms-{severity}",
                kms_master_key_id=key.arn,
                opts=child,
            )
            aws.sns.TopicPolicy(
                f"{name}-{severity}",
                arn=topic.arn,
                policy=pulumi.Output.all(topic.arn, account.account_id).apply(
                    lambda values: json.dumps(_topic_policy(*values))
                ),
                opts=child,
            )
            for index, email in enumerate(args.emails[severity]):
                aws.sns.TopicSubscription(
                    f"{name}-{severity}-{index}",
                    topic=topic.arn,
                    protocol="email",
                    endpoint=email,
                    opts=child,
                )
            self.topics[severity] = topic

        specs = alarm_specs(
            args.rules,
            prefix=args.prefix,
            namespace=args.metrics_namespace,
            environment=args.environment,
            resources={"LoadBalancer": args.load_balancer_arn_suffix},
        )
        self.alarms = [self._alarm(name, args.prefix, spec) for spec in specs]
        windows = {spec.name: alarm for spec, alarm in zip(specs, self.alarms, strict=True)}
        composites = composite_specs(args.rules, prefix=args.prefix)
        self.composites = [
            self._composite(name, spec, [windows[child] for child in spec.children])
            for spec in composites
        ]
        by_name = {name: alarm.name for name, alarm in windows.items()}
        by_name |= {s.name: a.alarm_name for s, a in zip(composites, self.composites, strict=True)}
        self.names = [by_name[f"{args.prefix}-{rule.name}"] for rule in args.rules]

        arns = [alarm.arn for alarm in self.alarms] + [alarm.arn for alarm in self.composites]
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.prefix,
            dashboard_body=pulumi.Output.all(*arns).apply(
                lambda arns: json.dumps(_dashboard(args, specs, arns))
            ),
            opts=child,
        )
        self.register_outputs(
            {
                "topicArns": {str(severity): topic.arn for severity, topic in self.topics.items()},
                "alarmNames": self.names,
                "dashboardName": dashboard.dashboard_name,
            }
        )

    def _alarm(self, name: str, prefix: str, spec: AlarmSpec) -> aws.cloudwatch.MetricAlarm:
        rule = spec.rule
        topic = self.topics[rule.severity].arn
        actions = [topic] if spec.notifies else []
        return aws.cloudwatch.MetricAlarm(
            # `{name}-{rule}` for a rule's one alarm, so existing alarms keep their URNs.
            f"{name}-{spec.name.removeprefix(f'{prefix}-')}",
            name=spec.name,
            alarm_description=spec.description,
            comparison_operator=spec.comparison_operator,
            threshold=rule.threshold,
            evaluation_periods=rule.evaluation_periods,
            datapoints_to_alarm=rule.datapoints_to_alarm,
            treat_missing_data=str(rule.missing_data),
            metric_queries=[_query(query) for query in spec.metrics],
            alarm_actions=actions,
            ok_actions=actions,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _composite(
        self, name: str, spec: CompositeSpec, children: list[aws.cloudwatch.MetricAlarm]
    ) -> aws.cloudwatch.CompositeAlarm:
        topic = self.topics[spec.rule.severity].arn
        return aws.cloudwatch.CompositeAlarm(
            f"{name}-{spec.rule.name}",
            alarm_name=spec.name,
            alarm_description=spec.description,
            alarm_rule=spec.alarm_rule,
            alarm_actions=[topic],
            ok_actions=[topic],
            opts=pulumi.ResourceOptions(parent=self, depends_on=children),
        )


def _query(query: dict[str, Any]) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """The `PutMetricAlarm` query shape, as the provider spells it."""
    stat = query.get("MetricStat")
    metric = None
    if stat is not None:
        metric = aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=stat["Metric"]["Namespace"],
            metric_name=stat["Metric"]["MetricName"],
            dimensions={dim["Name"]: dim["Value"] for dim in stat["Metric"]["Dimensions"]},
            period=stat["Period"],
            stat=stat["Stat"],
        )
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query["Id"],
        expression=query.get("Expression"),
        label=query.get("Label"),
        return_data=query["ReturnData"],
        metric=metric,
    )


def _key_policy(account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchEncryptsAlarmMessages",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
        ],
    }


def _topic_policy(topic_arn: str, account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def _dashboard(args: AlarmsArgs, specs: list[AlarmSpec], arns: list[str]) -> dict[str, Any]:
    title, region = args.prefix, args.region
    widgets: list[dict[str, Any]] = [
        {
            "type": "alarm",
            "x": 0,
            "y": 0,
            "width": 24,
            "height": 4,
            "properties": {"title": f"{title} alarms", "alarms": arns},
        }
    ]
    # The metric alarms' ARNs come first, then the composites'.
    for index, (spec, arn) in enumerate(zip(specs, arns[: len(specs)], strict=True)):
        widgets.append(
            {
                "type": "metric",
                "x": (index % 2) * 12,
                "y": 4 + (index // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": spec.rule.summary,
                    "region": region,
                    "annotations": {"alarms": [arn]},
                    "view": "timeSeries",
                },
            }
        )
    y = 4 + (len(specs) + 1) // 2 * 6
    widgets += [
        {"type": "metric", "x": x, "y": y, "width": 12, "height": 6, "properties": properties}
        for x, properties in zip((0, 12), _watched(args), strict=True)
    ]
    return {"widgets": widgets}


def _watched(args: AlarmsArgs) -> list[dict[str, Any]]:
    """The API's p95 latency, and the webhook delivery success rate against its objective."""
    namespace, environment = args.metrics_namespace, args.environment
    slo = next(
        rule.slo for rule in args.rules if rule.expression.metric == _DELIVERIES and rule.slo
    )
    deliveries = dashboard_metric(_DELIVERIES, namespace, environment)
    failed = dashboard_metric(_DELIVERIES, namespace, environment, {"status": "failed"})
    return [
        {
            "title": "API latency p95 (seconds)",
            "region": args.region,
            "view": "timeSeries",
            "period": 300,
            "stat": "p95",
            "metrics": [dashboard_metric("http_request_duration_seconds", namespace, environment)],
        },
        {
            "title": f"Webhook delivery success rate (objective {slo.objective:.0%})",
            "region": args.region,
            "view": "timeSeries",
            "period": 3600,
            "metrics": [
                [{"id": "rate", "expression": "100 * (1 - FILL(failed, 0) / total)", "label": "%"}],
                [*deliveries, {"id": "total", "stat": "Sum", "visible": False}],
                [*failed, {"id": "failed", "stat": "Sum", "visible": False}],
            ],
            "annotations": {
                "horizontal": [{"label": "objective", "value": round(slo.objective * 100, 6)}]
            },
            "yAxis": {"left": {"min": 0, "max": 100}},
        },
    ]


_DELIVERIES = "webhook_deliveries_total"
