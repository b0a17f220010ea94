"""Portal render benchmark for `invoke bench` (issue 10; see ops/bench.py).

A merchant with 100,000 products and 30 days of analytics (widget beacons, chat sessions and
questions, sync runs, webhook deliveries) on PostgreSQL. Each portal page is requested in turn
with the API route that serves the same data as JSON, back to back over kept-alive loopback
connections, and the row compares their p95: a page may take at most 3 times its API route.
Like `chat_round_trip`, the row reads budget / measured (3 times the API's p95 / the page's
p95), so "≥ 1" passes.
"""

import asyncio
import os
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ops import demo_shop
from ops.bench.chat import _variants
from ops.bench.rows import BenchConfig, BenchRow
from ops.databases import migrated_database
from ops.processes import uvicorn_process

PRODUCTS = 100_000
DAYS = 30
PER_DAY = {"widget_loaded": 1500, "widget_load_failed": 15, "api_latency": 1200, "api_error": 12}
SESSIONS_PER_DAY = 200
ATTEMPTS_PER_DAY = 100
MAX_RATIO = 3.0
WARM_UP = 10
# Indexing 100,000 products (the search tsvector's GIN index) outlasts the app's 30 s limit.
COPY_TIMEOUT = 900.0


def _day_rows(
    merchant: str, endpoint: str, event: str, start: datetime
) -> dict[str, list[dict[str, Any]]]:
    """One day of analytics, table by table, ending at `start`."""
    from app.ids import new_id

    timed = ("widget_loaded", "api_latency")
    beacons = [
        {
            "merchant_id": merchant,
            "type": kind,
            "created_at": start - timedelta(seconds=i),
            "duration_ms": float(200 + i % 1800) if kind in timed else None,
        }
        for kind, count in PER_DAY.items()
        for i in range(count)
    ]
    chats: list[dict[str, Any]] = [
        {"id": new_id("ses"), "merchant_id": merchant, "created_at": start - timedelta(minutes=i)}
        for i in range(SESSIONS_PER_DAY)
    ]
    # Ids in time order within a session: the question (…1), then its reply (…2); one reply
    # in five shows no product.
    messages = [
        {
            "id": f"msg_{chat['id'][4:]}{order}",
            "session_id": chat["id"],
            "merchant_id": merchant,
            "role": role,
            "products": [] if n % 5 == 0 else [{"id": "prd_x"}],
            "content": f"question {n % 40}" if role == "user" else "reply",
            "created_at": chat["created_at"],
        }
        for n, chat in enumerate(chats)
        for order, role in ((1, "user"), (2, "assistant"))
    ]
    runs = [
        {
            "id": new_id("run"),
            "merchant_id": merchant,
            "source": "feed",
            "trigger": "schedule",
            "status": status,
            "mode": "incremental",
            "started_at": start - timedelta(minutes=1),
            "finished_at": start,
        }
        for status in ("succeeded", "failed")
    ]
    attempts = [
        {
            "id": new_id("att"),
            "merchant_id": merchant,
            "event_id": event,
            "endpoint_id": endpoint,
            "event_type": "sync.failed",
            "attempt": 1,
            "trigger": "event",
            "status": "failed" if i % 25 == 0 else "succeeded",
            "attempted_at": start - timedelta(seconds=i),
        }
        for i in range(ATTEMPTS_PER_DAY)
    ]
    return {
        "widget_events": beacons,
        "chat_sessions": chats,
        "chat_messages": messages,
        "sync_runs": runs,
        "webhook_attempts": attempts,
    }


async def _seed(database_url: str) -> tuple[str, str, str]:
    """The merchant, a secret key and an owner's portal session token."""
    from sqlalchemy import insert

    from app.db.engine import create_engine, session_factory
    from app.db.models import Base, Product, WebhookEndpoint, WebhookEvent, utcnow
    from app.ids import new_id
    from app.services import accounts
    from app.services.merchants import create_merchant
    from app.services.webhooks.signing import new_secret
    from app.settings import normalize_database_url

    engine = create_engine(normalize_database_url(database_url), pool_size=2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            made = await create_merchant(session, name="portal bench", domains=[])
            merchant = made.merchant.id
            owner = await accounts.add_user(
                session,
                merchant_id=merchant,
                email="owner@bench.example",
                role="owner",
                password=secrets.token_urlsafe(16),
            )
            token = await accounts.start_session(session, owner, ip=None, user_agent="bench")
            endpoint = WebhookEndpoint(
                id=new_id("whe"),
                merchant_id=merchant,
                url="https://hooks.example/",
                event_types=[],
                secret=new_secret(),
            )
            event = WebhookEvent(
                id=new_id("evt"), merchant_id=merchant, type="sync.failed", payload="{}"
            )
            session.add_all([endpoint, event])
            await session.flush()
            now = utcnow()
            for day in range(DAYS):
                tables = _day_rows(merchant, endpoint.id, event.id, now - timedelta(days=day))
                for name, rows in tables.items():
                    await session.execute(insert(Base.metadata.tables[name]), rows)
            await session.commit()
        products = demo_shop.product_rows(
            merchant, list(_variants(PRODUCTS)), "https://shop.example"
        )
        columns = [*products[0], "created_at", "updated_at"]
        extra = {"data": "{}", "created_at": now, "updated_at": now}
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.copy_records_to_table(
                Product.__tablename__,
                records=[tuple({**row, **extra}[c] for c in columns) for row in products],
                columns=columns,
                timeout=COPY_TIMEOUT,
            )
            await raw.execute("ANALYZE", timeout=COPY_TIMEOUT)
        return merchant, made.secret_key.plaintext, token
    finally:
        await engine.dispose()


def _paired_p95(
    client: httpx.Client, page: str, api: str, key: str, rounds: int
) -> tuple[float, float]:
    """p95 in ms of the page and of the API route, requested alternately."""
    timings: dict[str, list[float]] = {"page": [], "api": []}
    requests: list[tuple[str, str, dict[str, str]]] = [
        ("page", page, {}),
        ("api", api, {"Authorization": f"Bearer {key}"}),
    ]
    for n in range(WARM_UP + rounds):
        for name, path, headers in requests if n % 2 == 0 else requests[::-1]:
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}")
            if n >= WARM_UP:
                timings[name].append(elapsed)
    return tuple(statistics.quantiles(timings[k], n=20)[-1] for k in ("page", "api"))  # type: ignore[return-value]


def _portal_rows(config: BenchConfig) -> list[BenchRow]:
    base_url = os.environ.get("DATABASE_URL", "")
    if not base_url.startswith(("postgres://", "postgresql")):
        raise RuntimeError("portal_render needs DATABASE_URL=postgresql://user@host/db")
    rounds = max(40, config.duration * 20)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=DAYS - 1)
    window = (
        f"from={first.isoformat()}T00:00:00Z&to={(today + timedelta(days=1)).isoformat()}T00:00:00Z"
    )
    with migrated_database(base_url, prefix="ragassist_bench") as database_url:
        merchant, key, token = asyncio.run(_seed(database_url))
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL", ""),
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_SECRET": "1000000/60",
        }
        pairs = {
            "/portal/analytics (30 days)": (
                f"/portal/analytics?from={first.isoformat()}&to={today.isoformat()}",
                f"/api/analytics/summary?{window}",
                "/api/analytics/summary",
            ),
            "/portal/catalog": (
                "/portal/catalog",
                f"/api/merchants/{merchant}/sync/status",
                "/api/merchants/{merchantId}/sync/status",
            ),
        }
        measured: dict[str, tuple[float, float]] = {}
        with (
            uvicorn_process("app.main:app", env, ready_path="/healthz") as url,
            httpx.Client(base_url=url, cookies={"ragassist_portal": token}, timeout=30) as client,
        ):
            for name, (page, api, _) in pairs.items():
                measured[name] = _paired_p95(client, page, api, key, rounds)
    return [
        BenchRow(
            name=f"Portal {name} render p95 vs its API route, PostgreSQL, {PRODUCTS:,} products, "
            f"{DAYS} days of analytics ({MAX_RATIO:g} x API p95 / page p95)",
            baseline=f"page p95 (GET {pairs[name][2]}: {api_p95:.1f} ms)",
            baseline_value=page_p95,
            subject_value=MAX_RATIO * api_p95,
            unit="ms",
            target=1.0,
        )
        for name, (page_p95, api_p95) in measured.items()
    ]


def portal_render(config: BenchConfig) -> BenchRow:
    """The slower of the two pages against its budget (both are measured in one seeding)."""
    rows = _portal_rows(config)
    return min(rows, key=lambda row: row.ratio)
