"""rules.yaml: the seed's six alerts and the webhook SLO, checked against the metrics the app
really exports."""

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
        "WebhookDeliverySlo": (Severity.TICKET, Ratio, 0.10),
        "WidgetLoadSlow": (Severity.TICKET, Quantile, 2.0),
    }


def test_the_webhook_slo_is_the_seeds_95_percent_burning_twice_too_fast():
    rule = next(rule for rule in RULES if rule.slo is not None)

    assert rule.expression == Ratio("webhook_deliveries_total", {"status": "failed"})
    assert (rule.slo.objective, rule.slo.burn_rate) == (0.95, 2.0)
    # Between the two: slower burns than the > 20% failure alert (burn rate 4) catches.
    assert rule.threshold < next(r.threshold for r in RULES if r.name == "WebhookFailureRate")
    assert (rule.window_seconds, rule.slo.short_window_seconds) == (6 * 3600, 1800)


def test_an_slo_rule_derives_its_threshold_from_objective_and_burn_rate(tmp_path):
    slo = {"objective": 0.99, "burn_rate": 14.4, "short_window": "5m"}
    (rule,) = load_rules(
        _write(tmp_path, slo=slo, threshold=None, datapoints="1 of 1", window="1h")
    )

    assert rule.threshold == 0.144
    assert rule.slo is not None and rule.slo.short_window_seconds == 300


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
        (
            {"slo": {"objective": 0.95, "burn_rate": 2, "short_window": "1m"}},
            "field slo: only for ratio rules, with `datapoints: 1 of 1` and no threshold",
        ),
        (
            {
                "slo": {"objective": 0.95, "burn_rate": 2, "short_window": "10m"},
                "threshold": None,
                "datapoints": "1 of 1",
            },
            "short_window must be shorter than the rule's window",
        ),
        (
            {
                "slo": {"objective": 1.5, "burn_rate": 2, "short_window": "1m"},
                "threshold": None,
                "datapoints": "1 of 1",
            },
            "with 0 < objective < 1",
        ),
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
