"""The async engine and session factory for the configured database."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from app.db.password import SecretPassword


def create_engine(
    database_url: str, *, pool_size: int = 10, password_secret_arn: str | None = None
) -> AsyncEngine:
    """Engine for a normalized URL (see `app.settings.normalize_database_url`).

    With `password_secret_arn` (PostgreSQL only), each new connection reads its password from
    that Secrets Manager secret (see `app.db.password`)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, object] = {"command_timeout": 30}
    if password_secret_arn:
        connect_args["password"] = SecretPassword(password_secret_arn)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # asyncpg's statement cache is fine behind a direct connection; RDS Proxy/pgbouncer
        # users set DATABASE_URL with ?prepared_statement_cache_size=0.
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run during a write.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
