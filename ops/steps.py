"""How deploys and rollbacks talk to the operator: numbered steps with a live status line, and
the confirmation production needs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from invoke import Exit
from rich.console import Console

CONFIRMED_ENVS = ("prod",)
# Without a terminal (CI logs, `| less`) rich assumes 80 columns, too narrow for ARNs and tables.
LOG_WIDTH = 160


def console() -> Console:
    """The operator's console: the terminal's width, or a log-friendly one without a terminal."""
    found = Console()
    return found if found.is_terminal else Console(width=LOG_WIDTH)


class Step:
    """A running step: call it with live detail (a `Progress`); set `summary` for its ✓ line."""

    def __init__(self, update: Callable[[str], None], label: str) -> None:
        self._update = update
        self.label = label
        self.summary = ""

    def __call__(self, detail: str) -> None:
        self._update(f"{self.label}: {detail}")


class Steps:
    """Prints `✓ [3/9] title: summary (12.3 s)` per step; a spinner with live detail meanwhile."""

    def __init__(
        self, console: Console, total: int, before_each: Callable[[], None] | None = None
    ) -> None:
        self.console = console
        self.total = total
        self.done = 0
        self.before_each = before_each

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        if self.before_each is not None:
            self.before_each()
        self.done += 1
        label = f"[{self.done}/{self.total}] {title}"
        started = time.monotonic()
        with self.console.status(f"{label}…") as status:
            current = Step(status.update, label)
            try:
                yield current
            except BaseException as exc:
                self.console.print(f"[red]✗[/red] {label}: {exc}")
                raise
        elapsed = time.monotonic() - started
        summary = f": {current.summary}" if current.summary else ""
        self.console.print(f"[green]✓[/green] {label}{summary} [dim]({elapsed:.1f} s)[/dim]")

    def skip(self, title: str, why: str) -> None:
        self.done += 1
        self.console.print(f"[yellow]-[/yellow] [{self.done}/{self.total}] {title}: {why}")


def confirm(env: str, question: str, *, yes: bool) -> None:
    """Production asks first: --yes, or a yes typed on a terminal. Other environments go on."""
    if yes or env not in CONFIRMED_ENVS:
        return
    if not sys.stdin.isatty():
        raise Exit(f"not touching {env}: there is no terminal to confirm on; pass --yes")
    if input(f"{question} [y/N] ").strip().lower() not in {"y", "yes"}:
        raise Exit("cancelled; nothing changed", code=1)
