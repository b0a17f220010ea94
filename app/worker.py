"""The background worker: `ragassist worker`, or in-process under `invoke up`.

It runs the jobs of `app.jobs.JOBS` in a loop. Each job does one bounded batch of work and
returns how much it did; when every job comes back idle the worker sleeps `WORKER_POLL_SECONDS`.
Jobs must be safe to run in several workers at once (they claim work in the database), so
scaling out is starting another worker.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from app.logs import LogFields
from app.platform import Platform

log = logging.getLogger(__name__)

Job = Callable[[Platform], Awaitable[int]]


class Worker:
    def __init__(self, platform: Platform, jobs: Sequence[Job]) -> None:
        self.platform = platform
        self.jobs = list(jobs)
        self.stopping = asyncio.Event()

    async def run_once(self) -> int:
        """Run every job once; the total amount of work done."""
        done = 0
        for job in self.jobs:
            try:
                done += await job(self.platform)
            except Exception:
                # One failing job must not starve the others; it is retried next round.
                log.exception("worker job failed", extra=LogFields(job=job.__qualname__))
        return done

    async def run(self) -> None:
        log.info("worker started", extra=LogFields(jobs=[job.__qualname__ for job in self.jobs]))
        while not self.stopping.is_set():
            if await self.run_once() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.stopping.wait(), timeout=self.platform.settings.worker_poll_seconds
                    )
        log.info("worker stopped")

    def stop(self) -> None:
        self.stopping.set()


async def run_worker(platform: Platform, jobs: Sequence[Job]) -> None:
    """Run until SIGINT or SIGTERM, finishing the batch in hand (what `ragassist worker` does)."""
    worker = Worker(platform, jobs)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, worker.stop)
    await platform.start()
    try:
        await worker.run()
    finally:
        await platform.stop()
