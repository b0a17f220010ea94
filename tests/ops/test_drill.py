"""`invoke drill`: compressed rules that Prometheus accepts, the proxy, and the short drill run
end to end (real PostgreSQL, Redis, Prometheus and Alertmanager; CI installs the last two)."""

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from alerts.prometheus import render_rules_file
from alerts.rules import load_rules
from ops.drill.faults import SHORT
from ops.drill.platform import drill_rules_file, scaled_rules
from ops.drill.receiver import AlertNote
from ops.drill.report import Outcome
from ops.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_drill_compresses_time_only() -> None:
    rules = load_rules()
    drill = scaled_rules(rules, 60)
    for production, scaled in zip(rules, drill, strict=True):
        assert scaled.window_seconds == max(10, production.window_seconds // 60)
        assert (scaled.threshold, scaled.min_volume) == (
            production.threshold,
            production.min_volume,
        )
        assert (scaled.datapoints_to_alarm, scaled.evaluation_periods) == (
            production.datapoints_to_alarm,
            production.evaluation_periods,
        )
    by_name = {rule.name: rule for rule in drill}
    assert by_name["ProductSyncFailureRate"].window_seconds == 60
    assert by_name["WebhookFailureRate"].window_seconds == 15


def test_the_production_rules_file_is_untouched_by_the_drill() -> None:
    production = yaml.safe_load(render_rules_file(load_rules()))
    assert production["groups"][0]["interval"] == "1m"
    sync = next(
        r for r in production["groups"][0]["rules"] if r["alert"] == "ProductSyncFailureRate"
    )
    assert "[1h]" in sync["expr"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool: apt-get install prometheus")
def test_prometheus_accepts_the_drill_rules_with_runbooks(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(drill_rules_file(load_rules(), 60))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    group = yaml.safe_load(path.read_text())["groups"][0]
    assert group["interval"] == "1s"
    for rule in group["rules"]:
        assert rule["annotations"]["runbook_url"].endswith(f"runbooks/{rule['alert']}.md")
        # 1 h -> 1 m, 15 m -> 15 s, 5 m -> the 10 s floor; the SLO's 6 h and 30 m -> 6 m, 30 s.
        windows = {"10s", "15s", "1m", "6m", "30s"}
        assert set(re.findall(r"\[(\w+)\]", rule["expr"])) <= windows, rule["expr"]


class _Named(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = str(self.server.server_address).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[ThreadingHTTPServer]]:
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Named) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def test_the_proxy_alternates_backends_and_skips_one_that_is_down(
    backends: list[ThreadingHTTPServer],
) -> None:
    port = free_port()
    targets = [f"127.0.0.1:{server.server_address[1]}" for server in backends]
    proxy = subprocess.Popen(
        [sys.executable, "-m", "ops.drill.proxy", str(port), *targets],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        def answer() -> str:
            # A new connection each time: the proxy balances connections, as an ALB does.
            with httpx.Client(timeout=5) as client:
                return client.get(f"http://127.0.0.1:{port}/").text

        for _ in range(100):
            try:
                answer()
                break
            except httpx.TransportError:
                proxy.poll()
                assert proxy.returncode is None
                threading.Event().wait(0.1)
        seen = [answer() for _ in range(4)]
        assert set(seen) == {str(server.server_address) for server in backends}
        backends[0].shutdown()
        backends[0].server_close()
        assert {answer() for _ in range(4)} == {str(backends[1].server_address)}
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


def test_a_worker_serves_its_own_metrics_for_prometheus(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    main = "import sys; from app.cli import main; sys.exit(main())"
    subprocess.run([sys.executable, "-c", main, "migrate"], env=env, check=True)
    worker = subprocess.Popen(
        [sys.executable, "-c", main, "worker", "--metrics-port", str(port)], env=env
    )
    try:
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                break
            except httpx.TransportError:
                assert worker.poll() is None, "the worker exited"
                threading.Event().wait(0.2)
        # The worker's own counters (deliveries happen there), in the exposition format.
        assert "# TYPE webhook_deliveries_total counter" in response.text
        assert "# TYPE sync_runs_total counter" in response.text
    finally:
        worker.terminate()
        assert worker.wait(timeout=15) == 0


def _tools_missing() -> str:
    missing = [tool for tool in ("prometheus", "prometheus-alertmanager", "redis-server")]
    return ", ".join(tool for tool in missing if shutil.which(tool) is None)


@pytest.mark.slow
@pytest.mark.skipif(bool(_tools_missing()), reason=f"missing: {_tools_missing()} (.ci/run)")
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the drill runs on PostgreSQL: set DATABASE_URL",
)
def test_the_short_drill_fires_each_alert_with_its_runbook_and_resolves(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "drill", "--short", "--reports", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = next(tmp_path.glob("drill-*.md")).read_text()
    assert "Verdict: **passed**" in report
    timeline = report[report.index("## Alert timeline") :]
    rules = {rule.name: rule for rule in load_rules()}
    expected = {"ApiErrorRate", "WidgetLoadFailureRate"}
    for name in expected:
        assert f"| {name} | firing |" in timeline and f"| {name} | resolved |" in timeline
        assert load_rules().runbook_url(rules[name]) in report
    fired = set(re.findall(r"\| (\w+) \| firing \|", timeline))
    assert fired == expected
    # The kill: no alert, nothing lost (the verdict above), and it ran.
    assert "a worker killed mid-delivery | none |" in report
    assert "worker-killed" in SHORT


def test_a_drill_outcome_fails_on_a_wrong_missing_or_stuck_alert() -> None:
    runbook = "https://example.test/runbooks/ApiErrorRate.md"
    fired = AlertNote(10.0, "ApiErrorRate", "firing", runbook, "page")
    resolved = AlertNote(40.0, "ApiErrorRate", "resolved", runbook, "page")

    def outcome(**changes: object) -> Outcome:
        base = Outcome("api-errors", "API errors", "ApiErrorRate", 0.0, runbook_expected=runbook)
        base.fired, base.resolved = fired, resolved
        for name, value in changes.items():
            setattr(base, name, value)
        return base

    assert outcome().passed
    assert outcome(others=["CorsRejections"]).problems == ["unexpected alert CorsRejections"]
    assert outcome(fired=None).problems == ["ApiErrorRate never reached the receiver"]
    assert outcome(resolved=None).problems == [
        "ApiErrorRate did not resolve after the fault was removed"
    ]
    wrong = AlertNote(10.0, "ApiErrorRate", "firing", "", "page")
    assert outcome(fired=wrong).problems == ["ApiErrorRate carried runbook ''"]
    assert outcome(lost=["webhook event evt_1 never delivered"]).problems == [
        "webhook event evt_1 never delivered"
    ]
