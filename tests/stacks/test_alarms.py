"""Every alarm equals its rule, and every rule has its alarm, in every environment."""

import json

from alerts.rules import Count, Quantile, Ratio, Severity, load_rules
from contracts.metrics import published_metric
from tests.stacks.conftest import Build

RULES = load_rules()


def _alarms(stack: Build) -> dict:
    return {
        a.inputs["name"]: a.inputs for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }


def test_every_rule_has_exactly_one_alarm_and_no_alarm_lacks_a_rule(stack: Build):
    expected = {f"ragassist-{stack.environment}-{rule.name}" for rule in RULES}

    assert set(_alarms(stack)) == expected
    assert stack.exports["alarmNames"] == [f"ragassist-{stack.environment}-{r.name}" for r in RULES]


def test_each_alarm_matches_its_rule(stack: Build):
    alarms = _alarms(stack)
    topics = stack.exports["alarmTopicArns"]
    (alb,) = stack.of_type("aws:lb/loadBalancer:LoadBalancer")

    for rule in RULES:
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
    alarm_arns = {a.outputs["arn"] for a in stack.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    body = json.loads(dashboard.inputs["dashboardBody"])

    assert set(body["widgets"][0]["properties"]["alarms"]) == alarm_arns
