"""The evaluator at the seed's boundaries: what fires and what stays quiet."""

from dataclasses import replace

import pytest

from alerts.evaluator import Sample, State, datapoints, decide, evaluate
from alerts.rules import MissingData, load_rules

RULES = {rule.name: rule for rule in load_rules()}
HOUR = 3600


def _runs(failed: int, total: int, *, end: float = HOUR, source: str = "upload") -> list[Sample]:
    """`total` sync runs spread over the hour ending at `end`, `failed` of them failed."""
    step = HOUR / total
    return [
        Sample(
            at=end - HOUR + step * (i + 1),
            metric="sync_runs_total",
            value=1,
            labels={"source": source, "status": "failed" if i < failed else "succeeded"},
        )
        for i in range(total)
    ]


def _state(name: str, samples: list[Sample], at: float = HOUR) -> State:
    return evaluate([RULES[name]], samples, at)[name]


def test_sync_failures_at_9_9_percent_stay_quiet():
    assert _state("ProductSyncFailureRate", _runs(99, 1000)) is State.OK


def test_sync_failures_at_10_1_percent_fire():
    assert _state("ProductSyncFailureRate", _runs(101, 1000)) is State.ALARM


def test_sync_failures_at_exactly_10_percent_stay_quiet():
    # "more than 10%": the threshold itself is not a breach.
    assert _state("ProductSyncFailureRate", _runs(100, 1000)) is State.OK


def test_sync_failures_below_the_minimum_volume_stay_quiet():
    # 4 runs, all failed: a single merchant's bad afternoon, not an incident.
    assert _state("ProductSyncFailureRate", _runs(4, 4)) is State.OK


def test_sync_failures_at_the_minimum_volume_fire():
    assert _state("ProductSyncFailureRate", _runs(1, 5)) is State.ALARM


def test_failures_from_every_source_count():
    samples = _runs(60, 500, source="upload") + _runs(60, 500, source="feed")

    assert datapoints(RULES["ProductSyncFailureRate"], samples, HOUR) == [0.12]


def test_runs_older_than_the_window_do_not_count():
    old_failures = _runs(100, 100, end=HOUR)
    recent_successes = _runs(0, 100, end=2 * HOUR)

    assert _state("ProductSyncFailureRate", old_failures + recent_successes, 2 * HOUR) is State.OK


def _rejections(count: int) -> list[Sample]:
    return [
        Sample(
            at=i * 30.0 + 1, metric="cors_rejections_total", value=1, labels={"audience": "widget"}
        )
        for i in range(count)
    ]


def test_100_cors_rejections_in_an_hour_stay_quiet():
    assert _state("CorsRejections", _rejections(100)) is State.OK


def test_101_cors_rejections_in_an_hour_fire():
    assert _state("CorsRejections", _rejections(101)) is State.ALARM


def test_a_window_includes_its_end_and_excludes_its_start():
    rule = RULES["CorsRejections"]
    at_start = [Sample(at=0.0, metric="cors_rejections_total", value=500)]
    at_end = [Sample(at=float(HOUR), metric="cors_rejections_total", value=500)]

    assert datapoints(rule, at_start, HOUR) == [None]
    assert datapoints(rule, at_end, HOUR) == [500]


def _loads(end: float, failed: int, total: int) -> list[Sample]:
    return [
        Sample(
            at=end - i,
            metric="widget_loads_total",
            value=1,
            labels={"status": "failed" if i < failed else "ok"},
        )
        for i in range(total)
    ]


def test_widget_failures_need_two_of_three_windows():
    rule = RULES["WidgetLoadFailureRate"]  # > 5%, 5-minute windows, 2 of 3
    bad, good = (10, 100), (1, 100)

    one_bad = _loads(300, *bad) + _loads(600, *good) + _loads(900, *good)
    two_bad_apart = _loads(300, *bad) + _loads(600, *good) + _loads(900, *bad)

    assert datapoints(rule, one_bad, 900) == [0.10, 0.01, 0.01]
    assert evaluate([rule], one_bad, 900)[rule.name] is State.OK
    assert evaluate([rule], two_bad_apart, 900)[rule.name] is State.ALARM


def test_api_errors_count_every_5xx_status_and_nothing_else():
    rule = RULES["ApiErrorRate"]
    samples = [
        Sample(at=100, metric="http_requests_total", value=980, labels={"status": "200"}),
        Sample(at=100, metric="http_requests_total", value=15, labels={"status": "404"}),
        Sample(at=100, metric="http_requests_total", value=3, labels={"status": "500"}),
        Sample(at=100, metric="http_requests_total", value=2, labels={"status": "503"}),
    ]

    assert datapoints(rule, samples, 300)[-1] == pytest.approx(0.005)


def _load_times(end: float, slow: int, total: int) -> list[Sample]:
    return [
        Sample(at=end - i, metric="widget_load_seconds", value=2.5 if i < slow else 0.4)
        for i in range(total)
    ]


def _slow_windows(slow: int, total: int) -> list[Sample]:
    return [s for end in (300, 600, 900) for s in _load_times(end, slow, total)]


def test_p95_load_time_with_5_percent_slow_loads_stays_quiet():
    assert _state("WidgetLoadSlow", _slow_windows(5, 100), 900) is State.OK


def test_p95_load_time_with_6_percent_slow_loads_fires():
    assert _state("WidgetLoadSlow", _slow_windows(6, 100), 900) is State.ALARM


def test_p95_below_the_minimum_volume_stays_quiet():
    assert _state("WidgetLoadSlow", _slow_windows(19, 19), 900) is State.OK


@pytest.mark.parametrize(
    ("policy", "previous", "expected"),
    [
        (MissingData.NOT_BREACHING, State.ALARM, State.OK),
        (MissingData.BREACHING, State.OK, State.ALARM),
        (MissingData.IGNORE, State.ALARM, State.ALARM),
        (MissingData.IGNORE, State.OK, State.OK),
        (MissingData.MISSING, State.ALARM, State.INSUFFICIENT_DATA),
    ],
)
def test_a_window_without_data_counts_per_the_missing_data_policy(policy, previous, expected):
    rule = replace(RULES["WebhookFailureRate"], missing_data=policy)

    assert datapoints(rule, [], 1800) == [None, None]
    assert decide(rule, [None, None], previous) is expected


def test_partly_missing_data_under_ignore_judges_the_windows_that_exist():
    rule = replace(
        RULES["WebhookFailureRate"], missing_data=MissingData.IGNORE, datapoints_to_alarm=1
    )

    assert decide(rule, [None, 0.5], State.OK) is State.ALARM
    assert decide(rule, [None, 0.1], State.ALARM) is State.OK


def test_every_rule_is_judged_and_all_are_quiet_without_data():
    states = evaluate(RULES.values(), [], 10 * HOUR)

    assert states == dict.fromkeys(RULES, State.OK)


def _deliveries(
    failed_per_minute: int, ok_per_minute: int, minutes: int, end: float
) -> list[Sample]:
    """Delivery attempts, one sample per status and minute, over `minutes` ending at `end`."""
    return [
        Sample(
            at=end - 60 * i, metric="webhook_deliveries_total", value=value, labels={"status": s}
        )
        for i in range(minutes)
        for s, value in (("failed", failed_per_minute), ("delivered", ok_per_minute))
        if value
    ]


SIX_HOURS = 6 * HOUR


def test_the_webhook_slo_fires_when_both_windows_burn_the_budget_twice_too_fast():
    # 15% failing for six hours, still failing now.
    assert (
        _state("WebhookDeliverySlo", _deliveries(3, 17, 360, SIX_HOURS), SIX_HOURS) is State.ALARM
    )


def test_the_webhook_slo_clears_once_the_short_window_recovers():
    # The same burn, but the last hour delivered everything: the budget was spent, not being spent.
    samples = _deliveries(3, 17, 300, SIX_HOURS - HOUR) + _deliveries(0, 20, 60, SIX_HOURS)

    assert datapoints(RULES["WebhookDeliverySlo"], samples, SIX_HOURS)[0] > 0.10
    assert _state("WebhookDeliverySlo", samples, SIX_HOURS) is State.OK


def test_a_short_burst_does_not_fire_the_webhook_slo():
    # Half an hour of 50% failures after a clean day: WebhookFailureRate's business, not the SLO's.
    samples = _deliveries(0, 20, 330, SIX_HOURS - 1800) + _deliveries(10, 10, 30, SIX_HOURS)

    assert datapoints(RULES["WebhookDeliverySlo"], samples, SIX_HOURS)[1] == 0.5
    assert _state("WebhookDeliverySlo", samples, SIX_HOURS) is State.OK


def test_the_webhook_slo_stays_quiet_at_a_sustainable_failure_rate():
    assert _state("WebhookDeliverySlo", _deliveries(1, 19, 360, SIX_HOURS), SIX_HOURS) is State.OK
