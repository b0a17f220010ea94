"""Every alarm equals its rule, and every rule has its alarm, in every environment."""

import json

from alerts.rules import Count, Quantile, Ratio, Severity, duration, load_rules
from contracts.metrics import published_metric
from tests.stacks.conftest import Build

RULES = load_rules()


def _alarms(stack: Build) -> dict:
    return {
        a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def _composites(stack: Build) -> dict:
    return {
        a.inputs["alarmName"]: a.inputs
        for a in stack.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")
    }


def _windows(rule) -> list[tuple[str, int]]:
    """An SLO rule's window alarms (name suffix, period); a plain rule's one alarm."""
    if rule.slo is None:
        return [("", rule.window_seconds)]
    return [(f"-{duration(w)}", w) for w in (rule.window_seconds, rule.slo.short_window_seconds)]


def test_every_rule_has_exactly_one_alarm_and_no_alarm_lacks_a_rule(stack: Build):
    prefix = f"ragassist-{stack.environment}"
    plain = {f"{prefix}-{rule.name}{suffix}" for rule in RULES for suffix, _ in _windows(rule)}
    slo = {f"{prefix}-{rule.name}" for rule in RULES if rule.slo}

    assert set(_alarms(stack)) == plain
    assert set(_composites(stack)) == slo
    # What notifies: one alarm per rule, an SLO rule's being its composite.
    assert stack.exports["alarmNames"] == [f"{prefix}-{r.name}" for r in RULES]


def test_an_slo_rule_notifies_through_a_composite_of_its_two_windows(stack: Build):
    alarms, composites = _alarms(stack), _composites(stack)
    topics = stack.exports["alarmTopicArns"]
    (rule,) = [rule for rule in RULES if rule.slo]
    name = f"ragassist-{stack.environment}-{rule.name}"

    composite = composites[name]
    assert composite["alarmRule"] == f'ALARM("{name}-6h") AND ALARM("{name}-30m")'
    assert composite["alarmActions"] == composite["okActions"] == [topics[str(rule.severity)]]
    assert RULES.runbook_url(rule) in composite["alarmDescription"]
    for suffix, period in _windows(rule):
        window = alarms[name + suffix]
        # Silent: only the composite speaks, so one fault is one notification.
        assert window.get("alarmActions", []) == window.get("okActions", []) == []
        assert window["threshold"] == rule.threshold == 0.10
        assert {q["metric"]["period"] for q in window["metricQueries"] if "metric" in q} == {period}


def test_each_alarm_matches_its_rule(stack: Build):
    alarms = _alarms(stack)
    topics = stack.exports["alarmTopicArns"]
    (alb,) = stack.of_type("aws:lb/loadBalancer:LoadBalancer")

    for rule in RULES:
        if rule.slo:
            continue  # its window alarms: test_an_slo_rule_notifies_through_a_composite_...
        alarm = alarms[f"ragassist-{stack.environment}-{rule.name}"]
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["threshold"] == rule.threshold
        assert alarm["evaluationPeriods"] == rule.evaluation_periods
        assert alarm["datapointsToAlarm"] == rule.datapoints_to_alarm
        assert alarm["treatMissingData"] == str(rule.missing_data)
        assert alarm["alarmActions"] == alarm["okActions"] == [topics[str(rule.severity)]]
        assert RULES.runbook_url(rule) in alarm["alarmDescription"]
        assert len(alarm["alarmDescription"]) <= 1024

        queries = alarm["metricQueries"]
        stats = [q for q in queries if "metric" in q]
        assert [q["returnData"] for q in queries].count(True) == 1
        assert all(q["metric"]["period"] == rule.window_seconds for q in stats)

        expression = rule.expression
        returned = next(q for q in queries if q["returnData"])
        if isinstance(expression, Ratio):
            by_id = {q["id"]: q["metric"] for q in stats}
            # The guard: below the minimum volume (>= 1, so never 0/0) the window scores 0.
            assert (
                returned["expression"] == f"IF(den >= {rule.min_volume:g}, FILL(num, 0) / den, 0)"
            )
            assert {q["metric"]["stat"] for q in stats} == {"Sum"}
            if rule.cloudwatch:
                assert by_id["num"]["namespace"] == "AWS/ApplicationELB"
                assert by_id["num"]["metricName"] == "HTTPCode_Target_5XX_Count"
                assert by_id["den"]["metricName"] == "RequestCount"
                assert by_id["num"]["dimensions"] == {"LoadBalancer": alb.outputs["arnSuffix"]}
            else:
                name = published_metric(expression.metric).name
                assert by_id["num"]["metricName"] == by_id["den"]["metricName"] == name
                assert by_id["num"]["dimensions"] == {
                    "Environment": stack.environment,
                    **{label.capitalize(): value for label, value in expression.match.items()},
                }
                assert by_id["den"]["dimensions"] == {"Environment": stack.environment}
        elif isinstance(expression, Count):
            assert returned["metric"]["metricName"] == published_metric(expression.metric).name
            assert returned["metric"]["stat"] == "Sum"
        else:
            assert isinstance(expression, Quantile)
            assert returned["expression"] == f"IF(samples >= {rule.min_volume:g}, pct, 0)"
            assert {q["metric"]["stat"] for q in stats} == {"p95", "SampleCount"}


def test_pages_and_tickets_go_to_separate_topics_with_their_subscribers(stack: Build):
    topics = {t.inputs["name"]: t for t in stack.of_type("aws:sns/topic:Topic")}
    subscriptions = stack.of_type("aws:sns/topicSubscription:TopicSubscription")

    assert set(topics) == {f"ragassist-{stack.environment}-alarms-{s}" for s in Severity}
    assert all(s.inputs["protocol"] == "email" for s in subscriptions)
    assert {s.inputs["topic"] for s in subscriptions} == set(
        stack.exports["alarmTopicArns"].values()
    )


def test_dashboard_shows_every_alarm(stack: Build):
    (dashboard,) = stack.of_type("aws:cloudwatch/dashboard:Dashboard")
    alarm_arns = {
        a.outputs["arn"]
        for kind in ("metricAlarm:MetricAlarm", "compositeAlarm:CompositeAlarm")
        for a in stack.of_type(f"aws:cloudwatch/{kind}")
    }
    body = json.loads(dashboard.inputs["dashboardBody"])

    assert set(body["widgets"][0]["properties"]["alarms"]) == alarm_arns


def test_dashboard_shows_api_p95_and_webhook_success_against_the_objective(stack: Build):
    (dashboard,) = stack.of_type("aws:cloudwatch/dashboard:Dashboard")
    widgets = {
        w["properties"]["title"]: w["properties"]
        for w in json.loads(dashboard.inputs["dashboardBody"])["widgets"]
    }
    namespace = "RagAssist"
    environment = ["Environment", stack.environment]

    latency = widgets["API latency p95 (seconds)"]
    assert latency["stat"] == "p95"
    assert latency["metrics"] == [[namespace, "ApiLatency", *environment]]
    deliveries = widgets["Webhook delivery success rate (objective 95%)"]
    rate, total, failed = deliveries["metrics"]
    assert rate[0]["expression"] == "100 * (1 - FILL(failed, 0) / total)"
    assert total == [
        namespace,
        "WebhookDeliveries",
        *environment,
        {"id": "total", "stat": "Sum", "visible": False},
    ]
    assert failed[:-1] == [namespace, "WebhookDeliveries", *environment, "Status", "failed"]
    assert deliveries["annotations"]["horizontal"][0]["value"] == 95
    # Both read metrics the app publishes (tests/app/test_cloudwatch.py holds the names).
    assert published_metric("http_request_duration_seconds").name == "ApiLatency"
