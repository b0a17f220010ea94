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

from loadtests.capacity import capacity_checks, read_report
from loadtests.gate import THRESHOLDS, Check, evaluate, journeys_ran, load_thresholds, read_stats
from loadtests.shapes import CAPACITY, SHAPE_NAMES
from ops.local import seed_demo_merchant
from ops.processes import uvicorn_process

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ORIGIN = "http://localhost:8001"
KEYS_ENV = ("LOADTEST_MERCHANT_ID", "LOADTEST_SECRET_KEY", "LOADTEST_PUBLISHABLE_KEY")


@task(
    help={
        "env": "local (a fresh SQLite API started for the run) or a deployed env, e.g. staging",
        "shape": f"load profile: {', '.join(SHAPE_NAMES)} (default smoke)",
        "host": "API base URL (default: local server, or the env's stack output apiBaseUrl)",
        "reports": "folder for the HTML and CSV reports (default reports/)",
        "outputs_file": "stack outputs JSON (`pulumi stack output --json`), for deployed envs",
        "step_seconds": f"capacity: seconds per step (default {CAPACITY.seconds})",
        "max_users": f"capacity: stop stepping here (default {CAPACITY.max_users})",
        "thresholds": "thresholds YAML (default loadtests/thresholds.yaml)",
    }
)
def loadtest(
    c: Context,
    env: str = "local",
    shape: str = "smoke",
    host: str = "",
    reports: str = "reports",
    outputs_file: str = "",
    step_seconds: int = CAPACITY.seconds,
    max_users: int = CAPACITY.max_users,
    thresholds: str = str(THRESHOLDS),
) -> None:
    """Load-test an environment with the Locust journeys; exits non-zero on a threshold breach.

    The capacity shape steps users up until a threshold breaks, reports the sustainable
    requests/s and its p95s, and fails if that fell by more than `capacity_drop_max` from the
    previous capacity report of the same env in `reports`.
    """
    if shape not in SHAPE_NAMES:
        raise Exit(f"unknown shape {shape!r}: expected one of {', '.join(SHAPE_NAMES)}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    prefix = Path(reports) / f"loadtest-{env}-{shape}-{stamp}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    previous = sorted(prefix.parent.glob(f"loadtest-{env}-capacity-*_capacity.json"))
    extra = {
        "LOADTEST_CAPACITY_REPORT": f"{prefix}_capacity.json",
        "LOADTEST_STEP_SECONDS": str(step_seconds),
        "LOADTEST_MAX_USERS": str(max_users),
        "LOADTEST_THRESHOLDS": str(Path(thresholds).resolve()),
    }
    if env == "local":
        with tempfile.TemporaryDirectory() as state, _local_api(Path(state)) as (base, keys):
            run_locust(
                host or base, shape, prefix, {**keys, **extra, "LOADTEST_ORIGIN": LOCAL_ORIGIN}
            )
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
        run_locust(host, shape, prefix, extra)
    _gate(prefix, shape, Path(thresholds), previous[-1] if previous else None)


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


def run_locust(
    host: str, shape: str, prefix: Path, env: dict[str, str], *, quiet: bool = False
) -> None:
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
    output = subprocess.DEVNULL if quiet else None
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, env=run_env, check=False, stdout=output, stderr=output
    )


def _gate(prefix: Path, shape: str, limits: Path, previous: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    stats, html = Path(f"{prefix}_stats.csv"), Path(f"{prefix}.html")
    if not stats.exists():
        raise Exit(f"Locust wrote no statistics ({stats}); see its output above")
    thresholds, console = load_thresholds(limits), Console()
    checks: list[Check]
    if shape == "capacity":
        report = Path(f"{prefix}_capacity.json")
        if not report.exists():
            raise Exit(f"the capacity shape judged no step ({report}); see Locust's output above")
        steps, held = read_report(report)
        steps_table = Table(title=f"capacity steps ({report})")
        for column in ("users", "requests/s", "errors", "p95 by group (ms)", "breached"):
            steps_table.add_column(column)
        for step in steps:
            p95s = ", ".join(f"{name} {p95:g}" for name, p95 in step.p95_ms.items())
            rps, errors = f"{step.rps:.1f}", f"{step.error_ratio:.2%}"
            steps_table.add_row(str(step.users), rps, errors, p95s, "; ".join(step.breaches))
        console.print(steps_table)
        if held is not None and not steps[-1].breaches:
            console.print(f"[yellow]no threshold broke up to {held.users} users[/yellow]")
        before = read_report(previous)[1] if previous is not None else None
        checks = journeys_ran(read_stats(stats), thresholds)
        checks += capacity_checks(steps, before, thresholds)
    else:
        checks = evaluate(read_stats(stats), thresholds, shape)
    table = Table(title=f"load test gate ({html})")
    for column in ("check", "limit", "actual", ""):
        table.add_column(column)
    for check in checks:
        verdict = "[green]ok[/green]" if check.passed else "[red]breached[/red]"
        table.add_row(check.what, check.limit, check.actual, verdict)
    console.print(table)
    if not all(check.passed for check in checks):
        raise Exit("load test thresholds breached", code=1)
