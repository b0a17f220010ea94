"""Running a sync run to its end whatever happens, in the foreground or as a background task.

Uploads run in the API process that received the file (the file is there); feeds run in the
worker. Either way the run heartbeats while it works and always gets a final status: an
unexpected error fails it, a cancelled task marks it interrupted.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import IO

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.models import SyncRun
from app.logs import LogFields
from app.services.catalog.importer import ImportOptions, import_file
from app.services.catalog.runs import RunOutcome, failed, finish_run, keep_alive

log = logging.getLogger(__name__)

# Strong references to background runs (the event loop keeps only weak ones).
_BACKGROUND: set[asyncio.Task[RunOutcome]] = set()


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


async def execute_run(
    sessions: async_sessionmaker[AsyncSession],
    run: SyncRun,
    work: Callable[[], Awaitable[RunOutcome]],
    *,
    heartbeat_seconds: float,
) -> RunOutcome:
    """Await `work` (which finishes the run itself) with a heartbeat, and make sure the run
    is finished even when `work` raises or is cancelled."""
    beating = asyncio.create_task(keep_alive(sessions, run.id, heartbeat_seconds))
    try:
        return await work()
    except asyncio.CancelledError:
        stopped = RunOutcome(
            status="interrupted",
            error_code="interrupted",
            error_message="The sync was stopped (shutdown) before it finished; nothing was "
            "changed. Start it again.",
        )
        await asyncio.shield(_finish(sessions, run, stopped))
        raise
    except Exception:
        log.exception(
            "sync run failed unexpectedly",
            extra=LogFields(merchantId=run.merchant_id, runId=run.id),
        )
        outcome = failed(
            "internal_error",
            f"An internal error stopped this run; nothing was changed. Quote {run.id} when "
            "reporting it.",
        )
        await _finish(sessions, run, outcome)
        return outcome
    finally:
        beating.cancel()


async def _finish(
    sessions: async_sessionmaker[AsyncSession], run: SyncRun, outcome: RunOutcome
) -> None:
    try:
        async with sessions() as session:
            await finish_run(session, run, outcome)
    except Exception:
        # The recovery sweep will mark it interrupted once its heartbeat is stale.
        log.exception("could not record the end of a sync run", extra=LogFields(runId=run.id))


async def import_upload(
    sessions: async_sessionmaker[AsyncSession],
    run: SyncRun,
    file: IO[bytes],
    options: ImportOptions,
    *,
    heartbeat_seconds: float,
) -> RunOutcome:
    """Import an uploaded file as `run`, then close the file."""
    try:
        return await execute_run(
            sessions,
            run,
            lambda: import_file(engine_of(sessions), run, file, options),
            heartbeat_seconds=heartbeat_seconds,
        )
    finally:
        file.close()


def in_background(work: Awaitable[RunOutcome]) -> asyncio.Task[RunOutcome]:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


async def wait_for_background() -> None:
    """Let this event loop's background runs finish (tests; a graceful stop)."""
    loop = asyncio.get_running_loop()
    while mine := [task for task in _BACKGROUND if task.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)
