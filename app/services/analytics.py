"""Widget telemetry in, analytics out (DESIGN §11, seed Tasks 4.1 and 4.2).

Beacons from the widget are stored per merchant and feed the Prometheus metrics the alerts
watch (`widget_loads_total{status}`, `widget_load_seconds`). The summary combines them with
chat sessions and messages and with sync runs over a time window.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ChatMessage, ChatSession, SyncRun, WidgetEvent, utcnow
from app.metrics import WIDGET_LOAD_SECONDS, WIDGET_LOADS
from app.services.chat.sessions import relax_durability

EVENT_TYPES = ("widget_loaded", "widget_load_failed", "api_error", "api_latency")
# Sync runs that ended, by how: the success rate counts "unchanged" (feed not modified) as a
# success and an interrupted run as a failure, like the ProductSyncFailureRate alert does.
_SYNC_SUCCEEDED = ("succeeded", "unchanged")
_SYNC_FAILED = ("failed", "interrupted")
# Percentiles are computed from at most this many most recent samples per window.
MAX_SAMPLES = 100_000


@dataclass(frozen=True, slots=True)
class Beacon:
    type: str
    duration_ms: float | None = None
    code: str | None = None
    route: str | None = None
    status: int | None = None
    widget_version: str | None = None
    session_id: str | None = None


async def record_beacons(
    session: AsyncSession, merchant_id: str, beacons: Sequence[Beacon], *, origin: str | None
) -> int:
    """Store the beacons. Commits, with relaxed durability: telemetry may lose a crash's last
    beacons. Count them in the metrics (`count_in_metrics`) after this returns."""
    now = utcnow()
    for beacon in beacons:
        session.add(
            WidgetEvent(
                merchant_id=merchant_id,
                type=beacon.type,
                duration_ms=beacon.duration_ms,
                code=beacon.code,
                route=beacon.route,
                status=beacon.status,
                widget_version=beacon.widget_version,
                session_id=beacon.session_id,
                origin=origin,
                created_at=now,
            )
        )
    await relax_durability(session)
    await session.commit()
    return len(beacons)


def count_in_metrics(beacons: Sequence[Beacon]) -> None:
    """After the commit: a beacon that was not stored is not counted either."""
    for beacon in beacons:
        if beacon.type == "widget_loaded":
            WIDGET_LOADS.labels("ok").inc()
            if beacon.duration_ms is not None:
                WIDGET_LOAD_SECONDS.observe(beacon.duration_ms / 1000)
        elif beacon.type == "widget_load_failed":
            WIDGET_LOADS.labels("failed").inc()


@dataclass(frozen=True, slots=True)
class Percentiles:
    p50: float | None
    p95: float | None
    samples: int


@dataclass(frozen=True, slots=True)
class Summary:
    start: datetime
    end: datetime
    sessions: int
    messages: int  # the shoppers' messages (questions), not the replies
    replies_fallback: int  # replies written by `extractive` because the LLM failed
    widget_loads: int
    widget_load_failures: int
    load_time_ms: Percentiles
    api_calls: int
    api_errors: int
    sync_runs: int
    sync_succeeded: int

    @property
    def widget_load_failure_rate(self) -> float | None:
        total = self.widget_loads + self.widget_load_failures
        return self.widget_load_failures / total if total else None

    @property
    def api_error_rate(self) -> float | None:
        return self.api_errors / self.api_calls if self.api_calls else None

    @property
    def sync_success_rate(self) -> float | None:
        return self.sync_succeeded / self.sync_runs if self.sync_runs else None


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (what Prometheus users expect for small samples)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


async def summarize(
    session: AsyncSession, merchant_id: str, start: datetime, end: datetime
) -> Summary:
    async def count(
        model: type[ChatSession] | type[ChatMessage], *conditions: ColumnElement[bool]
    ) -> int:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(model)
                .where(
                    model.merchant_id == merchant_id,
                    model.created_at >= start,
                    model.created_at < end,
                    *conditions,
                )
            )
            or 0
        )

    events = dict(
        (
            await session.execute(
                select(WidgetEvent.type, func.count())
                .where(
                    WidgetEvent.merchant_id == merchant_id,
                    WidgetEvent.created_at >= start,
                    WidgetEvent.created_at < end,
                )
                .group_by(WidgetEvent.type)
            )
        ).all()
    )
    durations = sorted(
        duration
        for duration in (
            await session.scalars(
                select(WidgetEvent.duration_ms)
                .where(
                    WidgetEvent.merchant_id == merchant_id,
                    WidgetEvent.type == "widget_loaded",
                    WidgetEvent.created_at >= start,
                    WidgetEvent.created_at < end,
                    WidgetEvent.duration_ms.is_not(None),
                )
                .order_by(WidgetEvent.created_at.desc())
                .limit(MAX_SAMPLES)
            )
        ).all()
        if duration is not None  # filtered in SQL too; this tells the type checker
    )
    runs = dict(
        (
            await session.execute(
                select(SyncRun.status, func.count())
                .where(
                    SyncRun.merchant_id == merchant_id,
                    SyncRun.finished_at >= start,
                    SyncRun.finished_at < end,
                )
                .group_by(SyncRun.status)
            )
        ).all()
    )
    api_errors = int(events.get("api_error", 0))
    return Summary(
        start=start,
        end=end,
        sessions=await count(ChatSession),
        messages=await count(ChatMessage, ChatMessage.role == "user"),
        replies_fallback=await count(ChatMessage, ChatMessage.fallback.is_(True)),
        widget_loads=int(events.get("widget_loaded", 0)),
        widget_load_failures=int(events.get("widget_load_failed", 0)),
        load_time_ms=Percentiles(
            p50=percentile(durations, 0.5), p95=percentile(durations, 0.95), samples=len(durations)
        ),
        # The widget reports each successful call's latency and each failed call: together
        # they are every call it made.
        api_calls=int(events.get("api_latency", 0)) + api_errors,
        api_errors=api_errors,
        sync_runs=sum(int(runs.get(s, 0)) for s in (*_SYNC_SUCCEEDED, *_SYNC_FAILED)),
        sync_succeeded=sum(int(runs.get(s, 0)) for s in _SYNC_SUCCEEDED),
    )
