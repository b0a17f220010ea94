"""`invoke bench`: performance targets measured as ratios against a baseline in the same run.

Machines here are noisy, so no row compares against a fixed number of requests per second:
each runs its subject and a baseline under the same server settings, interleaved, and reports
subject/baseline. One module per area (`api`, `webhooks`, `catalog`, `chat`); add a benchmark
by adding its function to `BENCHMARKS`.
"""

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from invoke import Context, Exit, task

from ops.bench.api import api_middleware_overhead
from ops.bench.catalog import catalog_import
from ops.bench.chat import CHAT_BENCHMARKS
from ops.bench.portal import portal_render
from ops.bench.retrieval import RETRIEVAL_BENCHMARKS
from ops.bench.rows import BenchConfig, BenchRow
from ops.bench.webhooks import webhook_delivery_rate

# In table order.
BENCHMARKS: list[Callable[[BenchConfig], BenchRow]] = [
    api_middleware_overhead,
    webhook_delivery_rate,
    catalog_import,
    *CHAT_BENCHMARKS,
    *RETRIEVAL_BENCHMARKS,
    portal_render,
]


@task(
    help={
        "duration": "seconds per measurement (default 3)",
        "connections": "concurrent connections (default 32)",
        "rounds": "interleaved rounds per side; the median counts (default 5)",
        "json_out": "also write the rows as JSON to this file",
        "only": "comma-separated benchmark names to run (default all), e.g. chat_round_trip",
    }
)
def bench(
    c: Context,
    duration: int = 3,
    connections: int = 32,
    rounds: int = 5,
    json_out: str = "",
    only: str = "",
) -> None:
    """Run the benchmarks and print subject/baseline ratios against their targets."""
    from rich.console import Console
    from rich.table import Table

    if shutil.which("wrk") is None:
        raise Exit("invoke bench needs wrk: apt-get install -y wrk", code=1)
    config = BenchConfig(duration=duration, connections=connections, rounds=rounds)
    console = Console()
    selected = BENCHMARKS
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        unknown = wanted - {benchmark.__name__ for benchmark in selected}
        if unknown:
            names = ", ".join(benchmark.__name__ for benchmark in selected)
            wrong = ", ".join(sorted(unknown))
            raise Exit(f"unknown benchmark {wrong}: expected some of {names}", code=1)
        selected = [benchmark for benchmark in selected if benchmark.__name__ in wanted]
    rows = []
    for benchmark in selected:
        with console.status(f"{benchmark.__name__}…"):
            rows.append(benchmark(config))
    table = Table(title="invoke bench (ratios against a baseline in the same run)")
    for column in ("benchmark", "baseline", "baseline", "subject", "ratio", "target", ""):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.name,
            row.baseline,
            f"{row.baseline_value:,.0f} {row.unit}",
            f"{row.subject_value:,.0f} {row.unit}",
            f"{row.ratio:.2f}",
            f"≥ {row.target:.2f}",
            "[green]ok[/green]" if row.passed else "[red]below target[/red]",
        )
    console.print(table)
    if json_out:
        Path(json_out).write_text(
            json.dumps([{**asdict(row), "ratio": row.ratio} for row in rows], indent=2)
        )
    if not all(row.passed for row in rows):
        raise Exit("some benchmarks are below their target", code=1)
