"""`invoke loadtest`: run the Locust journeys, write HTML + CSV reports, gate on thresholds."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from invoke import Context, Exit, task

from loadtests.gate import evaluate, load_thresholds, read_stats
from loadtests.shapes import SHAPES
from ops.local import seed_demo_merchant
from ops.processes import uvicorn_process

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ORIGIN = "http://localhost:8001"
KEYS_ENV = ("LOADTEST_MERCHANT_ID", "LOADTEST_SECRET_KEY", "LOADTEST_PUBLISHABLE_KEY")


@task(
    help={
        "env": "local (a fresh SQLite API started for the run) or a deployed env, e.g. staging",
        "shape": f"load profile: {', '.join(SHAPES)} (default smoke)",
        "host": "API base URL (default: local server, or the env's stack output apiBaseUrl)",
        "reports": "folder for the HTML and CSV reports (default reports/)",
        "outputs_file": "stack outputs JSON (`pulumi stack output --json`), for deployed envs",
    }
)
def loadtest(
    c: Context,
    env: str = "local",
    shape: str = "smoke",
    host: str = "",
    reports: str = "reports",
    outputs_file: str = "",
) -> None:
    """Load-test an environment with the Locust journeys; exits non-zero on a threshold breach."""
    if shape not in SHAPES:
        raise Exit(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    prefix = Path(reports) / f"loadtest-{env}-{shape}-{stamp}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if env == "local":
        with tempfile.TemporaryDirectory() as state, _local_api(Path(state)) as (base, keys):
            _run_locust(host or base, shape, prefix, {**keys, "LOADTEST_ORIGIN": LOCAL_ORIGIN})
    else:
        missing = [name for name in KEYS_ENV if not os.environ.get(name)]
        if missing:
            raise Exit(
                f"set {', '.join(missing)} to a load-test merchant's id and keys in {env} "
                "(never a real merchant's)"
            )
        if not host:
            from ops.aws import stack_outputs

            host = stack_outputs(env, outputs_file).api_base_url
        _run_locust(host, shape, prefix, {})
    _gate(Path(f"{prefix}_stats.csv"), Path(f"{prefix}.html"))


@contextmanager
def _local_api(state: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A fresh API on SQLite with a load-test merchant and a small catalog."""
    from app.db.migrate import upgrade
    from app.settings import load_settings
    from loadtests.data import SMALL_CATALOG

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{state / 'loadtest.db'}",
        "RATE_LIMIT_SECRET": "100000/60",
        "RATE_LIMIT_PUBLISHABLE": "100000/60",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    settings = load_settings(DATABASE_URL=env["DATABASE_URL"], REDIS_URL="")
    upgrade(settings.database_url)
    demo = seed_demo_merchant(settings, state / "merchant.json")
    with uvicorn_process("app.main:app", env, ready_path="/healthz") as base:
        response = httpx.post(
            f"{base}/api/merchants/{demo.merchant_id}/products/upload",
            params={"wait": "true"},
            files={"file": ("catalog.csv", SMALL_CATALOG, "text/csv")},
            headers={"Authorization": f"Bearer {demo.secret_key}"},
            timeout=60,
        )
        response.raise_for_status()
        yield (
            base,
            {
                "LOADTEST_MERCHANT_ID": demo.merchant_id,
                "LOADTEST_SECRET_KEY": demo.secret_key,
                "LOADTEST_PUBLISHABLE_KEY": demo.publishable_key,
            },
        )


def _run_locust(host: str, shape: str, prefix: Path, env: dict[str, str]) -> None:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "loadtests" / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--html",
        f"{prefix}.html",
        "--only-summary",
    ]
    run_env = {**os.environ, **env, "LOADTEST_SHAPE": shape, "PYTHONPATH": str(ROOT)}
    # Locust's own exit code reflects any failed request; the thresholds decide instead.
    subprocess.run(argv, env=run_env, check=False)  # noqa: S603 - fixed argv, no shell


def _gate(stats: Path, html: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    if not stats.exists():
        raise Exit(f"Locust wrote no statistics ({stats}); see its output above")
    checks = evaluate(read_stats(stats), load_thresholds())
    table = Table(title=f"load test gate ({html})")
    for column in ("check", "limit", "actual", ""):
        table.add_column(column)
    for check in checks:
        verdict = "[green]ok[/green]" if check.passed else "[red]breached[/red]"
        table.add_row(check.what, check.limit, check.actual, verdict)
    Console().print(table)
    if not all(check.passed for check in checks):
        raise Exit("load test thresholds breached", code=1)
