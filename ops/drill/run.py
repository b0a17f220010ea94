"""`invoke drill`: the alerts fire on the faults they are for, against the running platform.

In order: a normal Locust load, during which no alert may fire; then each fault on its own,
from a quiet platform: inject it, keep its traffic going until the expected alert reaches the
receiver (through Prometheus and Alertmanager, with its runbook URL), remove it, and wait for
the alert to resolve. Faults without an alert of their own (a worker killed, Redis stopped) are
held for a while; there no alert may fire and nothing may be lost. Rule windows are divided by
`--scale` (ops/drill/platform.py: `scaled_rules`); thresholds, volumes and "M of N" are the
production ones.
"""

import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from invoke import Context, Exit, task

from alerts.prometheus import alert_expression
from alerts.rules import Rule, RuleSet, load_rules
from loadtests.gate import evaluate, load_thresholds, read_stats
from ops.drill.faults import FAULTS, SHORT, Fault, faults
from ops.drill.platform import (
    DEFAULT_DATABASE,
    SHORTEST_WINDOW,
    Platform,
    platform,
    scaled_rules,
)
from ops.drill.receiver import AlertNote, Receiver
from ops.drill.report import Outcome, write_report
from ops.loadtest import run_locust

if TYPE_CHECKING:
    from rich.status import Status

__all__ = ["drill", "run_drill"]

FIRE_TIMEOUT = 120.0
RESOLVE_TIMEOUT = 180.0
QUIET_TIMEOUT = 180.0


def run_drill(
    keys: list[str], *, scale: int, reports: Path, load: bool, database: str
) -> tuple[Path, bool]:
    """Run the drill for the faults named in `keys`; the report's path and the verdict."""
    from rich.console import Console

    console = Console()
    began = time.time()
    drill_rules = scaled_rules(load_rules(), scale)
    chosen = [fault for fault in faults() if fault.key in keys]
    outcomes: list[Outcome] = []
    setup = [
        f"rule windows divided by {scale} (never below {SHORTEST_WINDOW} s); thresholds, "
        "minimum volumes and M-of-N as in alerts/rules.yaml; Prometheus scrapes and evaluates "
        "every second; a fault is kept up after its alert fires until all of its rule's N "
        "windows breach (at most N windows more), then removed",
        "2 API processes behind a round-robin proxy, 2 workers, PostgreSQL, Redis, Prometheus, "
        "Alertmanager, all on loopback",
    ]
    with Receiver() as receiver:
        with console.status("starting the platform") as status:

            def progress(what: str) -> None:
                status.update(f"starting: {what}")

            with platform(database, receiver.base, scale=scale, progress=progress) as plat:
                if load:
                    status.update("normal Locust load (smoke shape): no alert may fire")
                    outcomes.append(_normal_load(plat, receiver, reports))
                for fault in chosen:
                    say = _sayer(status, fault.key)
                    _wait_quiet(plat, say)
                    rule = next((r for r in drill_rules if r.name == fault.expected), None)
                    outcome = _run_fault(plat, receiver, fault, rule, drill_rules, say)
                    outcomes.append(outcome)
                    mark = "[green]ok[/green]" if outcome.passed else "[red]FAILED[/red]"
                    console.print(f"{fault.title}: {mark} {'; '.join(outcome.problems)}")
                status.update("stopping the platform")
        report = reports / f"drill-{time.strftime('%Y%m%d-%H%M%S', time.localtime(began))}.md"
        write_report(report, outcomes, receiver.alerts(), setup, began)
    return report, all(outcome.passed for outcome in outcomes)


def _sayer(status: "Status", key: str) -> Callable[[str], None]:
    def say(text: str) -> None:
        status.update(f"{key}: {text}")

    return say


def _normal_load(plat: Platform, receiver: Receiver, reports: Path) -> Outcome:
    outcome = Outcome("normal-load", "normal Locust load", None, time.time())
    prefix = reports / f"drill-load-{time.strftime('%Y%m%d-%H%M%S')}"
    keys = {
        "LOADTEST_MERCHANT_ID": plat.merchant_id,
        "LOADTEST_SECRET_KEY": plat.secret_key,
        "LOADTEST_PUBLISHABLE_KEY": plat.publishable_key,
        "LOADTEST_ORIGIN": plat.origin,
    }
    run_locust(plat.proxy, "smoke", prefix, keys, quiet=True)
    time.sleep(10)  # the last windows are evaluated and any alert sent
    outcome.removed = time.time()
    stats = Path(f"{prefix}_stats.csv")
    if stats.exists():
        # The drill judges the alerts: the load must have reached every journey, and no alert
        # may fire. Latency and the odd connection reset (uvicorn closes idle keep-alive
        # connections after 5 s, Locust's users wait up to 5 s) on a machine running eleven
        # processes are the load test's business; they are noted, not judged, here.
        checks = evaluate(read_stats(stats), load_thresholds(), "smoke")
        outcome.notes += [f"Locust {c.what}: {c.actual} (gate {c.limit})" for c in checks]
        outcome.lost += [
            f"Locust {c.what}: {c.actual}"
            for c in checks
            if c.what == "requests" or c.actual == "no requests"
        ]
    else:
        outcome.lost.append("Locust wrote no statistics")
    outcome.others = _fired_since(receiver, outcome.started, set())
    return outcome


def _run_fault(
    plat: Platform,
    receiver: Receiver,
    fault: Fault,
    rule: Rule | None,
    rules: RuleSet,
    say: Callable[[str], None],
) -> Outcome:
    runbook = "" if rule is None else rules.runbook_url(rule)
    outcome = Outcome(fault.key, fault.title, fault.expected, time.time(), runbook_expected=runbook)
    stop = threading.Event()
    errors: list[str] = []

    def drive() -> None:
        while not stop.is_set():
            try:
                fault.drive(plat, receiver)
            except Exception as exc:
                errors.append(type(exc).__name__)
                time.sleep(0.5)

    fault.start(plat, receiver)
    drivers = [threading.Thread(target=drive, daemon=True) for _ in range(fault.drivers)]
    for driver in drivers:
        driver.start()
    try:
        if rule is None:
            _wait_until(lambda: False, fault.hold_seconds, say, "held, no alert may fire")
        else:
            outcome.fired = _wait_note(
                receiver, rule.name, "firing", outcome.started, FIRE_TIMEOUT, say
            )
            # As an incident would, the fault outlasts the rule's whole range (its N windows):
            # removed at the first notification, the M-of-N sliding windows can clear and then
            # breach again as the fault's first windows age, and the alert would flap. Once all
            # N windows breach at once, each one's share of the fault only shrinks after the
            # removal, so the alert can only clear; Prometheus says when that is, usually a
            # window or so after the alert fires. A whole range after firing is the most kept.
            if outcome.fired is not None:
                span = rule.window_seconds * rule.evaluation_periods
                saturated = _whole_range_breaching(rule)
                _wait_until(
                    lambda: bool(plat.query(saturated)),
                    span,
                    say,
                    f"{rule.name} fired; fault kept until all its windows breach",
                )
    finally:
        stop.set()
        for driver in drivers:
            driver.join(timeout=60)
        fault.stop(plat, receiver)
    outcome.removed = time.time()
    if fault.expected is not None and outcome.fired is not None:
        outcome.resolved = _wait_note(
            receiver, fault.expected, "resolved", outcome.removed, RESOLVE_TIMEOUT, say
        )
    else:
        time.sleep(5)
    if fault.lost is not None:
        say("checking nothing was lost")
        outcome.lost += fault.lost(plat, receiver)
    if fault.notes is not None:
        outcome.notes += fault.notes()
    if errors:
        outcome.notes.append(f"{len(errors)} drive round(s) raised ({', '.join(set(errors))})")
    allowed = fault.also | ({fault.expected} if fault.expected else set())
    outcome.others = _fired_since(receiver, outcome.started, allowed)
    return outcome


def _whole_range_breaching(rule: Rule) -> str:
    """The rule's expression, true only while every one of its N windows breaches."""
    if rule.slo is not None:  # its two windows must both breach for it to fire at all
        return alert_expression(rule)
    return alert_expression(replace(rule, datapoints_to_alarm=rule.evaluation_periods))


def _fired_since(receiver: Receiver, since: float, allowed: frozenset[str] | set[str]) -> list[str]:
    return sorted(
        {
            note.name
            for note in receiver.alerts()
            if note.at >= since and note.status == "firing" and note.name not in allowed
        }
    )


def _wait_note(
    receiver: Receiver,
    name: str,
    status: str,
    since: float,
    timeout: float,
    say: Callable[[str], None],
) -> AlertNote | None:
    found: list[AlertNote] = []

    def arrived() -> bool:
        found[:] = [
            note
            for note in receiver.alerts()
            if note.name == name and note.status == status and note.at >= since
        ]
        return bool(found)

    _wait_until(arrived, timeout, say, f"waiting for {name} {status}")
    return found[0] if found else None


def _wait_quiet(plat: Platform, say: Callable[[str], None]) -> None:
    _wait_until(
        lambda: not plat.query('ALERTS{alertstate="firing"}'),
        QUIET_TIMEOUT,
        say,
        "waiting for every alert to clear",
    )


def _wait_until(
    check: Callable[[], bool], timeout: float, say: Callable[[str], None], what: str
) -> bool:
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        if elapsed > timeout:
            return False
        say(f"{what} ({elapsed:.0f} s)")
        time.sleep(0.5)
    return True


@task(
    help={
        "faults": f"comma-separated, of: {', '.join(FAULTS)} (default all)",
        "short": f"the CI drill: {', '.join(SHORT)}, no Locust load",
        "scale": "divide every rule window by this (default 60: 1 h -> 60 s; never below 10 s)",
        "reports": "folder for the report (default reports/)",
        "database": f"PostgreSQL server for the throwaway database (default {DEFAULT_DATABASE})",
    }
)
def drill(
    c: Context,
    faults: str = "",
    short: bool = False,
    scale: int = 60,
    reports: str = "reports",
    database: str = "",
) -> None:
    """Fault drill: each alert fires on its fault, with its runbook, and clears (local platform)."""
    keys = list(SHORT) if short else [k for k in faults.split(",") if k] or list(FAULTS)
    unknown = sorted(set(keys) - set(FAULTS))
    if unknown:
        raise Exit(f"unknown fault(s) {', '.join(unknown)}: expected {', '.join(FAULTS)}")
    base = database or os.environ.get("DATABASE_URL", "") or DEFAULT_DATABASE
    report, passed = run_drill(
        keys, scale=scale, reports=Path(reports), load=not short, database=base
    )
    print(f"report: {report}")
    if not passed:
        raise Exit("the drill failed: see the report", code=1)
