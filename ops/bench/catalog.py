"""The catalog import benchmark (issue 3): a generated 1,000,000-row product CSV (~330 MB)
imported through the real code path, against PostgreSQL's own COPY of the same file into a
table of the same shape (same indexes, same generated search column).

Each import runs in a child process, so its peak RSS is the import's alone; the target is
import at least half the COPY rate with peak RSS ≤ 250 MB. Also measured: an unchanged re-import
(nothing to write) and SQLite. `BENCH_CATALOG_ROWS` shrinks the file for a quick look.

    python -m ops.bench.catalog import DATABASE_URL MERCHANT_ID FILE   (the child)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ops.bench.merchants import bench_database, bench_merchant
from ops.bench.rows import BenchConfig, BenchRow

ROWS = int(os.environ.get("BENCH_CATALOG_ROWS", "1000000"))
MAX_RSS_MB = 250
COLUMNS = (
    "external_id",
    "title",
    "description",
    "price",
    "currency",
    "brand",
    "category",
    "availability",
    "url",
    "image_url",
)
_WORDS = [
    "red",
    "blue",
    "green",
    "black",
    "white",
    "cotton",
    "wool",
    "leather",
    "classic",
    "modern",
    "slim",
    "fit",
    "running",
    "shoe",
    "shirt",
    "jacket",
    "hoodie",
    "dress",
    "bag",
    "watch",
    "lamp",
    "chair",
    "table",
    "mug",
    "bottle",
    "phone",
    "case",
    "cable",
    "charger",
    "organic",
    "premium",
    "vintage",
    "waterproof",
    "travel",
]
_BRANDS = ("Acme", "Globex", "Initech", "Umbrella", "Northwind", "Summit")
_CATEGORIES = ("Apparel > Shirts", "Apparel > Shoes", "Home > Kitchen", "Electronics", "Outdoor")


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    status: str
    counts: dict[str, int]


def generate(path: Path, rows: int) -> None:
    """A realistic product CSV: 4-word titles, 30-word descriptions, prices, URLs."""
    import csv

    chooser = random.Random(3)  # noqa: S311 - test data, not secrets
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for i in range(rows):
            writer.writerow(
                (
                    f"SKU-{i:08d}",
                    " ".join(chooser.choices(_WORDS, k=4)).title(),
                    " ".join(chooser.choices(_WORDS, k=30)) + ".",
                    f"{chooser.randint(100, 99999) / 100:.2f}",
                    "USD",
                    chooser.choice(_BRANDS),
                    chooser.choice(_CATEGORIES),
                    chooser.choice(("in_stock", "in_stock", "out_of_stock")),
                    f"https://shop.example.com/p/{i}",
                    f"https://cdn.example.com/i/{i}.jpg",
                )
            )


async def _child_import(database_url: str, merchant_id: str, path: str) -> dict[str, object]:
    from app.db.engine import session_factory
    from app.services.catalog import importer, runs

    async with bench_database(database_url, pool_size=2) as engine:
        async with session_factory(engine)() as session:
            run = await runs.start_run(
                session,
                merchant_id=merchant_id,
                source="upload",
                trigger="upload",
                mode="incremental",
                force=False,
            )
        started = time.perf_counter()
        with open(path, "rb") as file:  # noqa: ASYNC230 - the benchmark's own child process
            outcome = await importer.import_file(
                engine, run, file, importer.ImportOptions(max_bytes=1 << 40)
            )
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "status": outcome.status,
        "error": outcome.error_message,
        "counts": {
            name: getattr(outcome, name)
            for name in ("rows_total", "created", "updated", "unchanged", "invalid")
        },
        # Linux reports kilobytes.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _measure(database_url: str, merchant_id: str, path: Path) -> Measured:
    output = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "ops.bench.catalog", "import", database_url, merchant_id, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if result["status"] != "succeeded":
        raise RuntimeError(f"the benchmark import failed: {result['error']}")
    return Measured(result["seconds"], result["peak_rss_mb"], result["status"], result["counts"])


async def _merchant(database_url: str) -> str:
    async with bench_database(database_url) as engine:
        return (await bench_merchant(engine)).merchant.id


async def _copy_rate(database_url: str, merchant_id: str, path: Path, rows: int) -> float:
    """PostgreSQL's COPY of the same file into a table shaped like `products`, in rows/s."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
    )
    try:
        # Same columns, indexes, constraints and generated search column; the columns the
        # file lacks get defaults instead of values computed by the importer.
        await connection.execute(
            f"""
            CREATE TABLE bench_copy (LIKE products INCLUDING ALL);
            ALTER TABLE bench_copy
                ALTER COLUMN id SET DEFAULT md5(random()::text),
                ALTER COLUMN merchant_id SET DEFAULT '{merchant_id}',
                ALTER COLUMN data SET DEFAULT '{{}}',
                ALTER COLUMN content_hash SET DEFAULT '',
                ALTER COLUMN created_at SET DEFAULT now(),
                ALTER COLUMN updated_at SET DEFAULT now();
            ALTER TABLE bench_copy ADD FOREIGN KEY (merchant_id) REFERENCES merchants (id);
            """
        )
        started = time.perf_counter()
        await connection.copy_to_table(
            "bench_copy", source=str(path), columns=list(COLUMNS), format="csv", header=True
        )
        seconds = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_copy")
    finally:
        await connection.close()
    return rows / seconds


def catalog_import(config: BenchConfig) -> BenchRow:
    """Import of a generated catalog vs PostgreSQL COPY of the same file (needs DATABASE_URL
    pointing at PostgreSQL); the name also reports peak RSS, the re-import and SQLite."""
    from app.db.migrate import upgrade
    from app.settings import normalize_database_url
    from ops.databases import migrated_database

    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql")):
        raise RuntimeError("the catalog benchmark needs DATABASE_URL=postgresql://...")
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as folder:
        path = Path(folder) / "catalog.csv"
        generate(path, ROWS)
        with migrated_database(server, prefix="ragassist_bench") as database_url:
            merchant_id = asyncio.run(_merchant(database_url))
            first = _measure(database_url, merchant_id, path)
            again = _measure(database_url, merchant_id, path)
            copy_rate = asyncio.run(_copy_rate(database_url, merchant_id, path, ROWS))
        sqlite_url = normalize_database_url(f"sqlite:///{Path(folder) / 'bench.db'}")
        upgrade(sqlite_url)
        sqlite = _measure(sqlite_url, asyncio.run(_merchant(sqlite_url)), path)
    peak = max(first.peak_rss_mb, again.peak_rss_mb, sqlite.peak_rss_mb)
    import_rate = ROWS / first.seconds
    size_mb = (ROWS * 330) / 1e6
    notes = (
        f"{ROWS:,} rows (~{size_mb:,.0f} MB) into PostgreSQL; peak RSS {peak:,.0f} MB "
        f"(≤ {MAX_RSS_MB}); unchanged re-import {ROWS / again.seconds:,.0f} rows/s; "
        f"SQLite {ROWS / sqlite.seconds:,.0f} rows/s"
    )
    if peak > MAX_RSS_MB:
        notes += " — MEMORY OVER BUDGET"
        import_rate = 0.0  # fails the row: memory is part of the target
    return BenchRow(
        name=f"catalog import: {notes}",
        baseline="PostgreSQL COPY, same file and table shape",
        baseline_value=copy_rate,
        subject_value=import_rate,
        unit="rows/s",
        target=0.5,
    )


if __name__ == "__main__":
    # The child process of `_measure`: a plain program, not a task, so it exits like one.
    if len(sys.argv) != 5 or sys.argv[1] != "import":
        raise SystemExit("usage: python -m ops.bench.catalog import DATABASE_URL MERCHANT_ID FILE")
    print(json.dumps(asyncio.run(_child_import(*sys.argv[2:]))))
