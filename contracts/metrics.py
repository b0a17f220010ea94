"""The published-metric contract: what the app sends to CloudWatch and what the alarms query.

`app.cloudwatch` publishes from `PUBLISHED_METRICS`; `alerts/` builds every CloudWatch alarm
query from it. Keeping the table here, with no imports, lets the Pulumi program render alarms
without loading the app or prometheus_client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENVIRONMENT_DIMENSION", "PUBLISHED_METRICS", "PublishedMetric", "published_metric"]

ENVIRONMENT_DIMENSION = "Environment"


@dataclass(frozen=True, slots=True)
class PublishedMetric:
    """One Prometheus series family as CloudWatch sees it.

    Every metric is sent once as the total over all labels (dimension `Environment` only) and,
    for each label in `breakdown`, once per label value: CloudWatch cannot sum across dimensions,
    so the alarms need both the part (`Status=failed`) and the whole.
    """

    series: str
    name: str
    breakdown: tuple[str, ...] = ()
    unit: str = "Count"

    def dimensions(
        self, environment: str, labels: Mapping[str, str] | None = None
    ) -> list[dict[str, str]]:
        dims = [{"Name": ENVIRONMENT_DIMENSION, "Value": environment}]
        for label, value in sorted((labels or {}).items()):
            if label not in self.breakdown:
                raise ValueError(f"{self.series} is not published by {label!r}")
            dims.append({"Name": label.capitalize(), "Value": value})
        return dims


# Labels become dimensions only where an alarm splits by them; each one multiplies the number of
# custom metrics AWS bills for.
PUBLISHED_METRICS: tuple[PublishedMetric, ...] = (
    PublishedMetric("http_requests_total", "HttpRequests"),
    PublishedMetric("cors_rejections_total", "CorsRejections"),
    PublishedMetric("ratelimit_backend_errors_total", "RateLimitBackendErrors"),
    PublishedMetric("sync_runs_total", "SyncRuns", ("status",)),
    PublishedMetric("sync_rows_total", "SyncRows"),
    PublishedMetric("widget_loads_total", "WidgetLoads", ("status",)),
    PublishedMetric("webhook_deliveries_total", "WebhookDeliveries", ("status",)),
    PublishedMetric("deprecated_calls_total", "DeprecatedCalls"),
    PublishedMetric("widget_load_seconds", "WidgetLoadTime", unit="Seconds"),
    PublishedMetric("http_request_duration_seconds", "ApiLatency", unit="Seconds"),
)
PUBLISHED_BY_SERIES = {metric.series: metric for metric in PUBLISHED_METRICS}


def published_metric(series: str) -> PublishedMetric:
    try:
        return PUBLISHED_BY_SERIES[series]
    except KeyError:
        raise KeyError(f"{series} is not published to CloudWatch (see PUBLISHED_METRICS)") from None
