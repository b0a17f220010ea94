"""Day-by-day analytics for the portal: every series from the stored rows, per UTC day, per
merchant; the questions; and the CSV exports a merchant opens in a spreadsheet."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.db.models import (
    ChatMessage,
    ChatSession,
    SyncRun,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEvent,
    WidgetEvent,
)
from app.ids import new_id
from app.services.analytics_series import (
    DailyAnalytics,
    InvalidRange,
    Question,
    check_range,
    daily_analytics,
    questions_csv,
    series_csv,
)
from tests.conftest import new_merchant

NOV_1 = datetime(2026, 11, 1, tzinfo=UTC)


def at(day: int, hour: int = 12, second: int = 0) -> datetime:
    return NOV_1 + timedelta(days=day - 1, hours=hour, seconds=second)


def beacon(merchant_id: str, kind: str, when: datetime, ms: float | None = None) -> WidgetEvent:
    return WidgetEvent(merchant_id=merchant_id, type=kind, duration_ms=ms, created_at=when)


def seed(client: TestClient, rows: list[Any]) -> None:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def insert() -> None:
        async with sessions() as session:
            for row in rows:  # in order: foreign keys point at earlier rows
                session.add(row)
                await session.flush()
            await session.commit()

    client.portal.call(insert)  # type: ignore[union-attr]


def analytics(client: TestClient, merchant_id: str, first: date, last: date) -> DailyAnalytics:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def read() -> DailyAnalytics:
        async with sessions() as session:
            return await daily_analytics(session, merchant_id, first, last)

    return client.portal.call(read)  # type: ignore[union-attr]


def chat(
    merchant_id: str, key: str, when: datetime, turns: list[tuple[str, list[Any]]]
) -> list[Any]:
    session = ChatSession(id=f"ses_{key}", merchant_id=merchant_id, created_at=when)
    rows: list[Any] = [session]
    for n, (question, products) in enumerate(turns):
        stamp = when + timedelta(seconds=n)
        for role, content, cards in (("user", question, []), ("assistant", "...", products)):
            rows.append(
                ChatMessage(
                    id=f"msg_{key}{len(rows):03d}",
                    session_id=session.id,
                    merchant_id=merchant_id,
                    role=role,
                    content=content,
                    products=cards,
                    created_at=stamp,
                )
            )
    return rows


def webhook_rows(merchant_id: str, when: datetime, statuses: list[str]) -> list[Any]:
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        merchant_id=merchant_id,
        url="https://hooks.example.com/",
        event_types=[],
        secret="whsec_x",
    )
    event = WebhookEvent(
        id=new_id("evt"), merchant_id=merchant_id, type="sync.failed", payload="{}"
    )
    return [
        endpoint,
        event,
        *(
            WebhookAttempt(
                id=new_id("att"),
                merchant_id=merchant_id,
                event_id=event.id,
                endpoint_id=endpoint.id,
                event_type=event.type,
                attempt=n + 1,
                trigger="event",
                status=status,
                attempted_at=None if status == "pending" else when,
            )
            for n, status in enumerate(statuses)
        ),
    ]


def run(merchant_id: str, status: str, finished: datetime | None) -> SyncRun:
    return SyncRun(
        id=new_id("run"),
        merchant_id=merchant_id,
        source="upload",
        trigger="upload",
        status=status,
        mode="incremental",
        finished_at=finished,
    )


def test_every_series_is_counted_per_utc_day_for_this_merchant_only(client: TestClient) -> None:
    me, other = new_merchant(client).id, new_merchant(client).id
    product = [{"id": "prd_1", "title": "Tent"}]
    seed(
        client,
        [
            # Day 1 starts at midnight UTC and the day before does not count.
            beacon(me, "widget_loaded", at(1, hour=0), 100),
            *(beacon(me, "widget_loaded", at(1), ms) for ms in (400, 200, 300)),
            beacon(me, "widget_load_failed", at(1, hour=23, second=3599)),
            beacon(me, "widget_loaded", at(0, hour=23, second=3599), 9999),
            beacon(me, "widget_loaded", at(4, hour=0), 9999),
            *(beacon(me, "api_latency", at(1), ms) for ms in (10, 30, 20)),
            beacon(me, "api_error", at(1)),
            beacon(me, "widget_loaded", at(3), 2500),
            beacon(other, "widget_loaded", at(1), 5),  # another merchant's
            *chat(me, "A", at(1), [("Tents?", product), ("socks", [])]),
            *chat(me, "B", at(1), [("  tents? ", [])]),
            *chat(me, "C", at(3), [("mugs", product)]),
            *chat(other, "D", at(1), [("secret question", [])]),
            run(me, "succeeded", at(1)),
            run(me, "failed", at(1)),
            run(me, "unchanged", at(1)),
            run(me, "running", None),
            *webhook_rows(me, at(2), ["succeeded"] * 19 + ["failed", "pending"]),
        ],
    )

    result = analytics(client, me, date(2026, 11, 1), date(2026, 11, 3))

    assert result.days == (date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3))
    assert result.values == {
        "widget_loads": (4, 0, 1),
        "widget_load_failures": (1, 0, 0),
        "widget_load_failure_pct": (20.0, None, 0.0),
        "load_p50_ms": (200, None, 2500),
        "load_p95_ms": (400, None, 2500),
        "sessions": (2, 0, 1),
        "messages": (3, 0, 1),
        "api_latency_p50_ms": (20, None, None),
        "api_latency_p95_ms": (30, None, None),
        "api_error_pct": (25.0, None, None),
        "sync_success_pct": (66.67, None, None),
        "webhook_delivery_pct": (None, 95.0, None),
    }
    assert result.top_questions == (
        Question("tents?", 2),
        Question("mugs", 1),
        Question("socks", 1),
    )
    assert result.no_product_questions == (Question("socks", 1), Question("tents?", 1))


def test_a_day_range_must_run_forward_and_stay_bounded() -> None:
    with pytest.raises(InvalidRange, match="start date must not be after the end date"):
        check_range(date(2026, 11, 2), date(2026, 11, 1))
    with pytest.raises(InvalidRange, match="at most 400 days"):
        check_range(date(2025, 1, 1), date(2026, 11, 1))
    check_range(date(2026, 11, 1), date(2026, 11, 1))  # a single day is a range


def test_a_group_exports_as_csv_one_row_per_day_with_blanks_for_no_data(
    client: TestClient,
) -> None:
    me = new_merchant(client).id
    seed(
        client,
        [
            beacon(me, "widget_loaded", at(1), 120),
            beacon(me, "widget_load_failed", at(1)),
            beacon(me, "widget_loaded", at(3), 90),
        ],
    )
    result = analytics(client, me, date(2026, 11, 1), date(2026, 11, 3))
    text = series_csv(result, "widget-loads")
    assert text == (
        "date,widget_loads,widget_load_failures,widget_load_failure_pct\r\n"
        "2026-11-01,1,1,50.0\r\n"
        "2026-11-02,0,0,\r\n"
        "2026-11-03,1,0,0.0\r\n"
    )
    assert series_csv(result, "load-time").splitlines()[1:] == [
        "2026-11-01,120.0,120.0",
        "2026-11-02,,",
        "2026-11-03,90.0,90.0",
    ]


def test_questions_export_cannot_smuggle_spreadsheet_formulas() -> None:
    text = questions_csv(
        [Question('=HYPERLINK("http://evil")', 3), Question("-1+2", 2), Question("tents", 1)]
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["question", "count"],
        ['\'=HYPERLINK("http://evil")', "3"],
        ["'-1+2", "2"],
        ["tents", "1"],
    ]
