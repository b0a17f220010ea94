"""The faults the runbooks are for, caused in the real app: an API process (`ragassist serve`)
and a worker (`ragassist worker`), each writing its own stderr as its log group does in AWS,
both publishing metrics to CloudWatch (moto server) as in production.

Caused: an upload that fails (API), a scheduled feed pull that fails (worker), a webhook
receiver answering 500 (worker), a refused origin, a failed widget load beacon, a 503 from a
disabled feature and a 500 from a broken database table (API).
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from app.db.migrate import upgrade
from app.settings import normalize_database_url
from ops.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENT = "prod"  # the runbooks' commands are written for prod
NAMESPACE = "RagAssist"
EVIL_ORIGIN = "https://evil.test"
# Three rows, none with a title: far above the 10% error threshold, so the run fails.
BAD_CSV = b"id,title,price\nsku-1,,12.00\nsku-2,,13.00\nsku-3,,14.00\n"


@dataclass(frozen=True)
class Emitted:
    merchant_id: str
    lines: dict[str, list[dict[str, Any]]]  # log group ("api", "worker") -> JSON lines
    raw: dict[str, list[str]]
    metrics: str  # the API's /metrics after the scenario


class FailingReceiver:
    """Answers 500 to everything: the merchant's webhook endpoint and feed host are down."""

    def __init__(self) -> None:
        self.posts = 0
        self.gets = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                self.send_response(500)
                self.send_header("content-length", "5")
                self.end_headers()
                self.wfile.write(b"boom!")

            def do_POST(self) -> None:
                receiver.posts += 1
                self._fail()

            def do_GET(self) -> None:
                receiver.gets += 1
                self._fail()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FailingReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *argv],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            # SIGTERM, as ECS stops a task: the final CloudWatch flush happens on the way out.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _env(tmp: Path, database_url: str, moto_url: str, flags: Path) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "FLAG_", "DATABASE_", "REDIS_", "CLOUDWATCH_"))
    }
    return {
        **inherited,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "LOG_LEVEL": "INFO",
        "RAGASSIST_ENV": ENVIRONMENT,
        "ADMIN_ORIGINS": "https://admin.example.com",
        "ALLOW_PRIVATE_NETWORK_TARGETS": "true",
        "FLAGS_SOURCE": f"file:{flags}",
        "FLAGS_CACHE_SECONDS": "0",
        "WEBHOOK_RETRY_SCHEDULE": "0.3,0.6,1.2",
        "WEBHOOK_TIMEOUT_SECONDS": "2",
        "WORKER_POLL_SECONDS": "0.05",
        "CLOUDWATCH_NAMESPACE": NAMESPACE,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


def run_scenario(tmp: Path, moto_url: str) -> Emitted:
    database = tmp / "scenario.db"
    database_url = f"sqlite:///{database}"
    upgrade(normalize_database_url(database_url))
    flags = tmp / "flags.json"
    flags.write_text("{}")
    env = _env(tmp, database_url, moto_url, flags)
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "merchants",
            "create",
            "--name",
            "Shop",
            "--json",
            "--domain",
            "shop.example.com",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    merchant = json.loads(created.stdout)
    secret = {"Authorization": f"Bearer {merchant['secretKey']}"}
    widget = {"Authorization": f"Bearer {merchant['publishableKey']}"}
    base = f"/api/merchants/{merchant['merchantId']}"
    logs = {"api": tmp / "api.log", "worker": tmp / "worker.log"}
    port = free_port()
    with (
        FailingReceiver() as receiver,
        _process(["serve", "--port", str(port)], env, logs["api"]) as api,
        _process(["worker"], env, logs["worker"]),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
    ):
        _wait(lambda: _answers(client) or api.poll() is not None, "the API")
        assert api.poll() is None, logs["api"].read_text()[-3000:]
        _wait(lambda: '"worker started"' in logs["worker"].read_text(), "the worker")

        hook = {"url": f"{receiver.url}/hooks", "eventTypes": ["sync.failed"]}
        assert client.post("/api/webhooks/endpoints", headers=secret, json=hook).status_code == 201
        # An upload whose rows are all invalid: the run fails in the API...
        upload = client.post(
            f"{base}/products/upload",
            params={"wait": "true"},
            headers={**secret, "Content-Type": "text/csv"},
            content=BAD_CSV,
        )
        assert upload.json()["data"]["status"] == "failed", upload.text
        # ...its sync.failed event reaches a receiver that answers 500, from the worker...
        _wait(lambda: receiver.posts >= 2, "failed webhook deliveries")
        # ...and a scheduled feed pull from a host answering 500 fails in the worker.
        config = {
            "source": {"type": "url", "url": f"{receiver.url}/feed.csv"},
            "schedule": {"intervalMinutes": 15},
        }
        assert client.put(f"{base}/sync/config", headers=secret, json=config).status_code == 200
        _wait(lambda: _failed_feed_run(client, base, secret), "the failed feed pull")

        refused = client.get("/api/widget/config", headers={"Origin": EVIL_ORIGIN, **widget})
        assert refused.status_code == 403
        beacon = {"type": "widget_load_failed", "code": "integrity", "widgetVersion": "1.4.2"}
        beaconed = client.post(
            "/api/widget/events",
            headers={"Origin": "https://shop.example.com", **widget},
            json={"events": [beacon]},
        )
        assert beaconed.status_code < 300, beaconed.text

        flags.write_text(json.dumps({"product_sync_enabled": False}))
        assert client.get(f"{base}/sync/config", headers=secret).status_code == 503
        # A table gone from under the running API: an unhandled error, logged with its trace.
        with sqlite3.connect(database) as connection:
            connection.execute("ALTER TABLE chat_messages RENAME TO chat_messages_lost")
        assert client.get("/api/analytics/summary", headers=secret).status_code == 500
        metrics = client.get("/metrics").text
        _wait(lambda: "webhook delivery failed" in logs["worker"].read_text(), "the worker log")

    raw = {group: path.read_text().splitlines() for group, path in logs.items()}
    lines = {group: [_json(line) for line in text if line.strip()] for group, text in raw.items()}
    return Emitted(merchant["merchantId"], lines, raw, metrics)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _failed_feed_run(client: httpx.Client, base: str, secret: dict[str, str]) -> bool:
    runs = client.get(f"{base}/sync/history", headers=secret).json()["data"]
    items = runs["items"] if isinstance(runs, dict) else runs
    return any(run["source"] == "feed" and run["status"] == "failed" for run in items)


def _json(line: str) -> dict[str, Any]:
    try:
        parsed = json.loads(line)
    except ValueError:
        parsed = None
    assert isinstance(parsed, dict), f"not a JSON log line: {line[:300]}"
    return parsed
