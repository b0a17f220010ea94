"""Rate limiting with GCRA (DESIGN §7): one atomic Redis round trip, or in-process without Redis.

GCRA keeps one number per key, the theoretical arrival time (TAT). A policy of `quota` requests
per `window` seconds spaces requests `window/quota` apart and tolerates a burst of `quota`. The
Lua script and `gcra` below are the same algorithm; tests hold them to the same answers.
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from app.metrics import RATELIMIT_BACKEND_ERRORS
from app.settings import RateLimitPolicy

log = logging.getLogger(__name__)
POLICY_NAME = "default"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int  # seconds until the full quota is back
    retry_after: int  # seconds until the next request may pass (0 when allowed)

    def headers(self, now: float) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(now) + self.reset_after),
            "RateLimit-Policy": f'"{POLICY_NAME}";q={self.limit};w={self.window}',
            "RateLimit": f'"{POLICY_NAME}";r={self.remaining};t={self.reset_after}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def gcra(tat: float | None, now: float, policy: RateLimitPolicy) -> tuple[Decision, float]:
    """Decide one request; returns the decision and the TAT to store if it was allowed."""
    interval = policy.window / policy.quota
    tat = max(tat or now, now)
    new_tat = tat + interval
    allow_at = new_tat - policy.window
    if now < allow_at:
        decision = _decision(False, policy, tat, now, retry_after=allow_at - now)
        return decision, tat
    return _decision(True, policy, new_tat, now, retry_after=0.0), new_tat


def _decision(
    allowed: bool, policy: RateLimitPolicy, tat: float, now: float, *, retry_after: float
) -> Decision:
    interval = policy.window / policy.quota
    # The small epsilon absorbs float error so an exactly refilled slot counts as available.
    remaining = max(0, math.floor((policy.window - (tat - now)) / interval + 1e-9))
    return Decision(
        allowed=allowed,
        limit=policy.quota,
        window=policy.window,
        remaining=remaining,
        reset_after=max(0, math.ceil(tat - now)),
        retry_after=math.ceil(retry_after) if not allowed else 0,
    )


class Limiter(Protocol):
    async def hit(self, key: str, policy: RateLimitPolicy) -> Decision | None:
        """The decision, or None when the backend failed and the request goes through."""


class MemoryLimiter:
    """For one process (local runs, tests without Redis). Prunes idle keys as it goes."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._next_prune = 0.0

    async def hit(self, key: str, policy: RateLimitPolicy) -> Decision | None:
        now = time.time()
        decision, tat = gcra(self._tats.get(key), now, policy)
        self._tats[key] = tat
        if now >= self._next_prune:
            self._tats = {k: v for k, v in self._tats.items() if v > now}
            self._next_prune = now + 60
        return decision


# KEYS[1] = bucket; ARGV = quota, window. Uses the Redis server clock so that every app
# instance agrees on "now". Returns {allowed, tat_micros, now_micros}.
_LUA_GCRA = """
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000000
local interval = math.floor(window / quota)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if now < new_tat - window then
  return {0, tat, now}
end
-- %d: Lua would print a 16-digit number as 1.76e+15 and lose the microseconds.
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, new_tat, now}
"""


class RedisLimiter:
    """GCRA in Redis, auto-pipelined.

    Requests that arrive while a round trip is in flight are sent together in the next one
    (each decision is still one atomic script call). Under load this cuts the client-side cost
    per decision several-fold and keeps the limiter on a single connection instead of
    exhausting the pool.
    """

    def __init__(self, redis: Redis, *, prefix: str = "ratelimit:", max_batch: int = 512) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_batch = max_batch
        self._sha: str | None = None
        self._pending: list[tuple[str, RateLimitPolicy, asyncio.Future[list[int]]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def hit(self, key: str, policy: RateLimitPolicy) -> Decision | None:
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((self.prefix + key, policy, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        try:
            allowed, tat, now = await future
        except (RedisError, OSError) as exc:
            RATELIMIT_BACKEND_ERRORS.inc()
            log.warning("rate limiter unavailable; failing open", extra={"error": str(exc)})
            return None
        tat_s, now_s = tat / 1e6, now / 1e6
        interval = policy.window / policy.quota
        retry_after = 0.0 if allowed else tat_s + interval - policy.window - now_s
        return _decision(bool(allowed), policy, tat_s, now_s, retry_after=retry_after)

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await self._run(batch)
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _run(
        self, batch: list[tuple[str, RateLimitPolicy, Any]], *, retry: bool = True
    ) -> list[Any]:
        if self._sha is None:
            self._sha = await self.redis.script_load(_LUA_GCRA)
        pipe = self.redis.pipeline(transaction=False)
        for key, policy, _ in batch:
            pipe.evalsha(self._sha, 1, key, policy.quota, policy.window)
        results = await pipe.execute(raise_on_error=False)
        if retry and any(isinstance(result, NoScriptError) for result in results):
            # Redis restarted or flushed its script cache: load the script again, retry once.
            self._sha = None
            return await self._run(batch, retry=False)
        return results
