"""The CloudWatch publisher against moto server: what it sends is what the alarms read."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from prometheus_client import CollectorRegistry, Counter, Histogram

from alerts.cloudwatch import alarm_specs
from alerts.rules import load_rules
from app import metrics
from app.cloudwatch import BATCH_SIZE, CloudWatchPublisher
from contracts.metrics import PUBLISHED_METRICS

pytestmark = pytest.mark.aws

REGION = "eu-west-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto_url: str) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_url


@pytest.fixture
def cloudwatch(aws_env: str):
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=aws_env)


@pytest.fixture
def namespace() -> str:
    # A namespace per test: moto keeps every datapoint for the module's lifetime.
    return f"RagAssistTest{uuid.uuid4().hex[:8]}"


@pytest.fixture
def env() -> str:
    # And an environment per test: moto's dimension filter ignores the namespace.
    return f"test-{uuid.uuid4().hex[:8]}"


def _sum(cloudwatch, namespace: str, name: str, dims: dict[str, str], stat: str = "Sum") -> float:
    now = datetime.now(UTC)
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": 7200,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(hours=1),
    )
    return sum(result["MetricDataResults"][0]["Values"])


def _identities(cloudwatch, namespace: str) -> set[tuple[str, frozenset]]:
    pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace)
    return {
        (metric["MetricName"], frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"]))
        for page in pages
        for metric in page["Metrics"]
    }


def _registry_total(series: str, **match: str) -> float:
    """The app registry's cumulative value of `series`, summed over samples matching `match`."""
    return sum(
        sample.value
        for family in metrics.REGISTRY.collect()
        for sample in family.samples
        if sample.name == series and all(sample.labels.get(k) == v for k, v in match.items())
    )


def test_what_the_app_publishes_is_exactly_what_the_alarms_query(cloudwatch, namespace, env):
    metrics.SYNC_RUNS.labels("upload", "failed").inc(3)
    metrics.SYNC_RUNS.labels("feed", "succeeded").inc(7)
    metrics.WIDGET_LOADS.labels("failed").inc(2)
    metrics.WIDGET_LOADS.labels("ok").inc(38)
    metrics.WEBHOOK_DELIVERIES.labels("failed").inc()
    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc(9)
    metrics.CORS_REJECTIONS.labels("widget").inc(4)
    metrics.WIDGET_LOAD_SECONDS.observe(0.3)
    publisher = CloudWatchPublisher(namespace, environment=env, client=cloudwatch)

    assert publisher.flush() > 0
    specs = alarm_specs(
        load_rules(),
        prefix="ragassist-prod",
        namespace=namespace,
        environment=env,
        resources={"LoadBalancer": "app/ragassist/0123456789abcdef"},
    )
    queried = [
        query["MetricStat"]
        for spec in specs
        for query in spec.metrics
        if "MetricStat" in query and query["MetricStat"]["Metric"]["Namespace"] == namespace
    ]
    published = _identities(cloudwatch, namespace)

    # Every metric an app alarm reads exists under that exact name and dimension set...
    for stat in queried:
        metric = stat["Metric"]
        identity = (
            metric["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in metric["Dimensions"]),
        )
        assert identity in published, identity
    # ...every dimension the app publishes is one the alarms use (no unbounded extras)...
    used = {d["Name"] for stat in queried for d in stat["Metric"]["Dimensions"]}
    assert {name for _, dims in published for name, _ in dims} == used == {"Environment", "Status"}
    # ...and what the alarms' Sum queries read is what the app counted.
    for stat in (s for s in queried if s["Stat"] == "Sum"):
        metric = stat["Metric"]
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        (published_metric,) = [m for m in PUBLISHED_METRICS if m.name == metric["MetricName"]]
        match = {k.lower(): v for k, v in dims.items() if k != "Environment"}
        expected = _registry_total(published_metric.series, **match)
        assert _sum(cloudwatch, namespace, metric["MetricName"], dims) == expected, metric


def test_a_flush_sends_only_the_increase_and_zeros_for_quiet_series(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    runs = Counter("sync_runs", "runs", ["source", "status"], registry=registry)
    runs.labels("upload", "failed").inc(2)
    runs.labels("upload", "succeeded").inc(8)
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch
    )
    publisher.flush()

    runs.labels("feed", "failed").inc(1)
    sent = publisher.flush()

    assert sent == 3  # total, Status=failed, Status=succeeded (the latter a zero)
    assert _sum(cloudwatch, namespace, "SyncRuns", {"Environment": env}) == 11
    assert _sum(cloudwatch, namespace, "SyncRuns", {"Environment": env, "Status": "failed"}) == 3
    failed = _sum(
        cloudwatch, namespace, "SyncRuns", {"Environment": env, "Status": "failed"}, "SampleCount"
    )
    assert failed == 2  # one datapoint per flush, the second carrying only the new run


def test_unpublished_metrics_and_labels_stay_home(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    Counter("something_else", "not in the table", registry=registry).inc()
    Counter("cors_rejections", "rejections", ["audience"], registry=registry).labels("admin").inc(5)
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch
    )

    publisher.flush()

    assert _identities(cloudwatch, namespace) == {
        ("CorsRejections", frozenset({("Environment", env)}))
    }


def test_many_series_go_out_in_batches_within_the_api_limit(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    runs = Counter("sync_runs", "runs", ["source", "status"], registry=registry)
    for index in range(45):
        runs.labels("upload", f"status{index}").inc()
    sizes: list[int] = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: sizes.append(len(params["MetricData"])),
    )
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch
    )

    assert publisher.flush() == 46
    assert sizes == [BATCH_SIZE, BATCH_SIZE, 6]


class Flaky:
    """The moto client, except that the calls numbered in `fail_on` cannot connect."""

    def __init__(self, client, fail_on: set[int]) -> None:
        self.client = client
        self.fail_on = fail_on
        self.calls = 0

    def put_metric_data(self, **kwargs):
        self.calls += 1
        if self.calls in self.fail_on:
            raise EndpointConnectionError(endpoint_url="https://monitoring.eu-west-1.amazonaws.com")
        return self.client.put_metric_data(**kwargs)


def test_a_failed_flush_is_counted_and_its_increase_sent_later(cloudwatch, namespace, caplog, env):
    registry = CollectorRegistry()
    Counter("cors_rejections", "rejections", registry=registry).inc(7)
    client = Flaky(cloudwatch, fail_on={1})
    publisher = CloudWatchPublisher(namespace, environment=env, registry=registry, client=client)

    assert publisher.flush() == 0
    assert publisher.failed_flushes == 1
    assert "CloudWatch flush failed" in caplog.text
    assert publisher.flush() == 1
    assert _sum(cloudwatch, namespace, "CorsRejections", {"Environment": env}) == 7


def test_a_batch_that_failed_midway_is_resent_without_double_counting(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    runs = Counter("sync_runs", "runs", ["source", "status"], registry=registry)
    for index in range(30):
        runs.labels("upload", f"status{index}").inc()
    client = Flaky(cloudwatch, fail_on={2})
    publisher = CloudWatchPublisher(namespace, environment=env, registry=registry, client=client)

    assert publisher.flush() == BATCH_SIZE
    assert publisher.flush() == 31  # everything again: the first batch with zeros

    assert _sum(cloudwatch, namespace, "SyncRuns", {"Environment": env}) == 30
    for index in range(30):
        dims = {"Environment": env, "Status": f"status{index}"}
        assert _sum(cloudwatch, namespace, "SyncRuns", dims) == 1


def test_load_times_are_sent_as_bucket_bounds_for_percentiles(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    seconds = Histogram(
        "widget_load_seconds", "load", buckets=(0.5, 1.0, 2.0, 3.0, 10.0), registry=registry
    )
    for value in (0.2, 0.4, 1.5, 2.5, 60.0):
        seconds.observe(value)
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch
    )
    bodies: list[dict] = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: bodies.extend(params["MetricData"]),
    )

    publisher.flush()
    publisher.flush()  # nothing new: no empty datum

    (datum,) = bodies
    assert datum["MetricName"] == "WidgetLoadTime" and datum["Unit"] == "Seconds"
    # 60 s is beyond the last bound; like histogram_quantile it reads as the largest bound.
    assert dict(zip(datum["Values"], datum["Counts"], strict=True)) == {
        0.5: 2,
        2.0: 1,
        3.0: 1,
        10.0: 1,
    }
    dims = {"Environment": env}
    assert _sum(cloudwatch, namespace, "WidgetLoadTime", dims, "SampleCount") == 5
    assert _sum(cloudwatch, namespace, "WidgetLoadTime", dims, "Maximum") == 10.0


def test_api_latency_is_published_for_its_p95(cloudwatch, namespace, env):
    # The app's own request tally, as the middleware feeds it, in a registry of its own.
    registry = CollectorRegistry()
    traffic = metrics.HttpTraffic(buckets=(0.05, 0.1, 0.25, 0.5, 1.0))
    registry.register(traffic)
    for route, seconds in [("/api/keys", 0.01)] * 18 + [("/api/chat/sessions", 0.3)] * 2:
        traffic.observe("GET", route, "200", seconds)
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch
    )

    bodies: list[dict] = []
    cloudwatch.meta.events.register(
        "provide-client-params.cloudwatch.PutMetricData",
        lambda params, **_: bodies.extend(params["MetricData"]),
    )

    publisher.flush()

    (datum,) = [datum for datum in bodies if datum["MetricName"] == "ApiLatency"]
    # Each request at its bucket's bound, every route together: CloudWatch's p95 of these is
    # 0.5 s (the 19th of 20), the dashboard's "API p95" (moto computes no percentiles).
    assert dict(zip(datum["Values"], datum["Counts"], strict=True)) == {0.05: 18, 0.5: 2}
    assert datum["Unit"] == "Seconds" and datum["Dimensions"] == [
        {"Name": "Environment", "Value": env}
    ]
    dims = {"Environment": env}
    assert _sum(cloudwatch, namespace, "ApiLatency", dims, "SampleCount") == 20
    assert _sum(cloudwatch, namespace, "ApiLatency", dims, "Maximum") == 0.5


def test_without_a_client_it_uses_the_standard_aws_settings(aws_env, cloudwatch, namespace, env):
    registry = CollectorRegistry()
    Counter("deprecated_calls", "calls", ["route"], registry=registry).labels("/api/sessions").inc(
        2
    )
    publisher = CloudWatchPublisher(namespace, environment=env, registry=registry)

    assert publisher.flush() == 1
    assert _sum(cloudwatch, namespace, "DeprecatedCalls", {"Environment": env}) == 2


def test_missing_aws_configuration_is_logged_not_raised(monkeypatch, namespace):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    publisher = CloudWatchPublisher(namespace, environment=env, registry=CollectorRegistry())

    assert publisher.flush() == 0
    assert publisher.failed_flushes == 1


def test_run_flushes_every_interval_and_close_sends_the_rest(cloudwatch, namespace, env):
    registry = CollectorRegistry()
    rejections = Counter("cors_rejections", "rejections", registry=registry)
    publisher = CloudWatchPublisher(
        namespace, environment=env, registry=registry, client=cloudwatch, interval_seconds=0.05
    )

    async def scenario() -> None:
        task = asyncio.create_task(publisher.run())
        rejections.inc(3)
        await asyncio.sleep(0.3)
        rejections.inc(2)  # after the last tick: only close() can send it
        await publisher.close()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(scenario())

    dims = {"Environment": env}
    assert _sum(cloudwatch, namespace, "CorsRejections", dims) == 5
    assert _sum(cloudwatch, namespace, "CorsRejections", dims, "SampleCount") >= 3


@pytest.mark.parametrize(
    ("namespace", "environment", "interval", "message"),
    [
        ("", "prod", 60.0, "namespace"),
        ("AWS/ApplicationELB", "prod", 60.0, "custom namespace"),
        ("RagAssist", "", 60.0, "environment"),
        ("RagAssist", "prod", 0.0, "interval_seconds"),
    ],
)
def test_bad_construction_fails_fast(namespace, environment, interval, message):
    with pytest.raises(ValueError, match=message):
        CloudWatchPublisher(namespace, environment=environment, interval_seconds=interval)


@pytest.mark.aws
def test_the_app_publishes_its_counters_when_it_shuts_down(cloudwatch, namespace, env, backend):
    # Wiring: with CLOUDWATCH_NAMESPACE set, the platform runs the publisher and flushes the
    # requests it served on shutdown, so the last minute before a deploy is not lost.
    from starlette.testclient import TestClient

    from app.main import create_app
    from tests.conftest import make_settings

    settings = make_settings(backend, CLOUDWATCH_NAMESPACE=namespace, RAGASSIST_ENV=env)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
    assert _sum(cloudwatch, namespace, "HttpRequests", {"Environment": env}) >= 3
