"""PostgreSQL keeps answering fast after an import: the full-text index is settled when the
run ends, and a list by filters alone walks the listing index in the order shoppers see,
whatever plan a prepared statement gets."""

import os
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from app.services.catalog.apply import SETTLE_AFTER
from app.services.chat.hints import Hints
from app.services.chat.retrieval import lexical
from tests.catalog.conftest import csv_catalog, db, upload
from tests.conftest import new_merchant

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (set in CI)"),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]


def _pending_pages(session: AsyncSession) -> Any:
    """Cleaning the pending list again: the number of pages it still had."""
    return session.scalar(text("SELECT gin_clean_pending_list('ix_products_search'::regclass)"))


def test_an_import_leaves_no_pending_full_text_entries(client: TestClient) -> None:
    merchant = new_merchant(client)
    run = upload(client, merchant, csv_catalog(SETTLE_AFTER + 200))
    assert run["status"] == "succeeded"
    assert db(client, _pending_pages) == 0
    # A small run leaves its few entries to autovacuum: nothing to gain in waiting for it.
    assert upload(client, merchant, csv_catalog(20, prefix="S"))["status"] == "succeeded"
    assert db(client, _pending_pages) > 0


def test_a_list_by_filters_alone_walks_the_listing_index(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(1500, price="30.00"))
    upload(client, merchant, csv_catalog(5, prefix="CHEAP", price="5.00"))
    engine = client.app.state.platform.sessions.kw["bind"]  # type: ignore[attr-defined]
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM products" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    async def listed(session: AsyncSession) -> list[Decimal]:
        await session.execute(text("ANALYZE products"))
        found = await lexical(session, merchant.id, Hints(price_max=Decimal("10")), limit=4)
        return [product.price for product in found.products]

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        prices = db(client, listed)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert prices == [Decimal("5.00")] * 4
    (statement, parameters), *_ = statements

    async def generic_plan(session: AsyncSession) -> str:
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        await raw.execute("SET enable_seqscan = off")
        try:
            rows = await raw.fetch(f"EXPLAIN {statement}", *parameters)
        finally:
            await raw.execute("RESET plan_cache_mode; RESET enable_seqscan")
        return "\n".join(row[0] for row in rows)

    plan = db(client, generic_plan)
    assert "ix_products_listing" in plan, plan
    assert "Sort" not in plan, plan  # read in order, not sorted
