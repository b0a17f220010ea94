"""The delivery job the worker runs (`deliver_webhooks`), and inline sends for tests.

Sends are pipelined: each round records what finished, claims as many due attempts as there is
room for, starts sending them and waits briefly for them. A slow or dead endpoint only holds
its own slots until the timeout; everyone else's deliveries keep flowing.

Each receiver origin gets its own connections, at most `PER_ORIGIN` requests at once: one
merchant's server is never flooded by a worker, and a slow one only slows itself.

A worker stopped or killed mid-send leaves its attempts claimed; once the lease runs out any
worker sends them again with the same `webhook-id` — delivery is at least once.
"""

import asyncio
import logging
import os
import random
import secrets
import socket
import time
import weakref
from collections import Counter
from dataclasses import dataclass

import httpx

from app.db.models import utcnow
from app.metrics import WEBHOOK_DELIVERIES
from app.platform import Platform
from app.services.netguard import GuardedTransport
from app.services.webhooks.queue import Result, claim_due, record_results
from app.services.webhooks.sender import USER_AGENT, Delivery, Outcome, send

log = logging.getLogger(__name__)

CLAIM_BATCH = 50
MAX_IN_FLIGHT = 200
PER_ORIGIN = 12  # concurrent requests to one receiver origin from one worker
# httpx's pool costs grow with the square of its connections, so an origin's connections are
# spread over several small pools (3 pools of 4 send twice as fast as 1 pool of 12).
POOL_CONNECTIONS = 4
# Attempts one endpoint may hold in a worker (sending or waiting for its origin); beyond it
# the endpoint's backlog stays in the database for other rounds and other workers.
PER_ENDPOINT_HELD = 5 * PER_ORIGIN
# How long a round waits for its sends before returning to the worker loop; sends still
# running are recorded in a later round.
ROUND_SECONDS = 0.25
ORIGIN_IDLE_SECONDS = 60.0


@dataclass
class _Pool:
    client: httpx.AsyncClient
    busy: int = 0


@dataclass
class _Origin:
    pools: list[_Pool]
    gate: asyncio.Semaphore
    last_used: float

    @property
    def busy(self) -> int:
        return sum(pool.busy for pool in self.pools)

    def least_busy(self) -> _Pool:
        return min(self.pools, key=lambda pool: pool.busy)


class Dispatcher:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.loop = asyncio.get_running_loop()
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}"
        self.rng = random.Random()  # noqa: S311 - jitter, not a secret
        self.in_flight: set[asyncio.Task[Result]] = set()
        self.held: Counter[str] = Counter()  # endpoint id -> attempts in flight
        self.finished: list[Result] = []
        self.origins: dict[tuple[str, str, int | None], _Origin] = {}

    def new_claim(self) -> str:
        return f"{self.worker_id}/{secrets.token_hex(4)}"

    async def run_once(self) -> int:
        """One round; the number of attempts claimed plus results recorded."""
        done = await self._record_finished()
        await self._close_idle_origins()
        room = MAX_IN_FLIGHT - len(self.in_flight)
        claimed: list[Delivery] = []
        if room > 0:
            saturated = [e for e, n in self.held.items() if n >= PER_ENDPOINT_HELD]
            async with self.platform.sessions() as session:
                claimed = await claim_due(
                    session,
                    limit=min(room, CLAIM_BATCH),
                    claim=self.new_claim(),
                    lease_seconds=self.settings.webhook_lease_seconds,
                    now=utcnow(),
                    skip_endpoints=saturated,
                )
                await session.commit()
        for delivery in claimed:
            self.held[delivery.endpoint_id] += 1
            task = asyncio.create_task(self._send(delivery))
            self.in_flight.add(task)
            task.add_done_callback(self._collect)
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=ROUND_SECONDS)
        done += await self._record_finished()
        return len(claimed) + done

    async def deliver_now(self, delivery: Delivery) -> Outcome:
        """Send one already-claimed attempt and record it before returning (the test route)."""
        _, outcome = await self._send(delivery)
        await self._record([(delivery, outcome)])
        return outcome

    async def aclose(self) -> None:
        for task in list(self.in_flight):
            task.cancel()
        await asyncio.gather(*self.in_flight, return_exceptions=True)
        for origin in self.origins.values():
            for pool in origin.pools:
                await pool.client.aclose()
        self.origins.clear()

    def _origin(self, url: str) -> _Origin:
        parsed = httpx.URL(url)
        key = (parsed.scheme, parsed.host, parsed.port)
        origin = self.origins.get(key)
        if origin is None:
            origin = self.origins[key] = _Origin(
                pools=[_Pool(self._client()) for _ in range(-(-PER_ORIGIN // POOL_CONNECTIONS))],
                gate=asyncio.Semaphore(PER_ORIGIN),
                last_used=time.monotonic(),
            )
        return origin

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=POOL_CONNECTIONS,
            max_keepalive_connections=POOL_CONNECTIONS,
            # Under the 5 s idle timeout of common servers (Node, uvicorn), so we drop an
            # idle connection before the receiver closes it under us.
            keepalive_expiry=4.0,
        )
        return httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            # Every connection goes to an address the SSRF guard has just checked.
            transport=GuardedTransport(
                allow_private=self.settings.allow_private_network_targets, limits=limits
            ),
            headers={"user-agent": USER_AGENT},
            # Straight to the merchant: no proxy from the environment.
            trust_env=False,
        )

    async def _close_idle_origins(self) -> None:
        cutoff = time.monotonic() - ORIGIN_IDLE_SECONDS
        for key, origin in list(self.origins.items()):
            if origin.busy == 0 and origin.last_used < cutoff:
                del self.origins[key]
                for pool in origin.pools:
                    await pool.client.aclose()

    async def _send(self, delivery: Delivery) -> Result:
        origin = self._origin(delivery.url)
        pool = origin.least_busy()
        pool.busy += 1
        try:
            outcome = await send(
                pool.client,
                delivery,
                deadline=self.settings.webhook_timeout_seconds,
                allow_private=self.settings.allow_private_network_targets,
                gate=origin.gate,
            )
        except Exception as exc:  # a bug must not lose the attempt: record it as failed
            log.exception("webhook send crashed", extra={"attempt": delivery.attempt_id})
            outcome = Outcome(
                sent=True, succeeded=False, attempted_at=utcnow(), error=f"internal error: {exc}"
            )
        finally:
            pool.busy -= 1
            origin.last_used = time.monotonic()
        return delivery, outcome

    def _collect(self, task: asyncio.Task[Result]) -> None:
        self.in_flight.discard(task)
        if task.cancelled():
            return
        delivery, outcome = task.result()
        self.held[delivery.endpoint_id] -= 1
        if self.held[delivery.endpoint_id] <= 0:
            del self.held[delivery.endpoint_id]
        self.finished.append((delivery, outcome))

    async def _record_finished(self) -> int:
        if not self.finished:
            return 0
        batch, self.finished = self.finished, []
        try:
            await self._record(batch)
        except Exception:
            # Keep them for the next round; if this process dies first, the lease brings the
            # attempts back and they are sent again.
            self.finished[:0] = batch
            raise
        return len(batch)

    async def _record(self, batch: list[Result]) -> None:
        async with self.platform.sessions() as session:
            recorded = await record_results(
                session, batch, settings=self.settings, rng=self.rng, now=utcnow()
            )
            await session.commit()
        for delivery, outcome in recorded:
            # Tests are diagnostics and stay out of the delivery-rate metric and its alert.
            if outcome.sent and delivery.trigger != "test":
                WEBHOOK_DELIVERIES.labels("delivered" if outcome.succeeded else "failed").inc()
            if not outcome.succeeded:
                log.debug(
                    "webhook attempt failed",
                    extra={
                        "attempt": delivery.attempt_id,
                        "endpoint": delivery.endpoint_id,
                        "event": delivery.event_id,
                        "error": outcome.error,
                    },
                )
        lost = len(batch) - len(recorded)
        if lost:
            log.info("webhook results dropped: lease lost or endpoint deleted", extra={"n": lost})


# One dispatcher per platform and event loop (tests run several apps in one process).
_DISPATCHERS: "weakref.WeakKeyDictionary[Platform, Dispatcher]" = weakref.WeakKeyDictionary()


def dispatcher_for(platform: Platform) -> Dispatcher:
    dispatcher = _DISPATCHERS.get(platform)
    if dispatcher is None or dispatcher.loop is not asyncio.get_running_loop():
        dispatcher = _DISPATCHERS[platform] = Dispatcher(platform)
    return dispatcher


async def close_dispatcher(platform: Platform) -> None:
    dispatcher = _DISPATCHERS.pop(platform, None)
    if dispatcher is not None:
        await dispatcher.aclose()


async def deliver_webhooks(platform: Platform) -> int:
    """The worker job: one round of deliveries (see app/jobs.py)."""
    return await dispatcher_for(platform).run_once()
