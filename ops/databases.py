"""Throwaway databases for tests and benchmarks, so a run never touches real data."""

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from app.db.migrate import upgrade
from app.settings import normalize_database_url


@contextmanager
def migrated_database(
    base_url: str, *, prefix: str = "ragassist_tmp", revision: str = "heads"
) -> Iterator[str]:
    """A fresh database at the latest migration (or at `revision`), removed afterwards.

    On the PostgreSQL server of `base_url` when it is a PostgreSQL URL (a new database, dropped
    at the end even if connections are left open); otherwise a temporary SQLite file. Yields
    the normalized URL, which DATABASE_URL and `load_settings` both accept.
    """
    if not base_url.startswith(("postgres://", "postgresql")):
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as folder:
            url = normalize_database_url(f"sqlite:///{Path(folder) / 'db.sqlite'}")
            upgrade(url, revision)
            yield url
        return
    server = make_url(normalize_database_url(base_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(url, revision)
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(server: URL, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=server.host,
        port=server.port or 5432,
        user=server.username,
        password=server.password,
        database=server.database,
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()
