"""The load-test gate and a real, short `invoke loadtest` against a local API."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loadtests.capacity import (
    Plan,
    Sample,
    Stepper,
    StepResult,
    capacity_checks,
    judge_step,
    percentile,
    read_report,
    sustainable,
    write_report,
)
from loadtests.gate import Group, Thresholds, evaluate, load_thresholds, read_stats
from loadtests.shapes import SHAPE_NAMES, SHAPES, minor_journey_users, stage_at

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["Type", "Name", "Request Count", "Failure Count", "Requests/s", "95%"]
THRESHOLDS = Thresholds(
    error_ratio_max=0.01,
    min_rps={"smoke": 1, "capacity": 20},
    capacity_drop_max=0.2,
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
    assert _failed(evaluate(rows, THRESHOLDS, "smoke")) == set()


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
    assert _failed(evaluate(rows, THRESHOLDS, "smoke")) == {"chat p95"}


def test_errors_above_the_ratio_and_too_little_traffic_breach(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [
            ("POST", "chat send message", 50, 1, 0.4, 100),
            ("GET", "widget config", 49, 0, 0.4, 100),
            ("", "Aggregated", 99, 1, 0.8, 100),
        ],
    )
    assert _failed(evaluate(rows, THRESHOLDS, "smoke")) == {"error ratio", "requests/s"}


def test_a_group_without_requests_or_an_empty_run_fails(tmp_path: Path) -> None:
    rows = _stats(
        tmp_path,
        [("POST", "chat send message", 10, 0, 2.0, 100), ("", "Aggregated", 10, 0, 2.0, 100)],
    )
    assert _failed(evaluate(rows, THRESHOLDS, "smoke")) == {"widget p95"}
    empty = _stats(tmp_path, [("", "Aggregated", 0, 0, 0, 0)])
    assert _failed(evaluate(empty, THRESHOLDS, "smoke")) == {"requests"}


def test_the_committed_thresholds_cover_every_journey_name() -> None:
    thresholds = load_thresholds()
    source = (ROOT / "loadtests" / "locustfile.py").read_text()
    names = {
        line.split('name="')[1].split('"')[0] for line in source.splitlines() if 'name="' in line
    }
    for name in names:
        assert any(name.startswith(group.prefix) for group in thresholds.groups), name
    # Every shape has its own request-rate floor, and none is the token "1" of old.
    assert set(thresholds.min_rps) == set(SHAPE_NAMES)
    assert min(thresholds.min_rps.values()) > 1


def test_shapes_end() -> None:
    for name, stages in SHAPES.items():
        assert stage_at(name, 0) == stages[0]
        assert stage_at(name, stages[-1].end) is None


def test_every_shape_gives_every_journey_users_and_keeps_most_for_shoppers() -> None:
    for name, stages in SHAPES.items():
        minor = minor_journey_users(name)
        fewest = min(stage.users for stage in stages)
        assert minor >= 1, name
        assert fewest - 2 * minor >= fewest * 0.6, name
    assert minor_journey_users("capacity") >= 1


def test_the_capacity_plan_steps_up_and_stops_above_its_ceiling() -> None:
    plan = Plan(start=10, step=10, seconds=30, max_users=30)
    assert [plan.users_at(t) for t in (0, 29.9, 30, 65, 90)] == [10, 10, 20, 30, None]


def test_percentile_of_a_histogram() -> None:
    # 100 requests: 90 at 10 ms, 5 at 50 ms, 5 at 900 ms.
    times = {10: 90, 50: 5, 900: 5}
    assert percentile(times, 0.5) == 10
    assert percentile(times, 0.95) == 50
    assert percentile(times, 0.96) == 900
    assert percentile({}, 0.95) == 0


def test_a_step_is_judged_on_its_own_requests_not_the_run_so_far() -> None:
    calm = {"chat send message": Sample(1000, 0, {100: 1000})}
    # 100 more requests, all slow: over the whole run the p95 would still be 100 ms.
    later = {"chat send message": Sample(1100, 2, {100: 1000, 1500: 100})}
    step = judge_step(20, 10.0, calm, later, THRESHOLDS)
    assert (step.requests, step.rps, step.error_ratio) == (100, 10.0, 0.02)
    assert step.p95_ms == {"chat": 1500}
    assert step.breaches == ("error ratio 2.00% > 1.00%", "chat p95 1500 ms > 800 ms")
    # A group with no request in the step (widget here) is not judged on it.
    first = judge_step(10, 10.0, {}, calm, THRESHOLDS)
    assert first.breaches == () and first.p95_ms == {"chat": 100}
    assert judge_step(10, 10.0, calm, calm, THRESHOLDS).breaches == ("no requests",)


def test_the_stepper_judges_each_step_and_stops_the_run_at_the_first_breach(
    tmp_path: Path,
) -> None:
    snapshots = iter(
        [
            {"chat send message": Sample(100, 0, {100: 100})},
            {"chat send message": Sample(300, 0, {100: 300})},
            {"chat send message": Sample(400, 0, {100: 300, 2000: 100})},
        ]
    )
    stepper = Stepper(Plan(start=10, step=10, seconds=10), THRESHOLDS, tmp_path / "r.json")
    users = [stepper.tick(t, lambda: next(snapshots)) for t in (0, 5, 10, 15, 20, 25, 30)]
    assert users == [10, 10, 20, 20, 30, 30, None]
    steps, held = read_report(tmp_path / "r.json")
    assert [(step.users, step.requests) for step in steps] == [(10, 100), (20, 200), (30, 100)]
    assert held == steps[1] and steps[2].breaches == ("chat p95 2000 ms > 800 ms",)


def _step(users: int, rps: float, *breaches: str) -> StepResult:
    return StepResult(users, 10.0, int(rps * 10), rps, 0.0, {"chat": 100.0}, breaches)


def test_the_sustainable_load_is_the_last_step_before_the_first_breach() -> None:
    steps = [_step(10, 5), _step(20, 10), _step(30, 12, "chat p95"), _step(40, 20)]
    assert sustainable(steps) == steps[1]
    assert sustainable([_step(10, 5, "chat p95")]) is None


def test_the_capacity_gate_fails_on_a_drop_of_more_than_a_fifth() -> None:
    steps = [_step(40, 25), _step(50, 30, "chat p95")]
    assert _failed(capacity_checks(steps, None, THRESHOLDS)) == set()
    assert _failed(capacity_checks(steps, _step(50, 31), THRESHOLDS)) == set()
    assert _failed(capacity_checks(steps, _step(60, 32), THRESHOLDS)) == {"vs previous run"}
    assert _failed(capacity_checks([_step(10, 15), _step(20, 18, "x")], None, THRESHOLDS)) == {
        "sustainable requests/s"
    }
    assert _failed(capacity_checks([_step(10, 5, "x")], None, THRESHOLDS)) == {"sustainable load"}


def test_a_capacity_report_reads_back_as_written(tmp_path: Path) -> None:
    steps = [_step(10, 5), _step(20, 9, "chat p95 900 ms > 800 ms")]
    write_report(tmp_path / "r.json", steps)
    assert read_report(tmp_path / "r.json") == (steps, steps[0])


def _invoke_loadtest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "loadtest", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},  # rich wraps the tables at 80 columns otherwise
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.slow
def test_the_readme_smoke_run_passes_and_every_journey_ran(tmp_path: Path) -> None:
    result = _invoke_loadtest("--shape", "smoke", "--reports", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "breached" not in result.stdout
    stats = read_stats(next(tmp_path.glob("*_stats.csv")))
    names = {row["Name"] for row in stats}
    # Five users, yet shoppers chatted and the integrator and the admin each did something.
    assert {"widget config", "chat create session", "chat send message"} <= names
    assert any(name.startswith("sync ") for name in names)
    assert any(name.startswith("admin ") for name in names)
    assert next(tmp_path.glob("*.html")).stat().st_size > 10_000


@pytest.mark.slow
def test_a_capacity_run_reports_its_steps_and_fails_on_a_drop_from_the_last_run(
    tmp_path: Path,
) -> None:
    # Limits no step can breach on a busy machine, and a previous run that sustained far more
    # than a laptop can: the drop is the one thing this run must be failed for.
    loose = yaml.safe_load((ROOT / "loadtests" / "thresholds.yaml").read_text())
    loose["min_rps"]["capacity"] = 0.1
    for group in loose["groups"].values():
        group["p95_ms"] = 60_000
    (tmp_path / "loose.yaml").write_text(yaml.safe_dump(loose))
    write_report(
        tmp_path / "loadtest-local-capacity-20000101-000000_capacity.json",
        [_step(500, 10_000), _step(510, 10_000, "chat p95")],
    )
    result = _invoke_loadtest(
        "--shape", "capacity", "--step-seconds", "5", "--max-users", "30",
        "--reports", str(tmp_path), "--thresholds", str(tmp_path / "loose.yaml"),
    )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    gate = result.stdout[result.stdout.index("load test gate") :]
    breached = [line for line in gate.splitlines() if "breached" in line]
    assert len(breached) == 1 and "vs previous run" in breached[0], gate
    assert "no threshold broke up to 30 users" in result.stdout
    report = max(tmp_path.glob("*_capacity.json"))
    data = json.loads(report.read_text())
    assert [step["users"] for step in data["steps"]] == [10, 20, 30]
    assert data["sustainable"]["users"] == 30 and data["sustainable"]["rps"] > 0
