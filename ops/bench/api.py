"""The request path's cost: an authenticated, rate-limited API call vs bare Starlette."""

import asyncio
import os
import re
import statistics
import subprocess
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ops.bench.merchants import bench_database, bench_merchant
from ops.bench.rows import BenchConfig, BenchRow, PairedBenchRow
from ops.processes import uvicorn_process


async def _hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


# The baseline: bare Starlette, served by the same uvicorn settings as the app.
hello_app = Starlette(routes=[Route("/", _hello)])


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
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise RuntimeError(f"wrk printed no Requests/sec for {url}:\n{output}")
    return float(rate[1])


def _bench_merchant_key(database_url: str) -> str:
    from app.db.migrate import upgrade
    from app.settings import normalize_database_url

    upgrade(normalize_database_url(database_url))

    async def create() -> str:
        async with bench_database(database_url) as engine:
            return (await bench_merchant(engine)).secret_key.plaintext

    return asyncio.run(create())


def api_middleware_overhead(config: BenchConfig) -> BenchRow:
    """Authenticated, rate-limited GET /api/permissions vs a bare Starlette hello-world."""
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{Path('.ragassist/bench.db')}")
    # The limiter runs on every request but never says no: we measure its cost, not its 429s.
    env["RATE_LIMIT_SECRET"] = "1000000000/60"  # noqa: S105 - a rate, not a secret
    env["LOG_LEVEL"] = "WARNING"
    key = _bench_merchant_key(env["DATABASE_URL"])
    baseline_runs, subject_runs = [], []
    with (
        uvicorn_process("ops.bench.api:hello_app", env) as hello,
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
