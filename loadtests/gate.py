"""Judge a Locust run against thresholds.yaml: which limits were breached, per group."""

import csv
from dataclasses import dataclass
from pathlib import Path

import yaml

THRESHOLDS = Path(__file__).with_name("thresholds.yaml")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    prefix: str
    p95_ms: float


@dataclass(frozen=True, slots=True)
class Thresholds:
    error_ratio_max: float
    min_rps: dict[str, float]  # per shape: what its users send when the API keeps up
    capacity_drop_max: float  # a capacity run may lose this much sustainable load, no more
    groups: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class Check:
    what: str
    limit: str
    actual: str
    passed: bool


def load_thresholds(path: Path = THRESHOLDS) -> Thresholds:
    data = yaml.safe_load(path.read_text())
    try:
        groups = tuple(
            Group(name, str(spec["prefix"]), float(spec["p95_ms"]))
            for name, spec in data["groups"].items()
        )
        return Thresholds(
            float(data["error_ratio_max"]),
            {str(shape): float(rps) for shape, rps in data["min_rps"].items()},
            float(data["capacity_drop_max"]),
            groups,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: expected error_ratio_max, min_rps (per shape), capacity_drop_max and "
            f"groups ({exc})"
        ) from None


def read_stats(path: Path) -> list[dict[str, str]]:
    """Locust's `<prefix>_stats.csv`: one row per request name, then `Aggregated`."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def evaluate(rows: list[dict[str, str]], thresholds: Thresholds, shape: str) -> list[Check]:
    total = next((row for row in rows if row["Name"] == "Aggregated"), None)
    if total is None or int(total["Request Count"]) == 0:
        return [Check("requests", "> 0", "0", False)]
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    ratio, rps = failures / requests, float(total["Requests/s"])
    min_rps = thresholds.min_rps[shape]
    checks = [
        Check(
            "error ratio",
            f"≤ {thresholds.error_ratio_max:.2%}",
            f"{ratio:.2%}",
            ratio <= thresholds.error_ratio_max,
        ),
        Check("requests/s", f"≥ {min_rps:g}", f"{rps:.1f}", rps >= min_rps),
    ]
    named = [row for row in rows if row["Name"] != "Aggregated"]
    checks.extend(journeys_ran(rows, thresholds))
    for group in thresholds.groups:
        members = [row for row in named if row["Name"].startswith(group.prefix)]
        if not members:
            continue
        # The slowest member decides: a fast endpoint must not hide a slow one of its group.
        p95 = max(float(row["95%"]) for row in members if row["95%"] not in {"", "N/A"})
        checks.append(
            Check(f"{group.name} p95", f"≤ {group.p95_ms:g} ms", f"{p95:g} ms", p95 <= group.p95_ms)
        )
    return checks


def journeys_ran(rows: list[dict[str, str]], thresholds: Thresholds) -> list[Check]:
    """A breach for every group that made no request: a journey that never ran proves nothing."""
    names = [row["Name"] for row in rows if row["Name"] != "Aggregated"]
    return [
        Check(f"{group.name} p95", f"≤ {group.p95_ms:g} ms", "no requests", False)
        for group in thresholds.groups
        if not any(name.startswith(group.prefix) for name in names)
    ]
