"""`invoke db.migrate`: run `ragassist migrate` as a one-off ECS task and wait for its verdict.

The database is private to the VPC, so migrations run inside it: a Fargate task from the API's
task definition (same image, secrets and network) with its command overridden. Deploys run it
on the new revision before switching services (migrations must be backward compatible with the
release still running); on its own it re-runs the live release's migrations.
"""

from __future__ import annotations

from invoke import Collection, Context, Exit, task

from ops import waits as waiting
from ops.aws import ENV_HELP, OUTPUTS_HELP, Target, aws_errors, short_arn, target
from ops.ecs import (
    MIGRATE_COMMAND,
    EcsError,
    exit_code,
    run_one_off,
    service_task_definitions,
)
from ops.steps import console as make_console
from ops.waits import Progress, WaitFailed, Waits

CONTAINER = "api"


class MigrationFailed(Exception):
    """The migration task did not exit 0; nothing was switched."""


def migrate(tgt: Target, task_definition: str, waits: Waits, progress: Progress) -> str:
    """Run the migrations from `task_definition`; returns the (stopped, exit 0) task's id."""
    outputs = tgt.outputs
    task_arn = run_one_off(
        tgt.aws.ecs,
        cluster=outputs.cluster_name,
        task_definition=task_definition,
        container=CONTAINER,
        command=MIGRATE_COMMAND,
        subnets=list(outputs.task_subnet_ids),
        security_group=outputs.task_security_group_id,
    )
    progress(f"task {task_arn.rsplit('/', 1)[-1]} started")
    stopped = waits.task_stopped(tgt.aws.ecs, outputs.cluster_name, task_arn, progress)
    code = exit_code(stopped, CONTAINER)
    if code != 0:
        task_id = task_arn.rsplit("/", 1)[-1]
        logs = f"{outputs.log_groups.get(CONTAINER, '?')}, stream {CONTAINER}/{CONTAINER}/{task_id}"
        why = stopped.get("stoppedReason") or stopped.get("stopCode") or "unknown"
        ran = "never ran" if code is None else f"exited {code}"
        raise MigrationFailed(f"`ragassist migrate` {ran} ({why}); logs: {logs}")
    return task_arn.rsplit("/", 1)[-1]


@task(name="migrate", help={"env": ENV_HELP, "outputs_file": OUTPUTS_HELP})
def migrate_(c: Context, env: str, outputs_file: str = "") -> None:
    """Run the database migrations of the live release as a one-off ECS task and wait."""
    console = make_console()
    tgt = target(env, outputs_file)
    outputs = tgt.outputs
    try:
        with aws_errors(env):
            live = service_task_definitions(
                tgt.aws.ecs, outputs.cluster_name, [outputs.api_service_name]
            )[outputs.api_service_name]
            label = f"migrating {env} with {short_arn(live)}"
            with console.status(f"{label}…") as status:
                migrate(tgt, live, waiting.DEFAULT, lambda text: status.update(f"{label}: {text}"))
    except (EcsError, MigrationFailed, WaitFailed) as exc:
        raise Exit(f"{env}: migration failed: {exc}") from None
    console.print(f"{env}: migrations applied")


ns = Collection("db", migrate_)
