"""The usage counters behind the keys and domains pages: cheap to record, bounded against
floods, adding up across writes, and never failing the caller."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.db.engine import create_engine, session_factory
from app.db.models import utcnow
from app.services import usage
from app.services.usage import MAX_PENDING_ORIGINS, UsageCounters
from app.settings import normalize_database_url
from tests.portal.conftest import Account, run_in_app


def test_refusals_held_between_writes_are_capped_but_known_origins_keep_counting() -> None:
    counters = UsageCounters()
    for index in range(MAX_PENDING_ORIGINS + 5):
        counters.record_refusal("mer_a", f"https://x{index}.example")
    assert counters.dropped_refusals == 5
    counters.record_refusal("mer_a", "https://x0.example")  # already held: still counted
    assert counters.dropped_refusals == 5


def test_counts_from_several_writes_add_up_per_key(client: TestClient, account: Account) -> None:
    counters = UsageCounters()
    key_id = run_in_app(client, lambda sessions: _key_id(sessions, account.id))
    for writes in (3, 4):
        for _ in range(writes):
            counters.count_request(key_id, account.id)
        run_in_app(client, counters.flush)
    counts = run_in_app(
        client,
        lambda sessions: _counts(sessions, account.id),
    )
    assert counts == {key_id: 7}


async def _key_id(sessions, merchant_id: str) -> str:
    from app.services import keys

    async with sessions() as session:
        return (await keys.list_keys(session, merchant_id, limit=1, after=None))[0].id


async def _counts(sessions, merchant_id: str) -> dict[str, int]:
    async with sessions() as session:
        return await usage.requests_by_key(
            session, merchant_id, since=utcnow() - timedelta(hours=24)
        )


def test_a_failed_write_is_logged_and_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    counters = UsageCounters()
    counters.count_request("key_x", "mer_x")

    async def write_to_an_unmigrated_database() -> None:
        engine = create_engine(normalize_database_url(f"sqlite:///{tmp_path / 'empty.db'}"))
        try:
            await counters.flush(session_factory(engine))
        finally:
            await engine.dispose()

    asyncio.run(write_to_an_unmigrated_database())
    assert "could not write usage counts" in caplog.text
