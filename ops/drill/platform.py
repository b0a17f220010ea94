"""The drill's production-shaped platform, on loopback ports of one machine.

Two API processes (`ragassist serve`) behind one address (ops/drill/proxy.py, the ALB's part),
two workers (`ragassist worker --metrics-port`), a throwaway PostgreSQL database, a Redis server
of its own (so stopping it disturbs nobody else's), Prometheus scraping all four processes with
the rules of alerts/rules.yaml, and Alertmanager sending to the drill's receiver. Everything is
stopped when the `platform()` block exits, whether it ends, fails or is interrupted.
"""

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import httpx
import yaml

from alerts.prometheus import render_rules_file
from alerts.rules import RuleSet, load_rules
from loadtests.data import SMALL_CATALOG
from ops.databases import migrated_database
from ops.local import seed_demo_merchant
from ops.processes import free_port

__all__ = ["DEFAULT_DATABASE", "Platform", "drill_rules_file", "platform", "scaled_rules"]

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
# Prometheus scrapes and evaluates every second: a compressed window of a few seconds still
# holds several samples, which `increase()` needs; ten seconds of them ride out a slow scrape.
TICK_SECONDS = 1
SHORTEST_WINDOW = 10
# Short retries and leases, so a failed or orphaned delivery is retried within the drill.
APP_ENV = {
    "ALLOW_PRIVATE_NETWORK_TARGETS": "true",
    "WEBHOOK_RETRY_SCHEDULE": ",".join(["1", "2", "3"] + ["5"] * 17),
    "WEBHOOK_TIMEOUT_SECONDS": "4",
    "WEBHOOK_LEASE_SECONDS": "6",
    "WORKER_POLL_SECONDS": "0.2",
    # A run whose worker died is marked `interrupted` (and announced) within seconds.
    "SYNC_RUN_STALE_SECONDS": "5",
    "RATE_LIMIT_SECRET": "100000/60",
    "RATE_LIMIT_PUBLISHABLE": "100000/60",
    "LOG_LEVEL": "WARNING",
    "CACHE_TTL_SECONDS": "0",
}


def scaled_rules(rules: RuleSet, scale: int) -> RuleSet:
    """The rules with every window divided by `scale` (never below SHORTEST_WINDOW seconds).

    Only time is compressed: thresholds, minimum volumes and "M of N" stay, so a fault must be
    as bad, and as sustained in windows, as in production. The production rules file is the one
    `invoke alerts.render` writes; this one exists only in the drill's temporary folder.
    """

    def scaled(seconds: int) -> int:
        return max(SHORTEST_WINDOW, seconds // scale)

    return replace(
        rules,
        rules=tuple(
            replace(
                rule,
                window_seconds=scaled(rule.window_seconds),
                slo=replace(rule.slo, short_window_seconds=scaled(rule.slo.short_window_seconds))
                if rule.slo
                else None,
            )
            for rule in rules
        ),
    )


def drill_rules_file(rules: RuleSet, scale: int) -> str:
    document = yaml.safe_load(render_rules_file(scaled_rules(rules, scale)))
    for group in document["groups"]:
        group["interval"] = f"{TICK_SECONDS}s"
    return str(yaml.safe_dump(document, sort_keys=False, width=100))


class Processes:
    """Child processes by name, each logging to its own file; all stopped at exit."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log: IO[bytes] = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown handler runs, as when a task is OOM-killed."""
        process = self.running.pop(name)
        process.kill()
        process.wait()

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Platform:
    workdir: Path
    processes: Processes
    env: dict[str, str]
    database_url: str
    redis_port: int
    proxy: str = ""
    apis: list[str] = field(default_factory=list)
    worker_ports: dict[str, int] = field(default_factory=dict)
    prometheus: str = ""
    alertmanager: str = ""
    merchant_id: str = ""
    secret_key: str = ""
    publishable_key: str = ""
    origin: str = "http://localhost:8001"

    def start_redis(self) -> None:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port)]
        argv += ["--save", "", "--appendonly", "no"]
        self.processes.start("redis", argv, self.env)
        _wait(lambda: _redis_ping(self.redis_port), "redis-server", self.processes, "redis")

    def stop_redis(self) -> None:
        self.processes.stop("redis")

    def start_worker(self, name: str) -> None:
        self.launch_worker(name)
        self.wait_worker(name)

    def launch_worker(self, name: str) -> None:
        """Start the worker without waiting for it: several start-ups overlap."""
        port = self.worker_ports.setdefault(name, free_port())
        argv = [*_ragassist(), "worker", "--metrics-port", str(port)]
        self.processes.start(name, argv, self.env)

    def wait_worker(self, name: str) -> None:
        port = self.worker_ports[name]
        _wait_http(f"http://127.0.0.1:{port}/metrics", self.processes, name)

    def secret(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    def widget(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable_key}", "Origin": self.origin}

    def query(self, promql: str) -> list[dict[str, object]]:
        response = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql})
        response.raise_for_status()
        result: list[dict[str, object]] = response.json()["data"]["result"]
        return result

    def sql(self, statement: str, *args: object) -> list[tuple[object, ...]]:
        import asyncpg

        async def run() -> list[tuple[object, ...]]:
            connection = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
            try:
                return [tuple(row) for row in await connection.fetch(statement, *args)]
            finally:
                await connection.close()

        return asyncio.run(run())


@contextmanager
def platform(
    base_database: str, receiver_base: str, *, scale: int, progress: Callable[[str], None]
) -> Iterator[Platform]:
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ragassist-drill-")))
        progress("database")
        database_url = stack.enter_context(migrated_database(base_database, prefix="drill"))
        # Registered after the database, so processes stop before it is dropped, and before
        # the folder holding their logs goes.
        processes = Processes(workdir)
        stack.callback(processes.stop_all)
        redis_port = free_port()
        env = {
            **os.environ,
            **APP_ENV,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        }
        plat = Platform(workdir, processes, env, database_url, redis_port)
        progress("redis-server")
        plat.start_redis()
        progress("merchant")
        from app.settings import load_settings

        demo = seed_demo_merchant(
            load_settings(DATABASE_URL=database_url, REDIS_URL=env["REDIS_URL"]),
            workdir / "merchant.json",
        )
        plat.merchant_id, plat.secret_key = demo.merchant_id, demo.secret_key
        plat.publishable_key = demo.publishable_key
        progress("API processes, workers and the proxy")
        # All started before any is waited for: each spends seconds importing the app, and
        # those start-ups overlap rather than add up.
        for n in (1, 2):
            port = free_port()
            argv = [*_ragassist(), "serve", "--port", str(port)]
            processes.start(f"api-{n}", argv, env)
            plat.apis.append(f"http://127.0.0.1:{port}")
        for n in (1, 2):
            plat.launch_worker(f"worker-{n}")
        proxy_port = free_port()
        backends = [base.removeprefix("http://") for base in plat.apis]
        argv = [sys.executable, "-m", "ops.drill.proxy", str(proxy_port), *backends]
        processes.start("proxy", argv, env)
        plat.proxy = f"http://127.0.0.1:{proxy_port}"
        alertmanager = _launch_alertmanager(plat, receiver_base)
        for n, base in enumerate(plat.apis, 1):
            _wait_http(f"{base}/healthz", processes, f"api-{n}")
        for n in (1, 2):
            plat.wait_worker(f"worker-{n}")
        _wait_http(f"{plat.proxy}/healthz", processes, "proxy")
        progress("Alertmanager and Prometheus")
        _wait_http(alertmanager, plat.processes, "alertmanager")
        _start_prometheus(plat, scale)
        _setup_merchant(plat, receiver_base)
        yield plat


def _ragassist() -> list[str]:
    # The worktree's code, whatever `ragassist` on PATH points at.
    return [sys.executable, "-c", "import sys; from app.cli import main; sys.exit(main())"]


def _launch_alertmanager(plat: Platform, receiver_base: str) -> str:
    """Start Alertmanager; the URL that answers once it is ready."""
    config = {
        "route": {
            "receiver": "drill",
            "group_by": ["alertname"],
            # Notify at once and on every change: the drill times each alert.
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "drill",
                "webhook_configs": [{"url": f"{receiver_base}/alerts", "send_resolved": True}],
            }
        ],
    }
    path = plat.workdir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = ["prometheus-alertmanager", f"--config.file={path}"]
    argv += [f"--storage.path={plat.workdir / 'alertmanager'}"]
    argv += [f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    plat.processes.start("alertmanager", argv, plat.env)
    plat.alertmanager = f"http://127.0.0.1:{port}"
    return f"{plat.alertmanager}/-/ready"


def _start_prometheus(plat: Platform, scale: int) -> None:
    rules = plat.workdir / "rules.yml"
    rules.write_text(drill_rules_file(load_rules(), scale))
    targets = [base.removeprefix("http://") for base in plat.apis]
    targets += [f"127.0.0.1:{port}" for port in plat.worker_ports.values()]
    config = {
        "global": {
            "scrape_interval": f"{TICK_SECONDS}s",
            "evaluation_interval": f"{TICK_SECONDS}s",
        },
        "rule_files": [str(rules)],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [plat.alertmanager.removeprefix("http://")]}]}
            ]
        },
        "scrape_configs": [{"job_name": "ragassist", "static_configs": [{"targets": targets}]}],
    }
    path = plat.workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    argv = ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={plat.workdir / 'tsdb'}"]
    # Prometheus tells Alertmanager a firing alert ends 4 resend delays later unless re-sent; on
    # a busy machine 4 s lapse between sends and the alert flaps. Resolutions go out at once.
    argv += [f"--web.listen-address=127.0.0.1:{port}", "--rules.alert.resend-delay=5s"]
    plat.processes.start("prometheus", argv, plat.env)
    plat.prometheus = f"http://127.0.0.1:{port}"
    _wait_http(f"{plat.prometheus}/-/ready", plat.processes, "prometheus")

    def all_up() -> bool:
        return len(plat.query("up == 1")) == len(targets)

    _wait(all_up, "Prometheus scraping every process", plat.processes, "prometheus")


def _setup_merchant(plat: Platform, receiver_base: str) -> None:
    """A catalog to chat about and a webhook endpoint at the receiver."""
    with httpx.Client(base_url=plat.proxy, headers=plat.secret(), timeout=60) as client:
        # The endpoint first: every event of the drill then has somewhere to go.
        client.post(
            "/api/webhooks/endpoints", json={"url": f"{receiver_base}/hooks"}
        ).raise_for_status()
        client.post(
            f"/api/merchants/{plat.merchant_id}/products/upload",
            params={"wait": "true"},
            files={"file": ("catalog.csv", SMALL_CATALOG, "text/csv")},
        ).raise_for_status()


def _redis_ping(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def _wait_http(url: str, processes: Processes, name: str) -> None:
    def ready() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.TransportError:
            return False

    _wait(ready, url, processes, name)


def _wait(check: Callable[[], bool], what: str, processes: Processes, name: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        process = processes.running.get(name)
        if time.monotonic() > deadline or (process is not None and process.poll() is not None):
            raise RuntimeError(f"{what} did not come up:\n{processes.tail(name)}")
        time.sleep(0.2)
