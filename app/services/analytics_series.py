"""Day-by-day analytics for the portal's charts and their CSV exports (seed Tasks 4.1, 4.2).

The same sources as `app.services.analytics.summarize`, bucketed by UTC day: the widget's
beacons (loads, failures, load times, the API latency and errors it saw), chat sessions and
questions, sync runs and webhook delivery attempts; plus the questions shoppers ask most and
those whose reply showed no product. Each query groups in the database, so a month of a busy
merchant costs a handful of grouped scans, not a row per beacon in Python; the percentiles
use `percentile_disc` on PostgreSQL (nearest rank, as `analytics.percentile` computes it).
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.db.models import ChatMessage, ChatSession, SyncRun, WebhookAttempt, WidgetEvent
from app.services.analytics import _SYNC_FAILED, _SYNC_SUCCEEDED, percentile

__all__ = [
    "GROUPS",
    "MAX_DAYS",
    "SERIES",
    "DailyAnalytics",
    "InvalidRange",
    "Question",
    "SeriesInfo",
    "daily_analytics",
    "questions_csv",
    "series_csv",
]

MAX_DAYS = 400  # as the API's summary window (app/routes/analytics.py MAX_WINDOW)
TOP_QUESTIONS = 10
LOAD_BUDGET_MS = 2000.0  # the WidgetLoadSlow alert's threshold (alerts/rules.yaml)
DELIVERY_OBJECTIVE_PCT = 95.0
_QUESTION_CHARS = 200  # what a table cell shows of a long question


class InvalidRange(ValueError):
    """The dates do not make a range the page can show; the message says why."""


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    key: str
    label: str
    unit: str  # "", "%" or " ms"


SERIES: dict[str, SeriesInfo] = {
    info.key: info
    for info in (
        SeriesInfo("widget_loads", "Widget loads", ""),
        SeriesInfo("widget_load_failures", "Widget load failures", ""),
        SeriesInfo("widget_load_failure_pct", "Load failures", "%"),
        SeriesInfo("load_p50_ms", "Load time p50", " ms"),
        SeriesInfo("load_p95_ms", "Load time p95", " ms"),
        SeriesInfo("sessions", "Chat sessions", ""),
        SeriesInfo("messages", "Questions asked", ""),
        SeriesInfo("api_latency_p50_ms", "API latency p50", " ms"),
        SeriesInfo("api_latency_p95_ms", "API latency p95", " ms"),
        SeriesInfo("api_error_pct", "API error rate", "%"),
        SeriesInfo("sync_success_pct", "Sync success rate", "%"),
        SeriesInfo("webhook_delivery_pct", "Webhook delivery rate", "%"),
    )
}

# The series each chart shows together, and so each CSV export holds.
GROUPS: dict[str, tuple[str, ...]] = {
    "widget-loads": ("widget_loads", "widget_load_failures", "widget_load_failure_pct"),
    "load-time": ("load_p50_ms", "load_p95_ms"),
    "chat": ("sessions", "messages"),
    "api": ("api_latency_p50_ms", "api_latency_p95_ms", "api_error_pct"),
    "sync": ("sync_success_pct",),
    "webhooks": ("webhook_delivery_pct",),
}


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    count: int


@dataclass(frozen=True, slots=True)
class DailyAnalytics:
    first: date
    last: date
    days: tuple[date, ...]
    values: dict[str, tuple[float | None, ...]]  # series key -> one value per day
    top_questions: tuple[Question, ...] = ()
    no_product_questions: tuple[Question, ...] = ()

    def series(self, key: str) -> tuple[float | None, ...]:
        return self.values[key]


def check_range(first: date, last: date) -> None:
    if last < first:
        raise InvalidRange("the start date must not be after the end date")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRange(f"a range may span at most {MAX_DAYS} days")


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp, as text `YYYY-MM-DD` on both backends."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.date(column)  # SQLite stores UTC text already


def _pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 2) if whole else None


async def daily_analytics(
    session: AsyncSession, merchant_id: str, first: date, last: date
) -> DailyAnalytics:
    """Every series from `first` to `last` (UTC days, both included)."""
    check_range(first, last)
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    dialect = session.get_bind().dialect.name
    days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))

    async def grouped(model: Any, stamp: Any, key: Any, *where: Any) -> dict[tuple[str, Any], int]:
        """Rows counted per (day, key); `key` None: per day only, as (day, None)."""
        day = _day(stamp, dialect)
        keys = (day,) if key is None else (day, key)
        rows = await session.execute(
            select(*keys, func.count())
            .where(model.merchant_id == merchant_id, stamp >= start, stamp < end, *where)
            .group_by(*keys)
        )
        return {(row[0], None if key is None else row[1]): int(row[-1]) for row in rows.all()}

    events = await grouped(WidgetEvent, WidgetEvent.created_at, WidgetEvent.type)
    chats = await grouped(ChatSession, ChatSession.created_at, None)
    asked = await grouped(
        ChatMessage, ChatMessage.created_at, ChatMessage.role, ChatMessage.role == "user"
    )
    runs = await grouped(SyncRun, SyncRun.finished_at, SyncRun.status)
    attempts = await grouped(
        WebhookAttempt,
        WebhookAttempt.attempted_at,
        WebhookAttempt.status,
        WebhookAttempt.status.in_(("succeeded", "failed")),
    )
    loads = await _percentiles(session, merchant_id, "widget_loaded", start, end, dialect)
    latency = await _percentiles(session, merchant_id, "api_latency", start, end, dialect)

    columns: dict[str, list[float | None]] = defaultdict(list)
    for day in days:
        d = day.isoformat()
        ok, failed = events.get((d, "widget_loaded"), 0), events.get((d, "widget_load_failed"), 0)
        errors = events.get((d, "api_error"), 0)
        calls = events.get((d, "api_latency"), 0) + errors
        won = sum(runs.get((d, s), 0) for s in _SYNC_SUCCEEDED)
        ran = won + sum(runs.get((d, s), 0) for s in _SYNC_FAILED)
        sent = attempts.get((d, "succeeded"), 0)
        tried = sent + attempts.get((d, "failed"), 0)
        row: dict[str, float | None] = {
            "widget_loads": ok,
            "widget_load_failures": failed,
            "widget_load_failure_pct": _pct(failed, ok + failed),
            "load_p50_ms": loads.get(d, (None, None))[0],
            "load_p95_ms": loads.get(d, (None, None))[1],
            "sessions": chats.get((d, None), 0),
            "messages": asked.get((d, "user"), 0),
            "api_latency_p50_ms": latency.get(d, (None, None))[0],
            "api_latency_p95_ms": latency.get(d, (None, None))[1],
            "api_error_pct": _pct(errors, calls),
            "sync_success_pct": _pct(won, ran),
            "webhook_delivery_pct": _pct(sent, tried),
        }
        for key in SERIES:
            columns[key].append(row[key])
    top, no_product = await _questions(session, merchant_id, start, end)
    return DailyAnalytics(
        first=first,
        last=last,
        days=days,
        values={key: tuple(columns[key]) for key in SERIES},
        top_questions=top,
        no_product_questions=no_product,
    )


async def _percentiles(
    session: AsyncSession, merchant_id: str, kind: str, start: datetime, end: datetime, dialect: str
) -> dict[str, tuple[float | None, float | None]]:
    """Per day: (p50, p95) of the beacons' `duration_ms`."""
    day = _day(WidgetEvent.created_at, dialect)
    where = (
        WidgetEvent.merchant_id == merchant_id,
        WidgetEvent.type == kind,
        WidgetEvent.created_at >= start,
        WidgetEvent.created_at < end,
        WidgetEvent.duration_ms.is_not(None),
    )
    if dialect == "postgresql":
        rows = await session.execute(
            select(
                day,
                func.percentile_disc(0.5).within_group(WidgetEvent.duration_ms),
                func.percentile_disc(0.95).within_group(WidgetEvent.duration_ms),
            )
            .where(*where)
            .group_by(day)
        )
        return {d: (p50, p95) for d, p50, p95 in rows.all()}
    by_day: dict[str, list[float]] = defaultdict(list)
    for d, value in await session.execute(select(day, WidgetEvent.duration_ms).where(*where)):
        by_day[d].append(value)
    return {d: (percentile(sorted(v), 0.5), percentile(sorted(v), 0.95)) for d, v in by_day.items()}


async def _questions(
    session: AsyncSession, merchant_id: str, start: datetime, end: datetime
) -> tuple[tuple[Question, ...], tuple[Question, ...]]:
    """The most asked questions, and those whose reply listed no product."""
    text = func.lower(func.trim(ChatMessage.content))
    in_window = (
        ChatMessage.merchant_id == merchant_id,
        ChatMessage.created_at >= start,
        ChatMessage.created_at < end,
    )
    count = func.count().label("n")
    top = await session.execute(
        select(text, count)
        .where(*in_window, ChatMessage.role == "user")
        .group_by(text)
        .order_by(count.desc(), text)
        .limit(TOP_QUESTIONS)
    )
    # A reply follows its question in the session (ids sort by time): pair them with lag().
    turns = (
        select(
            ChatMessage.role,
            cast(ChatMessage.products, String).label("products"),
            func.lag(ChatMessage.role)
            .over(partition_by=ChatMessage.session_id, order_by=ChatMessage.id)
            .label("asked_role"),
            func.lag(text)
            .over(partition_by=ChatMessage.session_id, order_by=ChatMessage.id)
            .label("question"),
        )
        .where(*in_window)
        .subquery()
    )
    missed_count = func.count().label("n")
    missed = await session.execute(
        select(turns.c.question, missed_count)
        .where(
            and_(
                turns.c.role == "assistant",
                turns.c.asked_role == "user",
                turns.c.products == "[]",
            )
        )
        .group_by(turns.c.question)
        .order_by(missed_count.desc(), turns.c.question)
        .limit(TOP_QUESTIONS)
    )
    return _as_questions(top.all()), _as_questions(missed.all())


def _as_questions(rows: Iterable[Any]) -> tuple[Question, ...]:
    return tuple(Question(str(text)[:_QUESTION_CHARS], int(n)) for text, n in rows)


def _cell(value: object) -> object:
    # Shoppers write the questions: a cell starting with =, +, - or @ would run as a formula
    # in a spreadsheet (CSV injection), so such text is quoted as text.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def series_csv(analytics: DailyAnalytics, group: str) -> str:
    """One row per day: the date, then each series of the group (empty: no data that day)."""
    keys = GROUPS[group]
    return _csv(
        ["date", *keys],
        (
            [
                day.isoformat(),
                *("" if analytics.values[k][i] is None else analytics.values[k][i] for k in keys),
            ]
            for i, day in enumerate(analytics.days)
        ),
    )


def questions_csv(questions: Sequence[Question]) -> str:
    return _csv(["question", "count"], ([q.text, q.count] for q in questions))
