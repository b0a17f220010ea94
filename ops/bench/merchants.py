"""The benchmarks' database handle and merchant, made once here instead of in every benchmark."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.engine import create_engine, session_factory
from app.services.merchants import NewMerchant, create_merchant
from app.settings import normalize_database_url


def bench_engine(
    database_url: str, *, pool_size: int = 2
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    """An engine on `database_url` (any spelling `DATABASE_URL` accepts) and its sessions; the
    caller disposes of the engine."""
    engine = create_engine(normalize_database_url(database_url), pool_size=pool_size)
    return engine, session_factory(engine)


@asynccontextmanager
async def bench_database(database_url: str, *, pool_size: int = 1) -> AsyncIterator[AsyncEngine]:
    """An engine on `database_url`, disposed on exit."""
    engine, _ = bench_engine(database_url, pool_size=pool_size)
    try:
        yield engine
    finally:
        await engine.dispose()


async def bench_merchant(engine: AsyncEngine, *, domains: Sequence[str] = ()) -> NewMerchant:
    """A new merchant with its keys, named so that several runs can share a database."""
    async with session_factory(engine)() as session:
        return await create_merchant(
            session, name=f"bench {uuid.uuid4().hex[:6]}", domains=list(domains)
        )
