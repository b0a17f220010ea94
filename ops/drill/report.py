"""The drill's verdicts and its report: reports/drill-<time>.md, with the alert timeline."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from ops.drill.receiver import AlertNote

__all__ = ["Outcome", "write_report"]


@dataclass
class Outcome:
    key: str
    title: str
    expected: str | None
    started: float
    removed: float = 0.0
    fired: AlertNote | None = None
    resolved: AlertNote | None = None
    runbook_expected: str = ""
    others: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        found = list(self.lost) + [f"unexpected alert {name}" for name in self.others]
        if self.expected is not None:
            if self.fired is None:
                found.append(f"{self.expected} never reached the receiver")
            elif self.fired.runbook_url != self.runbook_expected:
                found.append(f"{self.expected} carried runbook {self.fired.runbook_url!r}")
            if self.fired is not None and self.resolved is None:
                found.append(f"{self.expected} did not resolve after the fault was removed")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems


def _after(start: float, note: AlertNote | None) -> str:
    return "—" if note is None else f"{note.at - start:.0f} s"


def write_report(
    path: Path, outcomes: list[Outcome], timeline: list[AlertNote], setup: list[str], began: float
) -> None:
    lines = [
        f"# Drill {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(began))}",
        "",
        "Verdict: **" + ("passed" if all(o.passed for o in outcomes) else "FAILED") + "**",
        "",
        *[f"- {line}" for line in setup],
        "",
        "| fault | expected alert | fired after | resolved after removal | runbook | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        runbook = o.fired.runbook_url if o.fired else "—"
        verdict = "ok" if o.passed else "**" + "; ".join(o.problems) + "**"
        lines.append(
            f"| {o.title} | {o.expected or 'none'} | {_after(o.started, o.fired)} | "
            f"{_after(o.removed, o.resolved)} | {runbook} | {verdict} |"
        )
    notes = [f"- {o.title}: {note}" for o in outcomes for note in o.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", "## Alert timeline (as the receiver got it)", "", "| t | alert | status |"]
    lines.append("|---|---|---|")
    for note in timeline:
        lines.append(f"| +{note.at - began:.0f} s | {note.name} | {note.status} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
