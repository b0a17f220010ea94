"""Publish the app's counters to CloudWatch in batches (DESIGN §12).

Prometheus counters are cumulative while CloudWatch sums whatever arrives in a period, so each
flush sends the increase since the last flush that AWS accepted. What is sent, under which name
and dimensions, is `contracts.metrics.PUBLISHED_METRICS`: `alerts/` builds every CloudWatch alarm
query from the same table, so what the app sends and what the alarms read cannot drift apart.

Start it in the lifespan and stop it on shutdown:

    publisher = CloudWatchPublisher(namespace, environment="prod")
    task = asyncio.create_task(publisher.run())
    ...
    await publisher.close()   # final flush; `run()` then returns
    await task
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from app.metrics import REGISTRY
from contracts.metrics import PUBLISHED_BY_SERIES

__all__ = ["BATCH_SIZE", "CloudWatchPublisher"]

log = logging.getLogger(__name__)

# PutMetricData's historical per-call limit; every region (and moto) still accepts it.
BATCH_SIZE = 20


# A cumulative value's identity: metric name, dimensions, and the bucket bound for histograms.
_Key = tuple[str, tuple[tuple[str, str], ...], float | None]


@dataclass(slots=True)
class _Datum:
    body: dict[str, Any]
    covers: dict[_Key, float] = field(default_factory=dict)


class CloudWatchPublisher:
    def __init__(
        self,
        namespace: str,
        *,
        environment: str,
        registry: CollectorRegistry = REGISTRY,
        client: Any | None = None,
        interval_seconds: float = 60.0,
    ) -> None:
        if not namespace or namespace.startswith("AWS/"):
            raise ValueError(f"namespace {namespace!r}: expected a custom namespace like RagAssist")
        if not environment:
            raise ValueError("environment is required: it is the Environment dimension")
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be > 0, got {interval_seconds}")
        self.namespace = namespace
        self.environment = environment
        self.interval_seconds = interval_seconds
        self.failed_flushes = 0
        self._registry = registry
        self._client = client
        self._sent: dict[_Key, float] = {}
        # `close()` may flush while `run()` is mid-flush in its worker thread.
        self._lock = threading.Lock()
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        """Flush every `interval_seconds` until `close()` is called."""
        while True:
            try:
                await asyncio.wait_for(self._stopped.wait(), self.interval_seconds)
                return
            except TimeoutError:
                await asyncio.to_thread(self.flush)

    async def close(self) -> None:
        """Stop `run()` and send what is left, so the last minute before a shutdown counts."""
        self._stopped.set()
        await asyncio.to_thread(self.flush)

    def flush(self) -> int:
        """Send the increase since the last accepted flush; return the datapoints sent.

        Never raises: metrics must not take the app down. A batch AWS refused is logged, counted
        in `failed_flushes`, and its increase stays pending for the next flush.
        """
        sent = 0
        with self._lock:
            try:
                client = self._client or self._connect()
                data = self._data(datetime.now(UTC))
                for start in range(0, len(data), BATCH_SIZE):
                    batch = data[start : start + BATCH_SIZE]
                    client.put_metric_data(
                        Namespace=self.namespace, MetricData=[datum.body for datum in batch]
                    )
                    for datum in batch:
                        self._sent.update(datum.covers)
                    sent += len(batch)
            except Exception:
                self.failed_flushes += 1
                log.warning(
                    "CloudWatch flush failed after %d datapoints; the rest is retried next flush",
                    sent,
                    exc_info=True,
                )
        return sent

    def _connect(self) -> Any:
        import boto3
        from botocore.config import Config

        # Short timeouts: a slow CloudWatch endpoint must not pile up flushes.
        self._client = boto3.client(
            "cloudwatch",
            config=Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"}),
        )
        return self._client

    def _data(self, now: datetime) -> list[_Datum]:
        data: list[_Datum] = []
        for family in self._registry.collect():
            if family.type == "counter":
                data.extend(self._counter_data(family, now))
            elif family.type == "histogram" and family.name in PUBLISHED_BY_SERIES:
                data.extend(self._histogram_data(family, now))
        return data

    def _counter_data(self, family: Any, now: datetime) -> list[_Datum]:
        metric = PUBLISHED_BY_SERIES.get(f"{family.name}_total")
        if metric is None:
            return []
        groups: dict[tuple[tuple[str, str], ...], float] = {(): 0.0}
        for sample in family.samples:
            if sample.name != metric.series:
                continue  # `_created` timestamps
            groups[()] += sample.value
            for label in metric.breakdown:
                group = ((label, sample.labels.get(label, "")),)
                groups[group] = groups.get(group, 0.0) + sample.value
        data = []
        for labels, value in groups.items():
            dims = metric.dimensions(self.environment, dict(labels))
            key: _Key = (metric.name, _frozen(dims), None)
            data.append(
                _Datum(
                    body={
                        "MetricName": metric.name,
                        "Dimensions": dims,
                        "Timestamp": now,
                        "Value": self._increase(key, value),
                        "Unit": metric.unit,
                    },
                    covers={key: value},
                )
            )
        return data

    def _histogram_data(self, family: Any, now: datetime) -> list[_Datum]:
        """One datum with the durations as Values/Counts, so CloudWatch can compute percentiles
        (summed over all labels: the dashboard's API p95 is over every route).

        Each observation is sent as its bucket's upper bound (the +Inf bucket as the largest
        finite bound, as Prometheus' histogram_quantile does), so "p95 > 2 s" holds exactly when
        more than 5% of the loads were slower than the 2 s bucket bound.
        """
        metric = PUBLISHED_BY_SERIES[family.name]
        dims = metric.dimensions(self.environment)
        cumulative: dict[float, float] = {}
        for sample in family.samples:
            if sample.name == f"{family.name}_bucket":
                bound = float(sample.labels["le"])
                cumulative[bound] = cumulative.get(bound, 0.0) + sample.value
        finite = [bound for bound in cumulative if not math.isinf(bound)]
        if not finite:
            return []
        counts: dict[float, float] = {}
        covers: dict[_Key, float] = {}
        below = 0.0
        for bound in sorted(cumulative):
            key: _Key = (metric.name, _frozen(dims), bound)
            covers[key] = cumulative[bound]
            in_bucket = self._increase(key, cumulative[bound]) - below
            below += in_bucket
            if in_bucket > 0:
                value = max(finite) if math.isinf(bound) else bound
                counts[value] = counts.get(value, 0.0) + in_bucket
        if not counts:
            return []
        body = {
            "MetricName": metric.name,
            "Dimensions": dims,
            "Timestamp": now,
            "Values": list(counts),
            "Counts": list(counts.values()),
            "Unit": metric.unit,
        }
        return [_Datum(body=body, covers=covers)]

    def _increase(self, key: _Key, value: float) -> float:
        increase = value - self._sent.get(key, 0.0)
        # A smaller value means the registry was reset: everything in it is new.
        return value if increase < 0 else increase


def _frozen(dims: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((dim["Name"], dim["Value"]) for dim in dims)
