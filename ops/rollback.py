"""`invoke rollback`: put an earlier release back (runbooks/rollback.md, lever 3).

Re-points the api and worker services at the release's recorded task-definition revisions, waits
until they are stable, re-points the widget aliases at its widget version (and invalidates
them), records the rollback in the ledger, then smoke-checks. Database migrations are not
reversed: they are backward compatible by rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError
from invoke import Context, Exit, task
from rich.console import Console

from ops import cdn
from ops import waits as waiting
from ops.aws import ENV_HELP, OUTPUTS_HELP, Target, aws_errors, short_arn, target
from ops.deploy import SMOKE_HELP
from ops.ecs import EcsError, service_task_definitions, update_services
from ops.lock import DeployLock, LockHeld, LockLost
from ops.releases import Ledger, Release, actor, live, rollback_target
from ops.smoke import SmokeCheck, SmokeFailed
from ops.steps import Steps, confirm
from ops.steps import console as make_console
from ops.waits import WaitFailed, Waits

FAILURES = (EcsError, WaitFailed, cdn.WidgetError, LockLost, BotoCoreError, ClientError)


def roll_back(
    tgt: Target,
    console: Console,
    goal: Release,
    current: Release,
    *,
    waits: Waits,
    smoke: SmokeCheck,
) -> Release:
    outputs = tgt.outputs
    aws = tgt.aws
    revisions = {
        outputs.api_service_name: goal.task_definition_arn,
        outputs.worker_service_name: goal.worker_task_definition_arn,
    }
    ledger = Ledger(aws.ssm, outputs.release_ledger_parameter)
    lock = DeployLock(
        aws.ssm, outputs.deploy_lock_parameter, owner=actor(), what=f"rollback to {goal.version}"
    )
    with lock:
        console.print(f"[green]✓[/green] took the deploy lock {lock.parameter}")
        steps = Steps(console, total=4, before_each=lock.refresh)
        with steps.step(f"re-point the services to {goal.version}") as progress:
            update_services(aws.ecs, outputs.cluster_name, revisions)
            waits.services_stable(aws.ecs, outputs.cluster_name, revisions, progress)
        if goal.widget_version and goal.widget_version != current.widget_version:
            with steps.step(f"re-point the widget aliases to {goal.widget_version}") as progress:
                paths = cdn.restore(aws.s3, outputs.widget_bucket, goal.widget_version)
                cdn.invalidate(tgt, paths, waits, progress)
        else:
            steps.skip("re-point the widget aliases", "same widget version (or none recorded)")
        entry = goal.as_live(kind="rollback", replaced=current.version, actor=actor())
        # Recorded before the smoke checks: whatever they say, this is what runs now.
        with steps.step("record the rollback in the ledger"):
            ledger.append(entry)
        with steps.step("smoke checks") as progress:
            smoke.run(waits.sleep, progress)
    return entry


@contextmanager
def _ecs_errors(env: str) -> Iterator[None]:
    try:
        yield
    except EcsError as exc:
        raise Exit(f"{env}: {exc}") from None


@task(
    help={
        "env": ENV_HELP,
        "to": "version to put back (`invoke releases`); default: the release before the live one",
        "yes": "do not ask for confirmation (prod asks otherwise; needed without a terminal)",
        "smoke_url": SMOKE_HELP,
        "outputs_file": OUTPUTS_HELP,
    }
)
def rollback(
    c: Context,
    env: str,
    to: str = "",
    yes: bool = False,
    smoke_url: str = "",
    outputs_file: str = "",
) -> None:
    """Put the previous (or a named) release back: services, widget aliases, ledger."""
    console = make_console()
    tgt = target(env, outputs_file)
    outputs = tgt.outputs
    with aws_errors(env), _ecs_errors(env):
        releases = Ledger(tgt.aws.ssm, outputs.release_ledger_parameter).read()
        current = live(releases)
        goal = rollback_target(releases, to)
        assert current is not None  # rollback_target refuses an empty ledger
        services = [outputs.api_service_name, outputs.worker_service_name]
        running = service_task_definitions(tgt.aws.ecs, outputs.cluster_name, services)
    wanted = {goal.task_definition_arn, goal.worker_task_definition_arn}
    # The services, not the ledger, say what runs: after an interrupted deploy they can differ.
    if set(running.values()) == wanted and goal.version == current.version:
        raise Exit(f"{goal.version} is already live in {env}; nothing to do")
    console.print(
        f"Roll back {env}: {current.version} (live; "
        + ", ".join(f"{s} {short_arn(a)}" for s, a in running.items())
        + f") → [bold]{goal.version}[/bold] (deployed {goal.time} by {goal.actor}; "
        f"api {short_arn(goal.task_definition_arn)}, worker "
        f"{short_arn(goal.worker_task_definition_arn)}, widget {goal.widget_version or '-'})"
    )
    confirm(env, f"Roll {env} back to {goal.version}?", yes=yes)
    smoke = (
        SmokeCheck(base_url=smoke_url.rstrip("/"))
        if smoke_url
        else SmokeCheck.for_alb(outputs.alb_dns_name, outputs.api_base_url)
    )
    try:
        roll_back(tgt, console, goal, current, waits=waiting.DEFAULT, smoke=smoke)
    except LockHeld as exc:
        raise Exit(f"not rolling back: {exc}") from None
    except SmokeFailed as exc:
        raise Exit(
            f"{goal.version} is back in {env} (recorded), but the smoke checks fail: {exc}"
        ) from None
    except FAILURES as exc:
        raise Exit(f"rollback of {env} to {goal.version} failed: {exc}") from None
    console.print(f"[bold green]{goal.version} is live again in {env}[/bold green]")
