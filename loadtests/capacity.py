"""The capacity shape: step users up until a threshold breaks (DESIGN §15).

Each step holds a user count for a fixed time; at its end the step is judged on the requests
made during the step alone (counts and response-time histograms are differenced between two
snapshots, so an earlier calm step cannot dilute a later slow one). The first step that breaches
a threshold ends the run; the one before it is the sustainable load. Importable without Locust
(which monkey-patches the process), so the arithmetic is tested on its own.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loadtests.gate import Check, Thresholds

__all__ = [
    "Plan",
    "Sample",
    "StepResult",
    "Stepper",
    "capacity_checks",
    "judge_step",
    "percentile",
    "read_report",
    "sustainable",
    "write_report",
]


@dataclass(frozen=True, slots=True)
class Plan:
    """`start` users, then `step` more every `seconds`, never above `max_users`."""

    start: int = 10
    step: int = 10
    seconds: int = 30
    max_users: int = 300

    def users_at(self, elapsed: float) -> int | None:
        users = self.start + self.step * int(elapsed // self.seconds)
        return users if users <= self.max_users else None


@dataclass(frozen=True, slots=True)
class Sample:
    """One request name's cumulative counters at an instant (a Locust StatsEntry, copied)."""

    requests: int
    failures: int
    response_times: dict[int, int]


@dataclass(frozen=True, slots=True)
class StepResult:
    users: int
    seconds: float
    requests: int
    rps: float
    error_ratio: float
    p95_ms: dict[str, float] = field(default_factory=dict)
    breaches: tuple[str, ...] = ()


def percentile(response_times: dict[int, int], fraction: float) -> float:
    """The smallest recorded time at or below which `fraction` of the requests completed."""
    total = sum(response_times.values())
    seen = 0
    for millis in sorted(response_times):
        seen += response_times[millis]
        if seen >= total * fraction:
            return float(millis)
    return 0.0


def _delta(before: Sample | None, after: Sample) -> Sample:
    if before is None:
        return after
    times = {
        millis: count - before.response_times.get(millis, 0)
        for millis, count in after.response_times.items()
    }
    return Sample(
        after.requests - before.requests,
        after.failures - before.failures,
        {millis: count for millis, count in times.items() if count > 0},
    )


def judge_step(
    users: int,
    seconds: float,
    before: dict[str, Sample],
    after: dict[str, Sample],
    thresholds: Thresholds,
) -> StepResult:
    """The step between two snapshots, keyed by request name, against the thresholds."""
    deltas = {name: _delta(before.get(name), sample) for name, sample in after.items()}
    requests = sum(sample.requests for sample in deltas.values())
    failures = sum(sample.failures for sample in deltas.values())
    ratio = failures / requests if requests else 0.0
    breaches = [] if requests else ["no requests"]
    if ratio > thresholds.error_ratio_max:
        breaches.append(f"error ratio {ratio:.2%} > {thresholds.error_ratio_max:.2%}")
    p95s: dict[str, float] = {}
    for group in thresholds.groups:
        members = [
            sample
            for name, sample in deltas.items()
            if name.startswith(group.prefix) and sample.requests > 0
        ]
        # A group that made no request in this step (an upload is rare) is not judged on it.
        if not members:
            continue
        # As in the gate, the slowest member decides: a fast endpoint must not hide a slow one.
        p95s[group.name] = max(percentile(sample.response_times, 0.95) for sample in members)
        if p95s[group.name] > group.p95_ms:
            breaches.append(f"{group.name} p95 {p95s[group.name]:g} ms > {group.p95_ms:g} ms")
    return StepResult(users, seconds, requests, requests / seconds, ratio, p95s, tuple(breaches))


class Stepper:
    """The capacity shape's state: which step runs, and the snapshot it started from.

    `tick` is called about once a second with the run time; when a step has ended it judges it,
    rewrites the report and stops the run (None) on a breach; otherwise it returns the users.
    """

    def __init__(self, plan: Plan, thresholds: Thresholds, report: Path) -> None:
        self.plan, self.thresholds, self.report = plan, thresholds, report
        self.steps: list[StepResult] = []
        self.index, self.started = 0, 0.0
        self.snapshot: dict[str, Sample] = {}

    def tick(self, elapsed: float, sample: Callable[[], dict[str, Sample]]) -> int | None:
        index = int(elapsed // self.plan.seconds)
        if index != self.index:
            now = sample()
            users = self.plan.start + self.plan.step * self.index
            step = judge_step(users, elapsed - self.started, self.snapshot, now, self.thresholds)
            self.steps.append(step)
            write_report(self.report, self.steps)
            self.index, self.started, self.snapshot = index, elapsed, now
            if step.breaches:
                return None
        return self.plan.users_at(elapsed)


def sustainable(steps: list[StepResult]) -> StepResult | None:
    """The last step before the first breach (None if even the first step breached)."""
    held = None
    for step in steps:
        if step.breaches:
            break
        held = step
    return held


def capacity_checks(
    steps: list[StepResult], previous: StepResult | None, thresholds: Thresholds
) -> list[Check]:
    """The gate for a capacity run: enough sustainable load, and no drop from the last run."""
    held = sustainable(steps)
    if held is None:
        first = steps[0].breaches if steps else ("no step completed",)
        return [Check("sustainable load", "a first step that holds", "; ".join(first), False)]
    floor = thresholds.min_rps["capacity"]
    checks = [
        Check(
            "sustainable requests/s",
            f"≥ {floor:g}",
            f"{held.rps:.1f} at {held.users} users",
            held.rps >= floor,
        )
    ]
    if previous is not None:
        least = previous.rps * (1 - thresholds.capacity_drop_max)
        checks.append(
            Check(
                "vs previous run",
                f"≥ {least:.1f} (previous {previous.rps:.1f} - {thresholds.capacity_drop_max:.0%})",
                f"{held.rps:.1f}",
                held.rps >= least,
            )
        )
    return checks


def write_report(path: Path, steps: list[StepResult]) -> None:
    held = sustainable(steps)
    data = {
        "steps": [asdict(step) for step in steps],
        "sustainable": None if held is None else asdict(held),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def read_report(path: Path) -> tuple[list[StepResult], StepResult | None]:
    """A report written by `write_report`: the steps and the sustainable one."""
    data = json.loads(path.read_text())
    held = data["sustainable"]
    return [_step(raw) for raw in data["steps"]], None if held is None else _step(held)


def _step(raw: dict[str, Any]) -> StepResult:
    return StepResult(
        users=int(raw["users"]),
        seconds=float(raw["seconds"]),
        requests=int(raw["requests"]),
        rps=float(raw["rps"]),
        error_ratio=float(raw["error_ratio"]),
        p95_ms={str(name): float(value) for name, value in raw["p95_ms"].items()},
        breaches=tuple(str(breach) for breach in raw["breaches"]),
    )
