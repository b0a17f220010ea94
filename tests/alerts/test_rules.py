"""rules.yaml: the seed's six alerts, checked against the metrics the app really exports."""

from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Histogram

from alerts.rules import Count, Quantile, Ratio, RuleError, Severity, load_rules
from app import metrics
from app.metrics import REGISTRY

RULES = load_rules()


def test_the_seed_thresholds_and_severities():
    table = {rule.name: (rule.severity, type(rule.expression), rule.threshold) for rule in RULES}

    assert table == {
        "ProductSyncFailureRate": (Severity.PAGE, Ratio, 0.10),
        "WidgetLoadFailureRate": (Severity.PAGE, Ratio, 0.05),
        "ApiErrorRate": (Severity.PAGE, Ratio, 0.01),
        "CorsRejections": (Severity.TICKET, Count, 100),
        "WebhookFailureRate": (Severity.TICKET, Ratio, 0.20),
        "WidgetLoadSlow": (Severity.TICKET, Quantile, 2.0),
    }


def test_sync_failures_are_judged_over_an_hour_with_at_least_five_runs():
    rule = next(rule for rule in RULES if rule.name == "ProductSyncFailureRate")

    assert (rule.window_seconds, rule.min_volume) == (3600, 5)


def _exported() -> dict[str, set[str]]:
    """Series names the app exports (counters with `_total`), with their label names."""
    found: dict[str, set[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            found[f"{value._name}_total"] = set(value._labelnames)
        elif isinstance(value, Histogram):
            found[value._name] = set(value._labelnames)
        elif isinstance(value, metrics.HttpTraffic):
            found.update({name: set(labels) for name, labels in value.LABELS.items()})
    return found


def test_every_rule_reads_a_metric_and_labels_the_app_exports():
    exported = _exported()

    for rule in RULES:
        expression = rule.expression
        assert expression.metric in exported, rule.name
        if isinstance(expression, Ratio):
            assert set(expression.match) <= exported[expression.metric], rule.name


def test_the_p95_threshold_is_a_bucket_bound_of_the_load_time_histogram():
    # Prometheus interpolates inside a bucket and CloudWatch sees bucket bounds: both agree with
    # the evaluator only when the threshold sits on a bound.
    rule = next(rule for rule in RULES if isinstance(rule.expression, Quantile))
    bounds = {
        float(sample.labels["le"])
        for family in REGISTRY.collect()
        if family.name == rule.expression.metric
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }

    assert rule.threshold in bounds


VALID = {
    "name": "SomethingBroke",
    "severity": "page",
    "summary": "Something broke.",
    "ratio": {"metric": "sync_runs_total", "match": {"status": "failed"}},
    "threshold": 0.1,
    "window": "5m",
    "datapoints": "2 of 3",
    "min_volume": 5,
    "missing_data": "notBreaching",
    "runbook": "runbooks/SomethingBroke.md",
}


def _write(tmp_path: Path, **changes) -> Path:
    rule = {**VALID, **changes}
    rule = {key: value for key, value in rule.items() if value is not None}
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump({"runbook_base_url": "https://example.com/repo/", "rules": [rule]})
    )
    return path


def test_a_valid_rule_loads(tmp_path):
    (rule,) = load_rules(_write(tmp_path))

    assert (rule.datapoints_to_alarm, rule.evaluation_periods, rule.window_seconds) == (2, 3, 300)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"severity": "urgent"}, "field severity: expected one of page | ticket"),
        ({"threshold": "high"}, "field threshold: expected a number"),
        ({"threshold": 1.5}, "a ratio threshold is below 1"),
        ({"window": "90s"}, "field window: expected whole minutes"),
        ({"datapoints": "4 of 3"}, "field datapoints: expected `M of N`"),
        ({"min_volume": None}, "field min_volume: expected a number >= 1"),
        ({"missing_data": "zero"}, "field missing_data: expected one of breaching"),
        ({"runbook": "docs/x.md"}, "field runbook must be runbooks/SomethingBroke.md"),
        ({"ratio": {"metric": "x", "match": {"status": "("}}}, "is not a regex"),
        ({"count": {"metric": "x"}}, "expected exactly one of them"),
        ({"window": "1h", "datapoints": "2 of 25"}, "must not exceed one day"),
    ],
)
def test_a_bad_rule_names_itself_and_the_field(tmp_path, changes, message):
    with pytest.raises(RuleError) as caught:
        load_rules(_write(tmp_path, **changes))

    assert "rule SomethingBroke" in str(caught.value)
    assert message in str(caught.value)


def test_duplicate_names_are_refused(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump({"runbook_base_url": "https://example.com/repo/", "rules": [VALID, VALID]})
    )

    with pytest.raises(RuleError, match="duplicate rule names"):
        load_rules(path)
