"""`invoke infra.*`: preview and apply an environment's Pulumi stack, and run the offline checks.

The stacks are driven through the Pulumi Automation API, which needs the Pulumi CLI (a separate
binary from the `pulumi` Python package) and a logged-in backend (`pulumi login`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from invoke import Collection, Context, Exit, task

ROOT = Path(__file__).resolve().parents[1]
OFFLINE_TESTS = ("tests/stacks", "tests/alerts", "tests/app/test_cloudwatch.py")
INSTALL_CLI = (
    "the Pulumi CLI is not installed. Install it with pulumi's installer:\n"
    "  curl -fsSL https://get.pulumi.com | sh\n"
    "then open a new shell (it adds ~/.pulumi/bin to PATH) and run `pulumi login`."
)


def environments() -> tuple[str, ...]:
    """The environments that have a stack file, `Pulumi.<env>.yaml`."""
    return tuple(sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml")))


def _stack(env: str) -> Any:
    if env not in environments():
        raise Exit(f"unknown environment {env!r}: expected one of {', '.join(environments())}")
    if shutil.which("pulumi") is None:
        raise Exit(INSTALL_CLI)
    from pulumi import automation

    try:
        return automation.create_or_select_stack(stack_name=env, work_dir=str(ROOT))
    except automation.errors.CommandError as exc:
        raise Exit(f"pulumi could not open stack {env!r} (logged in?):\n{exc}") from None


def _summary(changes: dict[str, int]) -> str:
    counts = {op: n for op, n in changes.items() if op != "same" and n}
    return ", ".join(f"{n} to {op}" for op, n in sorted(counts.items())) or "no changes"


@task(help={"env": "environment: dev, staging or prod (a Pulumi.<env>.yaml)"})
def preview(c: Context, env: str) -> None:
    """Show what `infra.up` would change in an environment."""
    result = _stack(env).preview(on_output=print, diff=True)
    print(f"\n{env}: {_summary(result.change_summary)}")


@task(
    help={
        "env": "environment: dev, staging or prod (a Pulumi.<env>.yaml)",
        "yes": "apply without asking (automation); otherwise asks after the preview",
    }
)
def up(c: Context, env: str, yes: bool = False) -> None:
    """Preview, confirm, then create or update an environment's infrastructure."""
    stack = _stack(env)
    changes = stack.preview(on_output=print, diff=True).change_summary
    print(f"\n{env}: {_summary(changes)}")
    if not yes:
        if not sys.stdin.isatty():
            raise Exit(f"not applying to {env}: no terminal to confirm on; pass --yes")
        if input(f"Apply these changes to {env}? [y/N] ").strip().lower() not in {"y", "yes"}:
            raise Exit("not applied", code=1)
    result = stack.up(on_output=print)
    print(f"\n{env}: {result.summary.result}")
    for name, output in sorted(result.outputs.items()):
        print(f"  {name}: {'[secret]' if output.secret else output.value}")


@task(name="test")
def test_(c: Context) -> None:
    """Run the offline infrastructure checks: Pulumi mocks, alert rules, promtool, moto."""
    c.run(f"{sys.executable} -m pytest {' '.join(OFFLINE_TESTS)}", pty=False)


ns = Collection("infra", preview, up, test_)
