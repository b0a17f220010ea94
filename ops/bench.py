"""`invoke bench`: performance targets measured as ratios against a baseline in the same run.

Machines here are noisy, so no row compares against a fixed number of requests per second:
each runs its subject and a baseline under the same server settings, interleaved, and reports
subject/baseline. Add a benchmark by adding its function to `benchmarks()`.
"""

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from invoke import Context, task
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ops.processes import uvicorn_process


async def _hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


# The baseline: bare Starlette, served by the same uvicorn settings as the app.
hello_app = Starlette(routes=[Route("/", _hello)])


@dataclass(frozen=True, slots=True)
class BenchConfig:
    duration: int
    connections: int
    rounds: int


@dataclass(frozen=True, slots=True)
class BenchRow:
    name: str
    baseline: str
    baseline_value: float
    subject_value: float
    unit: str
    target: float  # minimum subject/baseline ratio

    @property
    def ratio(self) -> float:
        return self.subject_value / self.baseline_value if self.baseline_value else 0.0

    @property
    def passed(self) -> bool:
        return self.ratio >= self.target


@dataclass(frozen=True, slots=True)
class PairedBenchRow(BenchRow):
    """A row whose sides were measured in back-to-back pairs, in alternating order. This
    machine's speed drifts by a third within a minute (other tenants), so each pair's ratio is
    taken while both sides saw the same conditions, and the row reports their median."""

    pair_ratios: tuple[float, ...]

    @property
    def ratio(self) -> float:
        return statistics.median(self.pair_ratios)


def _wrk(url: str, config: BenchConfig, headers: dict[str, str]) -> float:
    argv = ["wrk", "-t1", f"-c{config.connections}", f"-d{config.duration}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    output = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [*argv, url], check=True, capture_output=True, text=True
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        raise RuntimeError(f"{url} answered {bad[1]} non-2xx responses during the benchmark")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]


def _bench_merchant_key(env: dict[str, str]) -> str:
    from app.db.engine import create_engine, session_factory
    from app.db.migrate import upgrade
    from app.services.merchants import create_merchant
    from app.settings import load_settings

    settings = load_settings(DATABASE_URL=env["DATABASE_URL"])
    upgrade(settings.database_url)

    async def create() -> str:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with session_factory(engine)() as session:
                created = await create_merchant(session, name="bench", domains=[])
            return created.secret_key.plaintext
        finally:
            await engine.dispose()

    return asyncio.run(create())


def api_middleware_overhead(config: BenchConfig) -> BenchRow:
    """Authenticated, rate-limited GET /api/permissions vs a bare Starlette hello-world."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{Path('.ragassist/bench.db')}")
    # The limiter runs on every request but never says no: we measure its cost, not its 429s.
    env["RATE_LIMIT_SECRET"] = "1000000000/60"  # noqa: S105 - a rate, not a secret
    env["LOG_LEVEL"] = "WARNING"
    key = _bench_merchant_key(env)
    baseline_runs, subject_runs = [], []
    with (
        uvicorn_process("ops.bench:hello_app", env) as hello,
        uvicorn_process("app.main:app", env, ready_path="/healthz") as api,
    ):
        _wrk(hello + "/", BenchConfig(2, config.connections, 1), {})  # warm-up
        _wrk(api + "/api/permissions", BenchConfig(2, config.connections, 1), _auth(key))
        for round_ in range(config.rounds):
            # Back to back, the first side alternating, so drift favours neither.
            if round_ % 2 == 0:
                baseline_runs.append(_wrk(hello + "/", config, {}))
            subject_runs.append(_wrk(api + "/api/permissions", config, _auth(key)))
            if round_ % 2 == 1:
                baseline_runs.append(_wrk(hello + "/", config, {}))
    backends = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite"
    backends += " + Redis limiter" if env.get("REDIS_URL") else " + in-process limiter"
    return PairedBenchRow(
        name=f"GET /api/permissions, auth + rate limit ({backends})",
        baseline="bare Starlette hello-world",
        baseline_value=statistics.median(baseline_runs),
        subject_value=statistics.median(subject_runs),
        unit="req/s",
        target=0.5,
        pair_ratios=tuple(
            subject / base for subject, base in zip(subject_runs, baseline_runs, strict=True)
        ),
    )


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def benchmarks() -> list[Callable[[BenchConfig], BenchRow]]:
    """Every benchmark, in table order. Imported here, not at the top: their modules import
    BenchConfig and BenchRow from this one."""
    from ops.bench_catalog import catalog_import
    from ops.bench_chat import CHAT_BENCHMARKS
    from ops.bench_portal import portal_render
    from ops.bench_retrieval import RETRIEVAL_BENCHMARKS
    from ops.bench_webhooks import webhook_delivery_rate

    return [
        api_middleware_overhead,
        webhook_delivery_rate,
        catalog_import,
        *CHAT_BENCHMARKS,
        portal_render,
        *RETRIEVAL_BENCHMARKS,
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
        sys.exit("invoke bench needs wrk: apt-get install -y wrk")
    config = BenchConfig(duration=duration, connections=connections, rounds=rounds)
    console = Console()
    selected = benchmarks()
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        unknown = wanted - {benchmark.__name__ for benchmark in selected}
        if unknown:
            names = ", ".join(benchmark.__name__ for benchmark in selected)
            sys.exit(f"unknown benchmark {', '.join(sorted(unknown))}: expected some of {names}")
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
        sys.exit(1)
