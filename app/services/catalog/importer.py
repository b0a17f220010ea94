"""A sync run from catalog file to final status, in one database transaction.

A worker thread parses and validates the file (CPU work kept off the event loop) while this
coroutine stages each batch of valid rows and applies it to the catalog: the database works on
one batch while Python parses the next. The run's final status is committed in the same
transaction as the catalog changes; any failure before that commit rolls everything back, so
the catalog is either fully updated or exactly as it was.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.db.models import SyncRun, utcnow
from app.services.catalog import apply, staging
from app.services.catalog.detect import detect_format
from app.services.catalog.formats import Parser, parser_for
from app.services.catalog.records import RowError, Rules, build_record
from app.services.catalog.runs import MAX_ERRORS, RunOutcome, failed, finish_run
from app.services.catalog.source import FileError, OpenedFile, open_file
from app.services.catalog.terms import (
    DEFAULT_ERROR_THRESHOLD,
    DEFAULT_FORMAT,
    DEFAULT_MAX_DELETE_RATIO,
    DEFAULT_MODE,
    Format,
    Mode,
)

BATCH_ROWS = 5000
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportOptions:
    format: Format = DEFAULT_FORMAT
    mode: Mode = DEFAULT_MODE
    force: bool = False
    rules: Rules = field(default_factory=Rules)
    field_mapping: Mapping[str, str | None] = field(default_factory=dict)
    error_threshold: float = DEFAULT_ERROR_THRESHOLD
    max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO
    content_type: str | None = None
    filename: str | None = None
    max_bytes: int = 2 * 1024**3  # uncompressed size a gzip file may expand to


@dataclass(slots=True)
class _Batch:
    rows: list[staging.StagedRow]
    errors: list[RowError]
    seen: int
    invalid: int


@dataclass(slots=True)
class _Tally:
    seen: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    def add_errors(self, errors: list[RowError]) -> None:
        room = MAX_ERRORS - len(self.errors)
        if room > 0 and errors:
            # Parse errors and duplicates of a batch each come in row order; keep the
            # first 1,000 rows of the run in order.
            self.errors = sorted([*self.errors, *errors[:room]], key=lambda e: e.row)
            del self.errors[MAX_ERRORS:]

    def counts(self, **more: Any) -> dict[str, Any]:
        return {"rows_total": self.seen, "invalid": self.invalid, "errors": self.errors, **more}


async def checkpoint(stage: str, connection: AsyncConnection) -> None:
    """A no-op between steps; tests replace it to inject faults (raise, drop the connection,
    kill the process) at each point and prove the catalog is left as it was."""


def open_and_detect(file: IO[bytes], options: ImportOptions) -> tuple[OpenedFile, str]:
    """Blocking: the encoding check reads the whole file once. Run it in a thread."""
    wanted = options.format
    text = wanted != "gmc"
    opened = open_file(file, limit=options.max_bytes, text=text)
    if wanted != "auto":
        if wanted == "gmc" and not opened.head().lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            # GMC's TSV feed: a delimited file with GMC's column names.
            return open_file(file, limit=options.max_bytes), "tsv"
        return opened, wanted
    head = opened.head().decode(opened.encoding, errors="replace")
    detected = detect_format(head, content_type=options.content_type, filename=options.filename)
    if detected == "gmc":
        return open_file(file, limit=options.max_bytes, text=False), detected
    return opened, detected


def _batches(parser: Parser, rules: Rules, *, sqlite: bool) -> Iterator[_Batch]:
    batch = _Batch([], [], 0, 0)
    for raw in parser:
        record, problems = build_record(raw, rules)
        batch.seen += 1
        if record is None:
            batch.invalid += 1
            batch.errors.extend(problems)
        else:
            batch.rows.append(staging.staged_row(raw.row, record, sqlite=sqlite))
        if len(batch.rows) >= BATCH_ROWS or len(batch.errors) >= BATCH_ROWS:
            yield batch
            batch = _Batch([], [], 0, 0)
    yield batch


async def _in_thread(produce: Callable[[], Iterator[T]], depth: int = 2) -> AsyncIterator[T]:
    """Run a blocking iterator in a thread, `depth` items ahead of the consumer."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> None:
        future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        while not stop.is_set():  # never block forever on a consumer that went away
            try:
                future.result(timeout=1)
                return
            except TimeoutError:
                continue
        future.cancel()

    def run() -> None:
        try:
            for item in produce():
                if stop.is_set():
                    return
                put((False, item))
            put((True, None))
        except BaseException as exc:
            if not stop.is_set():
                put((True, exc))

    worker = loop.run_in_executor(None, run)
    try:
        while True:
            done, item = await queue.get()
            if done:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while not queue.empty():
            queue.get_nowait()
        await worker


async def import_file(
    engine: AsyncEngine, run: SyncRun, file: IO[bytes], options: ImportOptions
) -> RunOutcome:
    """Import `file` as `run` and commit the run's final status; returns the outcome."""
    tally = _Tally()
    known: dict[str, Any] = {"format": None, "bytes": file.seek(0, 2)}
    async with engine.connect() as connection:
        try:
            opened, known["format"] = await asyncio.to_thread(open_and_detect, file, options)
            parser = parser_for(known["format"], opened, options.field_mapping)
            outcome = await _import(connection, run, parser, options, tally, known)
        except (FileError, apply.DeleteGuardTripped) as exc:
            code = exc.code if isinstance(exc, FileError) else "delete_guard"
            outcome = failed(code, str(exc), **tally.counts(**known))
        except BaseException:
            # Unexpected: throw the connection away rather than pool it with the staging
            # tables (and maybe a broken transaction) on it; the caller records the failure.
            await connection.invalidate()
            raise
        if outcome.status != "succeeded":
            await connection.rollback()
            await finish_run(_session(connection), run, outcome)
        await staging.drop(connection)
        await connection.commit()
        if outcome.status == "succeeded":
            await apply.settle_search_index(connection, outcome.created + outcome.updated)
    return outcome


def _session(connection: AsyncConnection) -> AsyncSession:
    """A session whose commit commits `connection`'s transaction (by default a session only
    joins a transaction it finds on its connection, without committing it)."""
    return AsyncSession(
        bind=connection, expire_on_commit=False, join_transaction_mode="control_fully"
    )


async def _import(
    connection: AsyncConnection,
    run: SyncRun,
    parser: Parser,
    options: ImportOptions,
    tally: _Tally,
    known: dict[str, Any],
) -> RunOutcome:
    """Stage and apply every batch, then decide; commits only when it returns `succeeded`."""
    merchant_id = run.merchant_id
    sqlite = staging.is_sqlite(connection)
    await staging.create(connection)
    now = utcnow()
    # The first write: SQLite's write lock is taken here, before any catalog read, so the
    # transaction never has to upgrade a stale read snapshot.
    await connection.execute(update(SyncRun).where(SyncRun.id == run.id).values(heartbeat_at=now))
    catalog = await apply.catalog_size(connection, merchant_id)
    if await apply.statistics_stale(connection, merchant_id, catalog):
        # Without fresh statistics the planner takes a big catalog for a tiny one and scans it
        # for every staged row. ANALYZE commits on its own (a rollback would undo it); only
        # the heartbeat and the empty staging tables are committed with it.
        await connection.commit()
        await connection.exec_driver_sql("ANALYZE products")
        await connection.commit()
    await apply.prefer_index_lookups(connection)
    async for batch in _in_thread(lambda: _batches(parser, options.rules, sqlite=sqlite)):
        await staging.write(connection, batch.rows)
        await checkpoint("staged", connection)
        duplicates = await apply.remove_duplicates(connection, parser.key_column, len(batch.rows))
        tally.seen += batch.seen
        tally.invalid += batch.invalid + duplicates.count
        tally.add_errors(batch.errors)
        tally.add_errors(duplicates.errors)
        if catalog:  # nothing to update in an empty catalog
            tally.updated += await apply.update_changed(connection, merchant_id, now)
        await checkpoint("updated", connection)
        tally.created += await apply.insert_new(
            connection, merchant_id, now, first_import=not catalog
        )
        await checkpoint("inserted", connection)
        await apply.clear_batch(connection)
    counts = tally.counts(**known)
    if tally.seen == 0:
        return failed("no_products", "the file holds no products", **counts)
    if tally.invalid > options.error_threshold * tally.seen:
        share = tally.invalid / tally.seen
        return failed(
            "too_many_invalid_rows",
            f"{tally.invalid} of {tally.seen} rows are invalid ({share:.1%}), more than "
            f"errorThreshold ({options.error_threshold:.0%}) allows; nothing was changed",
            **counts,
        )
    deleted = 0
    if options.mode == "full":
        deleted = await apply.delete_missing(
            connection,
            merchant_id,
            catalog=catalog,
            force=options.force,
            max_delete_ratio=options.max_delete_ratio,
        )
        await checkpoint("deleted", connection)
    outcome = RunOutcome(
        status="succeeded",
        created=tally.created,
        updated=tally.updated,
        deleted=deleted,
        unchanged=tally.seen - tally.invalid - tally.created - tally.updated,
        **counts,
    )
    if not await finish_run(_session(connection), run, outcome):
        return failed("interrupted", "the run was marked interrupted meanwhile", **counts)
    return outcome
