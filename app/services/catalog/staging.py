"""The staging tables: each batch of valid rows lands here before it is applied.

Temporary tables of the run's own connection: nothing else sees them, and the database drops
them with the connection after a crash. `sync_batch` holds the batch in hand (PostgreSQL gets
it through COPY, SQLite through one executemany); `sync_seen` remembers every id of the run
(to spot duplicates across batches, and for the deletions of `mode: full`).
"""

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.models import Money
from app.ids import new_id
from app.services.catalog.records import ProductRecord

COLUMNS = (
    "row",
    "id",
    "external_id",
    "source_id",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "compare_at_price",
    "currency",
    "availability",
    "url",
    "image_url",
    "data",
    "max_price",
    "variants",
    "visible_to_shoppers",
    "colours",
    "content_hash",
)
# The product columns a run writes (all but `row`, which is the file's row number).
PRODUCT_COLUMNS = COLUMNS[1:]
_TYPES = {
    "row": "INTEGER",
    "price": "NUMERIC(18, 4)",
    "compare_at_price": "NUMERIC(18, 4)",
    "max_price": "NUMERIC(18, 4)",
    "visible_to_shoppers": "BOOLEAN",
}
_SQLITE_TYPES = {
    "row": "INTEGER",
    "price": "INTEGER",
    "compare_at_price": "INTEGER",
    "max_price": "INTEGER",
    "visible_to_shoppers": "INTEGER",
}
_SCALE = Decimal(10) ** Money.SCALE
_QUANTUM = Decimal(1).scaleb(-Money.SCALE)
BATCH = "sync_batch"
SEEN = "sync_seen"

StagedRow = tuple[Any, ...]


def is_sqlite(connection: AsyncConnection) -> bool:
    return connection.dialect.name == "sqlite"


def _json(value: dict[str, Any] | list[dict[str, Any]], empty: str) -> str:
    if not value:
        return empty
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _data_json(record: ProductRecord) -> str:
    return _json(record.data, "{}")


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(_QUANTUM) if value is not None else None


def content_hash(
    record: ProductRecord, data: str | None = None, variants: str | None = None
) -> str:
    """A digest of everything a run would write: equal digests mean nothing to update."""
    values = (
        record.external_id,
        record.source_id,
        record.title,
        record.description,
        record.brand,
        record.category,
        _money(record.price),
        _money(record.compare_at_price),
        record.currency,
        record.availability,
        record.url,
        record.image_url,
        _data_json(record) if data is None else data,
        _money(record.max_price),
        _json(record.variants, "[]") if variants is None else variants,
        record.visible_to_shoppers,
    )
    text = "\x1f".join("" if value is None else str(value) for value in values)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _ten_thousandths(value: Decimal | None) -> int | None:
    money = _money(value)
    return int(money * _SCALE) if money is not None else None


def staged_row(row: int, record: ProductRecord, *, sqlite: bool) -> StagedRow:
    """The row as the staging table stores it, with its content hash."""
    data, variants = _data_json(record), _json(record.variants, "[]")
    visible: bool | int = record.visible_to_shoppers
    price: Decimal | int | None
    compare_at: Decimal | int | None
    max_price: Decimal | int | None
    if sqlite:
        # SQLite keeps prices as integer ten-thousandths (see app.db.models.Money).
        price = _ten_thousandths(record.price)
        compare_at = _ten_thousandths(record.compare_at_price)
        max_price = _ten_thousandths(record.max_price)
        visible = int(visible)
    else:
        price = _money(record.price)
        compare_at = _money(record.compare_at_price)
        max_price = _money(record.max_price)
    return (
        row,
        new_id("prd"),
        record.external_id,
        record.source_id,
        record.title,
        record.description,
        record.brand,
        record.category,
        price,
        compare_at,
        record.currency,
        record.availability,
        record.url,
        record.image_url,
        data,
        max_price,
        variants,
        visible,
        record.colours,
        content_hash(record, data, variants),
    )


def table(connection: AsyncConnection, name: str) -> str:
    """A staging table's name, qualified so that no permanent table is ever meant."""
    return f"temp.{name}" if is_sqlite(connection) else f"pg_temp.{name}"


async def create(connection: AsyncConnection) -> None:
    types = _SQLITE_TYPES if is_sqlite(connection) else _TYPES
    columns = ", ".join(f"{name} {types.get(name, 'TEXT')}" for name in COLUMNS)
    await drop(connection)
    await connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {BATCH} ({columns})")
    await connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {SEEN} (external_id TEXT PRIMARY KEY, row INTEGER NOT NULL)"
    )


async def write(connection: AsyncConnection, rows: Sequence[StagedRow]) -> None:
    if not rows:
        return
    if is_sqlite(connection):
        marks = ", ".join("?" for _ in COLUMNS)
        await connection.exec_driver_sql(
            f"INSERT INTO {table(connection, BATCH)} VALUES ({marks})",  # noqa: S608 - constants
            list(rows),
        )
        return
    raw = (await connection.get_raw_connection()).driver_connection
    if raw is None:
        raise RuntimeError("the staging connection was closed")
    await raw.copy_records_to_table(BATCH, records=rows, columns=COLUMNS, schema_name="pg_temp")


async def drop(connection: AsyncConnection) -> None:
    for name in (BATCH, SEEN):
        await connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table(connection, name)}")
