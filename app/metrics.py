"""Every metric the app exports, in one registry.

Names and labels are the contract with `alerts/` (DESIGN §12): alarms, Prometheus rules and the
CloudWatch publisher all refer to these names, so they are defined once, here. Labels stay
bounded: route templates, never raw paths or ids.
"""

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request received to response finished, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
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
