"""The load-test gate and a real, short `invoke loadtest` against a local API."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.gate import Group, Thresholds, evaluate, load_thresholds, read_stats
from loadtests.shapes import SHAPES, stage_at

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["Type", "Name", "Request Count", "Failure Count", "Requests/s", "95%"]
THRESHOLDS = Thresholds(
    error_ratio_max=0.01,
    min_rps=1,
    groups=(Group("chat", "chat ", 800), Group("widget", "widget ", 300)),
)


def _stats(tmp_path: Path, rows: list[tuple]) -> list[dict[str, str]]:
    path = tmp_path / "run_stats.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return read_stats(path)


def _failed(checks) -> set[str]:
    return {check.what for check in checks if not check.passed}


def test_a_run_within_every_threshold_passes(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [
            ("POST", "chat send message", 900, 3, 15.0, 420),
            ("GET", "widget config", 100, 0, 2.0, 90),
            ("", "Aggregated", 1000, 3, 17.0, 400),
        ],
    )
    assert _failed(evaluate(rows, THRESHOLDS)) == set()


def test_the_slowest_endpoint_of_a_group_decides_its_p95(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [
            ("POST", "chat create session", 100, 0, 2.0, 120),
            ("POST", "chat send message", 100, 0, 2.0, 801),
            ("GET", "widget config", 100, 0, 2.0, 90),
            ("", "Aggregated", 300, 0, 6.0, 700),
        ],
    )
    assert _failed(evaluate(rows, THRESHOLDS)) == {"chat p95"}


def test_errors_above_the_ratio_and_too_little_traffic_breach(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [
            ("POST", "chat send message", 50, 1, 0.4, 100),
            ("GET", "widget config", 49, 0, 0.4, 100),
            ("", "Aggregated", 99, 1, 0.8, 100),
        ],
    )
    assert _failed(evaluate(rows, THRESHOLDS)) == {"error ratio", "requests/s"}


def test_a_group_without_requests_or_an_empty_run_fails(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [("POST", "chat send message", 10, 0, 2.0, 100), ("", "Aggregated", 10, 0, 2.0, 100)],
    )
    assert _failed(evaluate(rows, THRESHOLDS)) == {"widget p95"}
    assert _failed(evaluate(_stats(tmp_path, [("", "Aggregated", 0, 0, 0, 0)]), THRESHOLDS)) == {
        "requests"
    }


def test_the_committed_thresholds_cover_every_journey_name() -> None:
    thresholds = load_thresholds()
    source = (ROOT / "loadtests" / "locustfile.py").read_text()
    names = {
        line.split('name="')[1].split('"')[0] for line in source.splitlines() if 'name="' in line
    }
    for name in names:
        assert any(name.startswith(group.prefix) for group in thresholds.groups), name


def test_shapes_end() -> None:
    for name, stages in SHAPES.items():
        assert stage_at(name, 0) == stages[0]
        assert stage_at(name, stages[-1].end) is None


@pytest.mark.slow
def test_invoke_loadtest_runs_the_journeys_and_passes_the_gate(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "invoke", "loadtest", "--shape", "ci", "--reports", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "breached" not in result.stdout
    stats = read_stats(next(tmp_path.glob("*_stats.csv")))
    names = {row["Name"] for row in stats}
    # Every journey ran: shoppers chatted, and the integrator and the admin each did something
    # (which of their tasks Locust picks in a ten-second run is up to chance).
    assert {"widget config", "chat create session", "chat send message"} <= names
    assert any(name.startswith("sync ") for name in names)
    assert any(name.startswith("admin ") for name in names)
    assert next(tmp_path.glob("*.html")).stat().st_size > 10_000
