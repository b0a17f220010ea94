"""Sync runs: one active per merchant, alive while it heartbeats, final exactly once.

A run is `running` until it ends `succeeded`, `failed`, `unchanged` (the feed had not changed)
or `interrupted` (its process died). `finish_run` is the one place a run's final status is
committed.
"""

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import undefer

from app.db.models import ACTIVE_RUN_STATUSES, SyncRun, utcnow
from app.ids import new_id
from app.logs import LogFields
from app.metrics import SYNC_ROWS, SYNC_RUNS
from app.parsing import natural_or_none
from app.services.catalog.records import RowError
from app.services.catalog.terms import FinalStatus, Mode, RunSource, RunTrigger
from app.services.chat.vocabulary import forget_vocabulary
from app.services.webhooks.outbox import emit_event

log = logging.getLogger(__name__)

MAX_ERRORS = 1000
SAMPLE_ERRORS = 5
DEFAULT_STALE_AFTER = timedelta(minutes=5)
_PROCESS_TOKEN = uuid.uuid4().hex[:12]


def process_owner() -> str:
    """Who runs a run: host and pid (to tell a dead local process) plus a per-boot token."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"


class RunConflict(Exception):
    """The merchant already has an active run."""

    def __init__(self, run: SyncRun) -> None:
        super().__init__(f"run {run.id} is {run.status}")
        self.run = run


@dataclass(frozen=True, slots=True)
class RunOutcome:
    status: FinalStatus
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    invalid: int = 0
    error_code: str | None = None
    error_message: str | None = None
    errors: Sequence[RowError] = field(default_factory=tuple)
    format: str | None = None
    bytes: int | None = None


def _text(value: str | None) -> str | None:
    """Free text for a text column: PostgreSQL refuses NUL characters."""
    return value.replace("\x00", "") if value else value


def failed(code: str, message: str, **counts: Any) -> RunOutcome:
    return RunOutcome(status="failed", error_code=code, error_message=message, **counts)


async def start_run(
    session: AsyncSession,
    *,
    merchant_id: str,
    source: RunSource,
    trigger: RunTrigger,
    mode: Mode,
    force: bool,
    filename: str | None = None,
    source_url: str | None = None,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
) -> SyncRun:
    """Create the merchant's active run, or raise RunConflict naming the one that is."""
    for attempt in range(2):
        now = utcnow()
        run = SyncRun(
            id=new_id("run"),
            merchant_id=merchant_id,
            source=source,
            trigger=trigger,
            status="running",
            mode=mode,
            force=force,
            filename=_text(filename),
            source_url=_text(source_url),
            owner=process_owner(),
            heartbeat_at=now,
            started_at=now,
            created_at=now,
            error_sample=[],
            errors=[],
        )
        session.add(run)
        try:
            await session.commit()
            return run
        except IntegrityError:
            # The partial unique index: another run is active. It may be a dead one.
            await session.rollback()
            active = await active_run(session, merchant_id)
            if active is None:
                continue
            if attempt == 0 and is_abandoned(active, utcnow(), stale_after):
                await finish_run(session, active, _interrupted())
                continue
            raise RunConflict(active) from None
    raise RuntimeError("could not start a run")  # pragma: no cover - two races in a row


async def last_finished(
    session: AsyncSession, merchant_id: str, *, successful: bool = False
) -> SyncRun | None:
    """The merchant's latest finished run (`successful`: that succeeded or found no change)."""
    query = select(SyncRun).where(
        SyncRun.merchant_id == merchant_id, SyncRun.status.not_in(ACTIVE_RUN_STATUSES)
    )
    if successful:
        query = query.where(SyncRun.status.in_(("succeeded", "unchanged")))
    return await session.scalar(query.order_by(SyncRun.id.desc()).limit(1))


async def list_runs(
    session: AsyncSession, merchant_id: str, *, status: str | None, before: str | None, limit: int
) -> list[SyncRun]:
    """Newest first; `before` is the last id of the previous page."""
    query = select(SyncRun).where(SyncRun.merchant_id == merchant_id)
    if status:
        query = query.where(SyncRun.status == status)
    if before:
        query = query.where(SyncRun.id < before)
    return list(await session.scalars(query.order_by(SyncRun.id.desc()).limit(limit)))


async def get_run(
    session: AsyncSession, merchant_id: str, run_id: str, *, with_errors: bool
) -> SyncRun | None:
    query = select(SyncRun).where(SyncRun.merchant_id == merchant_id, SyncRun.id == run_id)
    if with_errors:
        query = query.options(undefer(SyncRun.errors))
    return await session.scalar(query)


async def active_run(session: AsyncSession, merchant_id: str) -> SyncRun | None:
    return await session.scalar(
        select(SyncRun).where(
            SyncRun.merchant_id == merchant_id, SyncRun.status.in_(ACTIVE_RUN_STATUSES)
        )
    )


async def heartbeat(sessions: async_sessionmaker[AsyncSession], run_id: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "running")
            .values(heartbeat_at=utcnow())
        )
        await session.commit()


async def keep_alive(
    sessions: async_sessionmaker[AsyncSession], run_id: str, interval: float
) -> None:
    """Heartbeat until cancelled. A failed beat (SQLite busy with the run's own big write)
    is only logged: the next one will do."""
    while True:
        await asyncio.sleep(interval)
        try:
            await heartbeat(sessions, run_id)
        except Exception as exc:
            log.info("sync run heartbeat skipped", extra=LogFields(runId=run_id, error=str(exc)))


async def finish_run(session: AsyncSession, run: SyncRun, outcome: RunOutcome) -> bool:
    """Commit the run's final status (and everything else pending in `session`'s transaction:
    for a successful import, the catalog changes themselves).

    Returns False, rolling everything back, when the run was no longer active — a run marked
    interrupted by another process must not then change the catalog. The run's
    `sync.completed` / `sync.failed` event is written to the outbox in this same transaction.
    """
    now = utcnow()
    errors = [error.as_dict() for error in list(outcome.errors)[:MAX_ERRORS]]
    values = {
        "status": outcome.status,
        "rows_total": outcome.rows_total,
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "unchanged": outcome.unchanged,
        "invalid": outcome.invalid,
        "error_code": outcome.error_code,
        "error_message": _text(outcome.error_message),
        "error_sample": errors[:SAMPLE_ERRORS],
        "errors": errors,
        "finished_at": now,
        "heartbeat_at": None,
    }
    if outcome.format is not None:
        values["format"] = outcome.format
    if outcome.bytes is not None:
        values["bytes"] = outcome.bytes
    if run.started_at is None:
        values["started_at"] = now
    finished = await session.scalar(
        update(SyncRun)
        .where(SyncRun.id == run.id, SyncRun.status.in_(ACTIVE_RUN_STATUSES))
        .values(**values)
        .returning(SyncRun.id)
    )
    if finished is None:
        await session.rollback()
        log.warning(
            "sync run was no longer active",
            extra=LogFields(merchantId=run.merchant_id, runId=run.id),
        )
        return False
    # One event per run, in the transaction that applies it (DESIGN §10: never one per row).
    await emit_event(
        session,
        merchant_id=run.merchant_id,
        event_type="sync.failed"
        if outcome.status in {"failed", "interrupted"}
        else "sync.completed",
        data=_run_event(run, outcome, values),
    )
    await session.commit()
    if outcome.created or outcome.updated or outcome.deleted:
        forget_vocabulary(run.merchant_id)
    for name, value in values.items():
        if name != "errors":  # deferred: touching it would load it
            setattr(run, name, value)
    SYNC_RUNS.labels(run.source, outcome.status).inc()
    for status in ("created", "updated", "deleted", "unchanged", "invalid"):
        count = getattr(outcome, status)
        if count:
            SYNC_ROWS.labels(status).inc(count)
    # A failed run is what ProductSyncFailureRate counts: its runbook finds the merchant here.
    log.log(
        logging.WARNING if outcome.status in _FAILED else logging.INFO,
        "sync run failed" if outcome.status in _FAILED else "sync run finished",
        extra=LogFields(
            merchantId=run.merchant_id,
            runId=run.id,
            source=run.source,
            status=outcome.status,
            errorCode=outcome.error_code,
        ),
    )
    return True


_FAILED = frozenset({"failed", "interrupted"})


def _run_event(run: SyncRun, outcome: RunOutcome, values: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "runId": run.id,
        "source": run.source,
        "mode": run.mode,
        "counts": {
            name: getattr(outcome, name)
            for name in ("created", "updated", "deleted", "unchanged", "invalid")
        },
        "startedAt": values.get("started_at") or run.started_at,
        "finishedAt": values["finished_at"],
    }
    if outcome.status in _FAILED:
        data["error"] = outcome.error_message or outcome.error_code or outcome.status
    return data


def _interrupted() -> RunOutcome:
    return RunOutcome(
        status="interrupted",
        error_code="interrupted",
        error_message="The process running this sync stopped (crash, restart or deploy) before "
        "it finished; nothing was changed. Start it again.",
    )


def is_abandoned(run: SyncRun, now: datetime, stale_after: timedelta) -> bool:
    """A running run whose process is gone.

    On the run's own host the process table decides (a long SQLite import cannot heartbeat
    while it holds the write lock, yet is alive); elsewhere a heartbeat silent for
    `stale_after` does. A local process that has been silent for much longer (a pid reused
    after a crash) counts as gone too.
    """
    if run.status != "running":
        return False
    silent = run.heartbeat_at is None or now - run.heartbeat_at > stale_after
    host, _, rest = (run.owner or "").partition(":")
    pid_text, _, token = rest.partition(":")
    pid = natural_or_none(pid_text, max_digits=10)
    if host != socket.gethostname() or pid is None:
        return silent
    if pid == os.getpid():
        return token != _PROCESS_TOKEN  # this pid in an earlier life (container restart)
    if silent and run.heartbeat_at is not None and now - run.heartbeat_at > 6 * stale_after:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


async def recover_interrupted_runs(
    sessions: async_sessionmaker[AsyncSession], *, stale_after: timedelta = DEFAULT_STALE_AFTER
) -> int:
    """Mark runs whose process died as `interrupted`; call at start-up and now and then.

    Their catalog changes were never committed (a run applies in one transaction), so marking
    them is all the recovery there is. Returns how many were marked.
    """
    async with sessions() as session:
        # Matches the partial index of active runs exactly, so this stays an index scan.
        active = select(SyncRun).where(SyncRun.status.in_(ACTIVE_RUN_STATUSES))
        running = [run for run in await session.scalars(active) if run.status == "running"]
        now = utcnow()
        marked = 0
        for run in running:
            if is_abandoned(run, now, stale_after) and await finish_run(
                session, run, _interrupted()
            ):
                marked += 1
    return marked
