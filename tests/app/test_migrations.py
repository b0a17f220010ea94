"""Alembic migrations run forwards and backwards on SQLite and PostgreSQL."""

import asyncio

from sqlalchemy import inspect

from app.db.engine import create_engine
from app.db.migrate import alembic_config, current_revisions, head_revisions, upgrade
from app.settings import normalize_database_url
from tests.conftest import Backend


def _state(url: str) -> tuple[set[str], set[str]]:
    async def run() -> tuple[set[str], set[str]]:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as connection:
                tables = await connection.run_sync(
                    lambda sync: set(inspect(sync).get_table_names())
                )
            return await current_revisions(engine), tables
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_database_is_at_head_with_the_expected_tables(backend: Backend) -> None:
    revision, tables = _state(normalize_database_url(backend.database_url))
    assert revision == head_revisions()
    assert {"merchants", "api_keys", "allowed_domains"} <= tables


def test_downgrade_to_base_and_upgrade_again(tmp_path) -> None:
    from alembic import command

    url = normalize_database_url(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    revision, tables = _state(url)
    assert revision == set() and "merchants" not in tables
    upgrade(url)
    assert _state(url)[0] == head_revisions()
    upgrade(url)  # a second run is a no-op
    assert _state(url)[0] == head_revisions()
