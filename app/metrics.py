"""Every metric the app exports, in one registry.

Names and labels are the contract with `alerts/` (DESIGN §12): alarms, Prometheus rules and the
CloudWatch publisher all refer to these names, so they are defined once, here. Labels stay
bounded: route templates, never raw paths or ids.
"""

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)


class HttpTraffic(Collector):
    """`http_requests_total` and `http_request_duration_seconds`, tallied in plain dicts.

    These two change on every request, where prometheus_client's per-sample locks and checks
    cost more than the rest of the bookkeeping. Requests are counted on the event loop's
    thread alone, so plain numbers do; a scrape or the CloudWatch publisher (in a worker
    thread) reads copies. Exported through a collector, prometheus_client's way of exposing
    numbers kept elsewhere, with the same names, labels and buckets as before.
    """

    REQUESTS = "http_requests_total"
    DURATION = "http_request_duration_seconds"
    LABELS: dict[str, tuple[str, ...]] = {
        REQUESTS: ("method", "route", "status"),
        DURATION: ("method", "route"),
    }

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self._requests: dict[tuple[str, str, str], int] = {}
        # Per (method, route): a count per bucket (not cumulative), then the sum of seconds.
        self._durations: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        counts = self._durations.get((method, route))
        if counts is None:
            counts = self._durations[(method, route)] = [0.0] * (len(self.buckets) + 2)
        counts[bisect_left(self.buckets, seconds)] += 1
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            self.REQUESTS,
            "HTTP requests answered, by method, route template and status code.",
            labels=self.LABELS[self.REQUESTS],
        )
        for labels, count in self._requests.copy().items():
            requests.add_metric(labels, count)
        yield requests
        durations = HistogramMetricFamily(
            self.DURATION,
            "Time from request received to response finished, by method and route template.",
            labels=self.LABELS[self.DURATION],
        )
        bounds = [str(bound) for bound in self.buckets] + ["+Inf"]
        for route_labels, counts in self._durations.copy().items():
            *per_bucket, total = list(counts)
            durations.add_metric(
                route_labels, list(zip(bounds, accumulate(per_bucket), strict=True)), total
            )
        yield durations


HTTP_TRAFFIC = HttpTraffic(buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
REGISTRY.register(HTTP_TRAFFIC)
CORS_REJECTIONS = Counter(
    "cors_rejections_total",
    "Cross-origin requests refused because the Origin is not allowed, by audience.",
    ["audience"],
    registry=REGISTRY,
)
RATELIMIT_BACKEND_ERRORS = Counter(
    "ratelimit_backend_errors_total",
    "Rate-limit decisions that failed open because the backend (Redis) was unreachable.",
    registry=REGISTRY,
)
SYNC_RUNS = Counter(
    "sync_runs_total",
    "Catalog sync runs finished, by source (upload, feed, webhook) and final status.",
    ["source", "status"],
    registry=REGISTRY,
)
SYNC_ROWS = Counter(
    "sync_rows_total",
    "Catalog rows processed by sync runs, by outcome.",
    ["status"],
    registry=REGISTRY,
)
WIDGET_LOADS = Counter(
    "widget_loads_total",
    "Widget load beacons, by status (ok, failed).",
    ["status"],
    registry=REGISTRY,
)
WIDGET_LOAD_SECONDS = Histogram(
    "widget_load_seconds",
    "Widget load time reported by the browser.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Outgoing webhook delivery attempts, by result (delivered, failed).",
    ["status"],
    registry=REGISTRY,
)
DEPRECATED_CALLS = Counter(
    "deprecated_calls_total",
    "Calls to deprecated routes, by route template.",
    ["route"],
    registry=REGISTRY,
)
