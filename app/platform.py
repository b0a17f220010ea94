"""The long-lived pieces one app instance shares: database, limiter, caches, flags."""

import asyncio
import contextlib
import logging
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.cache import TtlCache
from app.cloudwatch import CloudWatchPublisher
from app.db.engine import create_engine, session_factory
from app.flags import FlagStore, source_from_setting
from app.logs import LogFields
from app.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from app.services.catalog.runs import recover_interrupted_runs
from app.services.domains import get_domains
from app.services.keys import KeyResolver
from app.services.outbound import close_clients
from app.services.usage import FLUSH_SECONDS, UsageCounters
from app.settings import Settings

log = logging.getLogger(__name__)


class Platform:
    """Built by `create_app`; `start()`/`stop()` run in the app's lifespan, on its event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.flags = FlagStore(
            source_from_setting(settings.flags_source), ttl=settings.flags_cache_seconds
        )
        self._domains: TtlCache[str, tuple[str, ...]] = TtlCache(ttl=settings.cache_ttl_seconds)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._keys: KeyResolver | None = None
        self._redis: Redis | None = None
        self._limiter: Limiter | None = None
        self._publisher: CloudWatchPublisher | None = None
        self._publishing: asyncio.Task[None] | None = None
        # Requests per key and refused origins, for the portal; written by `_flush_usage`.
        self.usage = UsageCounters()
        self._flushing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.flags.current()  # warm: the first request should not pay for the first read
        self._engine = create_engine(
            self.settings.database_url, password_secret_arn=self.settings.database_secret_arn
        )
        self._sessions = session_factory(self._engine)
        self._keys = KeyResolver(self._sessions, ttl=self.settings.cache_ttl_seconds)
        # Runs of a process that died changed nothing; say so before anyone starts a new one.
        await recover_interrupted_runs(
            self._sessions, stale_after=timedelta(seconds=self.settings.sync_run_stale_seconds)
        )
        if self.settings.redis_url:
            # Short timeouts: when Redis is down the limiter fails open, and it must do so fast.
            self._redis = Redis.from_url(
                self.settings.redis_url,
                socket_connect_timeout=0.25,
                socket_timeout=0.25,
                health_check_interval=30,
            )
            self._limiter = RedisLimiter(self._redis)
        else:
            self._limiter = MemoryLimiter()
        if self.settings.cloudwatch_namespace:
            # Both the API and the worker publish: each counts what happens in its process.
            self._publisher = CloudWatchPublisher(
                self.settings.cloudwatch_namespace, environment=self.settings.environment
            )
            self._publishing = asyncio.create_task(self._publisher.run())
        self._flushing = asyncio.create_task(self._flush_usage())

    async def stop(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flushing
            await self.usage.flush(self.sessions)
        if self._publisher is not None and self._publishing is not None:
            await self._publisher.close()
            await self._publishing
        if self._limiter is not None:
            await self._limiter.close()
        if self._redis is not None:
            await self._redis.aclose()
        await close_clients(self)
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessions is not None, "Platform.start() has not run"
        return self._sessions

    @property
    def keys(self) -> KeyResolver:
        assert self._keys is not None, "Platform.start() has not run"
        return self._keys

    @property
    def limiter(self) -> Limiter:
        assert self._limiter is not None, "Platform.start() has not run"
        return self._limiter

    async def _flush_usage(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.usage.flush(self.sessions)

    async def allowed_domains(self, merchant_id: str) -> tuple[str, ...]:
        async def load() -> tuple[str, ...]:
            async with self.sessions() as session:
                return await get_domains(session, merchant_id)

        return await self._domains.get(merchant_id, load)

    def forget_domains(self, merchant_id: str) -> None:
        self._domains.invalidate(merchant_id)

    async def readiness(self) -> dict[str, str]:
        """`ok`, `error` or `not configured` per dependency; never raises."""
        checks: dict[str, str] = {}
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            log.warning("readiness: database unreachable", extra=LogFields(error=str(exc)))
            checks["database"] = "error"
        if self._redis is None:
            checks["redis"] = "not configured"
        else:
            try:
                await self._redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                log.warning("readiness: redis unreachable", extra=LogFields(error=str(exc)))
                checks["redis"] = "error"
        return checks
