"""Rate limiting with GCRA (DESIGN §7): one atomic Redis round trip, or in-process without Redis.

GCRA keeps one number per key, the theoretical arrival time (TAT). A policy of `quota` requests
per `window` seconds spaces requests `window/quota` apart and tolerates a burst of `quota`. The
Lua script and `gcra` below are the same algorithm; tests hold them to the same answers.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import NoScriptError, RedisError, ResponseError

from app.logs import LogFields
from app.metrics import RATELIMIT_BACKEND_ERRORS
from app.settings import RateLimitPolicy

log = logging.getLogger(__name__)
# hiredis's stub types the command as a one-element tuple; it takes any number of arguments.
pack_command: Callable[..., bytes] = hiredis.pack_command
POLICY_NAME = "default"
_POLICY = POLICY_NAME.encode()


class Decision(NamedTuple):  # a tuple: built on every request, so kept cheap
    allowed: bool
    limit: int
    window: int
    remaining: int
    reset_after: int  # seconds until the full quota is back
    retry_after: int  # seconds until the next request may pass (0 when allowed)

    def raw_headers(self, now: float, *, quota: bool = True) -> list[tuple[bytes, bytes]]:
        """The rate-limit headers (DESIGN §7), encoded as the ASGI server wants them.
        `quota=False` (flag `rate_limit_headers` off) leaves only a 429's Retry-After."""
        headers = (
            [
                (b"x-ratelimit-limit", b"%d" % self.limit),
                (b"x-ratelimit-remaining", b"%d" % self.remaining),
                (b"x-ratelimit-reset", b"%d" % (math.ceil(now) + self.reset_after)),
                (b"ratelimit-policy", b'"%s";q=%d;w=%d' % (_POLICY, self.limit, self.window)),
                (b"ratelimit", b'"%s";r=%d;t=%d' % (_POLICY, self.remaining, self.reset_after)),
            ]
            if quota
            else []
        )
        if not self.allowed:
            headers.append((b"retry-after", b"%d" % self.retry_after))
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

    async def close(self) -> None:
        """Finish pending decisions and let go of connections (the app is stopping)."""


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

    async def close(self) -> None:
        """Nothing to let go of: the buckets live and die with the process."""


# KEYS[1] = bucket; ARGV = quota, window (s), hits. Admits as many of `hits` as the bucket holds
# (in arrival order) and returns {admitted, tat_before_micros, now_micros, interval_micros}.
# Uses the Redis server clock so that every app instance agrees on "now".
_LUA_GCRA = """
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000000
local hits = tonumber(ARGV[3])
local interval = math.floor(window / quota)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local admitted = math.max(0, math.min(hits, math.floor((now + window - tat) / interval)))
if admitted > 0 then
  local new_tat = tat + admitted * interval
  local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
  -- %d: Lua would print a 16-digit number as 1.76e+15 and lose the microseconds.
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
end
return {admitted, tat, now, interval}
"""

_Bucket = tuple[str, int, int]  # key, quota, window


class RedisLimiter:
    """GCRA in Redis, auto-pipelined and coalesced, over one connection of its own.

    Decisions that arrive while a round trip is in flight go out together in the next one, and
    concurrent hits on the same bucket become one script call that admits as many as fit, in
    arrival order. Each bucket's decision stays atomic in Redis, so limits hold exactly across
    any number of app instances, while the client-side cost per request drops several-fold.
    The batches are written and read on one connection held for the limiter, packed and
    parsed by hiredis, without a redis-py pipeline object per round trip: on this hot path
    that object cost more than the round trip itself.
    """

    def __init__(self, redis: Redis, *, prefix: str = "ratelimit:", max_batch: int = 512) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_batch = max_batch
        self._sha: str | None = None
        self._connection: AbstractConnection | None = None
        self._pending: dict[_Bucket, list[asyncio.Future[tuple[bool, int, int]]]] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def hit(self, key: str, policy: RateLimitPolicy) -> Decision | None:
        future: asyncio.Future[tuple[bool, int, int]] = asyncio.get_running_loop().create_future()
        bucket = (self.prefix + key, policy.quota, policy.window)
        self._pending.setdefault(bucket, []).append(future)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        try:
            allowed, tat, now = await future
        except (RedisError, OSError) as exc:
            RATELIMIT_BACKEND_ERRORS.inc()
            log.warning("rate limiter unavailable; failing open", extra=LogFields(error=str(exc)))
            return None
        tat_s, now_s = tat / 1e6, now / 1e6
        interval = policy.window / policy.quota
        retry_after = 0.0 if allowed else tat_s + interval - policy.window - now_s
        return _decision(allowed, policy, tat_s, now_s, retry_after=retry_after)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._connection is not None:
            await self.redis.connection_pool.release(self._connection)
            self._connection = None

    async def _flush(self) -> None:
        while self._pending:
            buckets = list(self._pending)[: self.max_batch]
            batch = [(bucket, self._pending.pop(bucket)) for bucket in buckets]
            try:
                results = await self._run(batch)
            except Exception as exc:
                results = [exc] * len(batch)
            for (_, futures), result in zip(batch, results, strict=True):
                _settle(futures, result)

    async def _run(
        self, batch: list[tuple[_Bucket, list[Any]]], *, retry: bool = True
    ) -> list[Any]:
        if self._sha is None:
            self._sha = await self.redis.script_load(_LUA_GCRA)
        if self._connection is None:
            self._connection = await self.redis.connection_pool.get_connection()
        connection = self._connection
        packed = b"".join(
            pack_command(("EVALSHA", self._sha, 1, key, quota, window, len(futures)))
            for (key, quota, window), futures in batch
        )
        # On a network error or timeout redis-py drops the connection (it reconnects on the
        # next send), so no reply of this batch can be mistaken for one of the next.
        await connection.send_packed_command(packed)
        results: list[Any] = []
        for _ in batch:
            try:
                results.append(await connection.read_response())
            except ResponseError as exc:  # a reply like any other; the rest still follow
                results.append(exc)
        if retry and any(isinstance(result, NoScriptError) for result in results):
            # Redis restarted or flushed its script cache: load the script again, retry once.
            self._sha = None
            return await self._run(batch, retry=False)
        return results


def _settle(futures: list[asyncio.Future[tuple[bool, int, int]]], result: Any) -> None:
    """Hand each coalesced request its own decision: the first `admitted` pass, each with the
    TAT its own slot produced; the rest are refused against the TAT after the admitted ones."""
    if isinstance(result, BaseException):
        for future in futures:
            if not future.done():
                future.set_exception(result)
        return
    admitted, tat, now, interval = (int(value) for value in result)
    for position, future in enumerate(futures):
        if future.done():  # the request was cancelled (client went away)
            continue
        if position < admitted:
            future.set_result((True, tat + (position + 1) * interval, now))
        else:
            future.set_result((False, tat + admitted * interval, now))
