"""Apply staged batches to the catalog, inside the run's one transaction.

Each batch: duplicates of ids seen earlier in the file out, changed products updated, new ones
inserted; unchanged ones (same content hash) are not written at all, which is what makes an
identical re-import cheap. At the end, `mode: full` deletes what the file no longer has, within
the deletion guard. Every step raises on a refusal, so the caller's rollback leaves the catalog
exactly as it was.
"""

# ruff: noqa: S608 - the SQL here joins constant table and column names; values are bound.

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import UTCDateTime
from app.logs import LogFields
from app.services.catalog.records import RowError
from app.services.catalog.staging import BATCH, PRODUCT_COLUMNS, SEEN, is_sqlite, table

log = logging.getLogger(__name__)

_UPDATED = [column for column in PRODUCT_COLUMNS if column not in {"id", "external_id"}]
# Typed, so that PostgreSQL knows :merchant is text wherever it appears (asyncpg prepares).
_BINDS = (bindparam("merchant", type_=String()), bindparam("now", type_=UTCDateTime()))


class DeleteGuardTripped(Exception):
    """`mode: full` would delete more of the catalog than `maxDeleteRatio` allows."""

    def __init__(self, deleting: int, catalog: int, ratio: float) -> None:
        share = deleting / catalog if catalog else 0.0
        super().__init__(
            f"this run would delete {deleting} of {catalog} products ({share:.0%}), more than "
            f"maxDeleteRatio ({ratio:.0%}) allows; nothing was changed. If the file really is "
            "the whole catalog, run it again with force=true"
        )


@dataclass(frozen=True, slots=True)
class Duplicates:
    count: int
    errors: list[RowError]


async def statistics_stale(connection: AsyncConnection, merchant_id: str, catalog: int) -> bool:
    """PostgreSQL: does the planner badly underestimate this merchant's catalog (a new
    merchant, or a big import autovacuum has not analysed yet)? Then it would take the
    catalog for a handful of rows and scan it for every staged row instead of probing."""
    if is_sqlite(connection) or catalog < 1000:
        return False
    plan = await connection.scalar(
        text("EXPLAIN (FORMAT JSON) SELECT 1 FROM products WHERE merchant_id = :merchant"),
        {"merchant": merchant_id},
    )
    estimate = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
    return bool(estimate < catalog / 10)


async def prefer_index_lookups(connection: AsyncConnection) -> None:
    """Make PostgreSQL drive every batch statement from the batch's few thousand rows, each
    looked up in the catalog's unique index: scanning or hashing the merchant's whole catalog
    for every batch would make a run quadratic. For the current transaction only."""
    if not is_sqlite(connection):  # SQLite's planner probes the unique index anyway
        await connection.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        await connection.exec_driver_sql("SET LOCAL enable_mergejoin = off")


# Products written by one run from which the full-text index is settled right away.
SETTLE_AFTER = 1000


async def settle_search_index(connection: AsyncConnection, written: int) -> None:
    """PostgreSQL, after a run that wrote many products, outside its transaction: merge the
    full-text index's pending list (GIN fastupdate) into the index now. Until autovacuum gets
    to it, every search reads that list whole: after 100,000 new products a question's
    full-text query took 7-8 ms instead of 1-2. Only the index's owner (the role that ran the
    migrations) may do it; any other role leaves it to autovacuum, as before."""
    if is_sqlite(connection) or written < SETTLE_AFTER:
        return
    try:
        await connection.exec_driver_sql(
            "SELECT gin_clean_pending_list('ix_products_search'::regclass)"
        )
        await connection.commit()
    except DBAPIError as exc:
        await connection.rollback()
        log.info(
            "full-text index left for autovacuum to settle",
            extra=LogFields(error=str(exc.orig)[:300]),
        )


async def catalog_size(connection: AsyncConnection, merchant_id: str) -> int:
    return int(
        await connection.scalar(
            text("SELECT COUNT(*) FROM products WHERE merchant_id = :merchant"),
            {"merchant": merchant_id},
        )
        or 0
    )


async def remove_duplicates(
    connection: AsyncConnection, key_column: str, staged: int
) -> Duplicates:
    """Remember the batch's ids; drop its rows whose id came earlier in the file (the first
    row of an id wins) and report them as row errors."""
    batch, seen = table(connection, BATCH), table(connection, SEEN)
    remembered = await connection.execute(
        text(
            f"INSERT INTO {seen} (external_id, row) SELECT external_id, row "
            f"FROM {batch} WHERE true ORDER BY row ON CONFLICT (external_id) DO NOTHING"
        )
    )
    if remembered.rowcount == staged:
        return Duplicates(0, [])  # every id is new to the run: the usual case, one statement
    later = f"FROM {batch} b JOIN {seen} s ON s.external_id = b.external_id WHERE b.row <> s.row"
    rows = (
        await connection.execute(text(f"SELECT b.row, b.external_id, s.row {later} ORDER BY b.row"))
    ).all()
    await connection.execute(text(f"DELETE FROM {batch} WHERE row IN (SELECT b.row {later})"))
    errors = [
        RowError(row, key_column, f"duplicate id '{external_id}' (first on row {first})")
        for row, external_id, first in rows
    ]
    return Duplicates(len(rows), errors)


def _source(connection: AsyncConnection) -> dict[str, str]:
    if is_sqlite(connection):
        return {column: f"s.{column}" for column in PRODUCT_COLUMNS}
    json_columns = {"data": "CAST(s.data AS JSON)", "variants": "CAST(s.variants AS JSON)"}
    return {column: f"s.{column}" for column in PRODUCT_COLUMNS} | json_columns


async def update_changed(connection: AsyncConnection, merchant_id: str, now: datetime) -> int:
    """Rewrite the batch's products whose content hash differs."""
    source = _source(connection)
    assignments = ", ".join(f"{column} = {source[column]}" for column in _UPDATED)
    result = await connection.execute(
        text(
            f"UPDATE products SET {assignments}, updated_at = :now "
            f"FROM {table(connection, BATCH)} s WHERE products.merchant_id = :merchant "
            "AND products.external_id = s.external_id AND products.content_hash <> s.content_hash"
        ).bindparams(*_BINDS),
        {"merchant": merchant_id, "now": now},
    )
    return int(result.rowcount)


async def insert_new(
    connection: AsyncConnection, merchant_id: str, now: datetime, *, first_import: bool
) -> int:
    """Insert the batch's products the catalog does not have. A first import (the catalog was
    empty) skips looking for them: none can be there but a webhook's, which the upsert takes."""
    source = _source(connection)
    missing = (
        ""
        if first_import
        else "AND NOT EXISTS (SELECT 1 FROM products p WHERE p.merchant_id = :merchant "
        "AND p.external_id = s.external_id)"
    )
    columns = ", ".join(PRODUCT_COLUMNS)
    selected = ", ".join(source[column] for column in PRODUCT_COLUMNS)
    upsert = ", ".join(f"{column} = excluded.{column}" for column in _UPDATED)
    result = await connection.execute(
        text(
            f"INSERT INTO products (merchant_id, {columns}, created_at, updated_at) "
            f"SELECT :merchant, {selected}, :now, :now FROM {table(connection, BATCH)} s "
            f"WHERE true {missing} "
            # A product created meanwhile by an inbound webhook: the file has the last word.
            f"ON CONFLICT (merchant_id, external_id) DO UPDATE SET {upsert}, "
            "updated_at = excluded.updated_at"
        ).bindparams(*_BINDS),
        {"merchant": merchant_id, "now": now},
    )
    return int(result.rowcount)


async def clear_batch(connection: AsyncConnection) -> None:
    verb = "DELETE FROM" if is_sqlite(connection) else "TRUNCATE"
    await connection.exec_driver_sql(f"{verb} {table(connection, BATCH)}")


async def delete_missing(
    connection: AsyncConnection,
    merchant_id: str,
    *,
    catalog: int,
    force: bool,
    max_delete_ratio: float,
) -> int:
    """`mode: full`: delete the products the file did not have, unless that is more than
    `max_delete_ratio` of the `catalog` there was before the run."""
    seen = table(connection, SEEN)
    if not is_sqlite(connection):
        # Here the whole catalog meets every id of the file: analysed, the planner picks the
        # right join (a hash join, usually), which the batches had to do without.
        await connection.exec_driver_sql(f"ANALYZE {seen}")
        await connection.exec_driver_sql("SET LOCAL enable_hashjoin = on")
        await connection.exec_driver_sql("SET LOCAL enable_mergejoin = on")
    result = await connection.execute(
        text(
            "DELETE FROM products WHERE merchant_id = :merchant AND NOT EXISTS "
            f"(SELECT 1 FROM {seen} s WHERE s.external_id = products.external_id)"
        ),
        {"merchant": merchant_id},
    )
    deleted = int(result.rowcount)
    if deleted and not force and deleted > max_delete_ratio * catalog:
        raise DeleteGuardTripped(deleted, catalog, max_delete_ratio)
    return deleted
