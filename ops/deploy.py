"""`invoke deploy`: ship one version to an environment (DESIGN §14, runbooks/deploy.md).

lock → build → push → register revisions → migrate → switch services → wait stable → publish
the widget → invalidate its aliases → smoke checks → ledger. The revision is registered before
the migration because a one-off ECS task can override a container's command but not its image:
the migration has to run from the new revision. Registering changes nothing that runs.

Up to the switch, a failure leaves the live release untouched. After it, a failure puts the
previous revisions (and widget aliases) back, records the attempt as `failed` in the ledger and
exits non-zero.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from invoke import Context, Exit, task
from invoke.exceptions import Failure
from rich.console import Console
from rich.table import Table

from ops import cdn, images
from ops import waits as waiting
from ops.aws import ENV_HELP, OUTPUTS_HELP, Target, aws_errors, short_arn, target
from ops.db import MigrationFailed, migrate
from ops.ecs import EcsError, register_revision, service_task_definitions, update_services
from ops.infra import ROOT
from ops.lock import DeployLock, LockHeld, LockLost
from ops.releases import Ledger, Release, actor, live, now
from ops.smoke import SmokeCheck, SmokeFailed
from ops.steps import Steps, confirm
from ops.steps import console as make_console
from ops.waits import WaitFailed, Waits

WIDGET_DIR = ROOT / "widget"
SMOKE_HELP = "check /healthz and /readyz at this base URL instead of through the ALB"
# What a failing step may raise (AWS refusing or timing out included); anything else is a bug
# and keeps its traceback.
FAILURES = (
    EcsError,
    MigrationFailed,
    WaitFailed,
    SmokeFailed,
    cdn.WidgetError,
    LockLost,
    Exit,
    Failure,  # a build command (docker, invoke widget.build) that failed
    BotoCoreError,
    ClientError,
)


@dataclass
class Plan:
    env: str
    version: str
    repository_url: str
    digest: str | None  # already in ECR under this version: not rebuilt
    running: dict[str, str]  # service → task definition ARN now
    live: Release | None
    widget_sources: bool  # widget/package.json: `invoke widget.build` runs first
    widget: cdn.WidgetBuild | None
    migration_revision: str
    smoke: SmokeCheck

    @property
    def image(self) -> str:
        return f"{self.repository_url}:{self.version}"


def migration_heads() -> str:
    from app.db.migrate import head_revisions

    return "+".join(sorted(head_revisions())) or "none"


class Deployer:
    def __init__(
        self,
        c: Context,
        tgt: Target,
        console: Console,
        *,
        waits: Waits,
        widget_dir: Path | None = None,
    ) -> None:
        self.c = c
        self.tgt = tgt
        self.console = console
        self.waits = waits
        self.widget_dir = widget_dir or WIDGET_DIR
        outputs = tgt.outputs
        self.ledger = Ledger(tgt.aws.ssm, outputs.release_ledger_parameter)
        self.services = [outputs.api_service_name, outputs.worker_service_name]

    def plan(self, version: str, smoke_url: str = "") -> Plan:
        """What a deploy of `version` would do, from read-only calls."""
        outputs = self.tgt.outputs
        aws = self.tgt.aws
        return Plan(
            env=self.tgt.env,
            version=version,
            repository_url=outputs.ecr_repository_url,
            digest=images.digest(aws.ecr, outputs.ecr_repository_url.split("/", 1)[1], version),
            running=service_task_definitions(aws.ecs, outputs.cluster_name, self.services),
            live=live(self.ledger.read()),
            widget_sources=(self.widget_dir / "package.json").is_file(),
            widget=cdn.read_build(self.widget_dir / "dist"),
            migration_revision=migration_heads(),
            smoke=SmokeCheck(base_url=smoke_url.rstrip("/"))
            if smoke_url
            else SmokeCheck.for_alb(outputs.alb_dns_name, outputs.api_base_url),
        )

    def show(self, plan: Plan, *, dry_run: bool) -> None:
        outputs = self.tgt.outputs
        head = "dry run: nothing will change" if dry_run else "plan"
        table = Table(title=f"Deploy {plan.version} to {plan.env} ({head})", show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        was = plan.live.version if plan.live else "nothing recorded (first deploy)"
        running = ", ".join(f"{s} {short_arn(arn)}" for s, arn in plan.running.items())
        table.add_row("live now", f"{was}; {running}")
        if plan.digest:
            image = f"{plan.image} is already in ECR ({plan.digest[:19]}…): not rebuilt"
        else:
            image = f"docker build --platform {images.PLATFORM}, push {plan.image}"
        table.add_row("image", image)
        table.add_row("widget", self._widget_line(plan))
        table.add_row("lock", outputs.deploy_lock_parameter)
        families = f"{outputs.api_task_family}, {outputs.worker_task_family}"
        table.add_row("register", f"new revisions of {families} with the image by digest")
        table.add_row(
            "migrate", f"one-off `ragassist migrate` task; code heads {plan.migration_revision}"
        )
        table.add_row(
            "switch", f"services {', '.join(self.services)} in {outputs.cluster_name}, wait stable"
        )
        table.add_row("smoke", plan.smoke.describe())
        table.add_row("ledger", outputs.release_ledger_parameter)
        table.add_row(
            "on failure", "after the switch: previous revisions and widget aliases restored"
        )
        self.console.print(table)

    def _widget_line(self, plan: Plan) -> str:
        build = "`invoke widget.build`, then " if plan.widget_sources else ""
        if plan.widget is None:
            if plan.widget_sources:
                return f"{build}publish widget/dist/ to s3://{self.tgt.outputs.widget_bucket}"
            return "skipped: no widget/dist/ (build it with `invoke widget.build`)"
        return (
            f"{build}publish {plan.widget.version} to s3://{self.tgt.outputs.widget_bucket}: "
            f"bundle first, then {', '.join(plan.widget.alias_paths)}; invalidate those"
        )

    def run(self, plan: Plan) -> Release:
        outputs = self.tgt.outputs
        aws = self.tgt.aws
        lock = DeployLock(
            aws.ssm, outputs.deploy_lock_parameter, owner=actor(), what=f"deploy {plan.version}"
        )
        with lock:
            if lock.took_over:
                self.console.print(f"[yellow]took over an expired lock: {lock.took_over}[/yellow]")
            self.console.print(f"[green]✓[/green] took the deploy lock {lock.parameter}")
            steps = Steps(self.console, total=9, before_each=lock.refresh)
            digest, widget = self._build_and_push(plan, steps)
            image = f"{plan.repository_url}@{digest}"
            with steps.step("register task-definition revisions") as progress:
                families = {
                    outputs.api_service_name: outputs.api_task_family,
                    outputs.worker_service_name: outputs.worker_task_family,
                }
                revisions = {
                    service: register_revision(
                        aws.ecs, family, plan.repository_url, image, plan.version
                    )
                    for service, family in families.items()
                }
                progress.summary = ", ".join(short_arn(arn) for arn in revisions.values())
            with steps.step("run migrations (one-off task)") as progress:
                task_id = migrate(
                    self.tgt, revisions[outputs.api_service_name], self.waits, progress
                )
                progress.summary = f"task {task_id} exited 0"
            # Without a build to publish, the widget that stays live is the previous release's.
            previous_widget = plan.live.widget_version if plan.live else None
            release = Release(
                version=plan.version,
                image_digest=digest,
                task_definition_arn=revisions[outputs.api_service_name],
                worker_task_definition_arn=revisions[outputs.worker_service_name],
                widget_version=widget.version if widget else previous_widget,
                migration_revision=plan.migration_revision,
                time=now(),
                actor=actor(),
            )
            return self._switch(plan, release, revisions, widget, steps)

    def _build_and_push(self, plan: Plan, steps: Steps) -> tuple[str, cdn.WidgetBuild | None]:
        if plan.digest is not None and not plan.widget_sources:
            steps.skip("build", "the image is in ECR already and there are no widget sources")
        else:
            with steps.step("build the image and the widget") as progress:
                if plan.digest is None:
                    progress(f"docker build {plan.image}")
                    images.build(self.c, plan.image)
                if plan.widget_sources:
                    progress("invoke widget.build")
                    with self.c.cd(str(ROOT)):
                        self.c.run(f"{sys.executable} -m invoke widget.build", in_stream=False)
        widget = cdn.read_build(self.widget_dir / "dist")
        if plan.digest is not None:
            steps.skip("push the image", f"{plan.image} already in ECR")
            return plan.digest, widget
        with steps.step("push the image to ECR") as progress:
            progress(plan.image)
            digest = images.push(self.c, self.tgt.aws.ecr, plan.repository_url, plan.version)
            progress.summary = f"{plan.image} = {digest[:19]}…"
        return digest, widget

    def _switch(
        self,
        plan: Plan,
        release: Release,
        revisions: dict[str, str],
        widget: cdn.WidgetBuild | None,
        steps: Steps,
    ) -> Release:
        aws = self.tgt.aws
        outputs = self.tgt.outputs
        published = False
        try:
            with steps.step("switch the services to the new revisions") as progress:
                update_services(aws.ecs, outputs.cluster_name, revisions)
                self.waits.services_stable(aws.ecs, outputs.cluster_name, revisions, progress)
            if widget is None:
                steps.skip("publish the widget", "no widget/dist/ build to publish")
                steps.skip("invalidate the widget aliases", "nothing published")
            else:
                with steps.step(f"publish widget {widget.version}") as progress:
                    progress("bundle first, then " + ", ".join(widget.alias_paths))
                    published = True  # from the first upload on, the aliases may have moved
                    cdn.publish(
                        aws.s3,
                        outputs.widget_bucket,
                        widget,
                        alias_max_age=cdn.alias_max_age(self.tgt.env),
                    )
                with steps.step("invalidate the widget aliases and wait") as progress:
                    found = cdn.invalidate(self.tgt, widget.alias_paths, self.waits, progress)
                    progress.summary = f"{', '.join(widget.alias_paths)} ({found}, completed)"
            with steps.step("smoke checks") as progress:
                plan.smoke.run(self.waits.sleep, progress)
                progress.summary = "/healthz ok, /readyz ready"
        except KeyboardInterrupt:
            was = plan.live.version if plan.live else "<version>"
            self.console.print(
                f"[bold red]interrupted after the switch: {plan.env} may be running "
                f"{plan.version}, which is not in the ledger.[/bold red] Finish with the same "
                f"`invoke deploy`, or go back with `invoke rollback --env {plan.env} --to {was}`."
            )
            raise
        except FAILURES as exc:
            self._undo(plan, release, published)
            raise Exit(
                f"deploy of {plan.version} to {plan.env} failed after the switch: {exc}\n"
                f"rolled back to {plan.live.version if plan.live else 'the previous revisions'}"
                " and recorded as failed in the ledger"
            ) from None
        with steps.step("record the release in the ledger"):
            self.ledger.append(release)
        self.console.print(f"[bold green]{plan.version} is live in {plan.env}[/bold green]")
        return release

    def _undo(self, plan: Plan, release: Release, published: bool) -> None:
        aws = self.tgt.aws
        outputs = self.tgt.outputs
        self.console.print(f"[bold red]rolling back {plan.env} to the previous release[/bold red]")
        steps = Steps(self.console, total=2)
        try:
            with steps.step("put the previous revisions back") as progress:
                update_services(aws.ecs, outputs.cluster_name, plan.running)
                self.waits.services_stable(aws.ecs, outputs.cluster_name, plan.running, progress)
            previous_widget = plan.live.widget_version if plan.live else None
            if published and previous_widget:
                with steps.step(f"re-point the widget aliases to {previous_widget}") as progress:
                    paths = cdn.restore(aws.s3, outputs.widget_bucket, previous_widget)
                    cdn.invalidate(self.tgt, paths, self.waits, progress)
            elif published:
                steps.skip("re-point the widget aliases", "no earlier widget release recorded")
            else:
                steps.skip("re-point the widget aliases", "they were not touched")
        except FAILURES as exc:
            raise Exit(
                f"AUTOMATIC ROLLBACK FAILED ({exc}). {plan.env} may be running {plan.version}: "
                f"run `invoke rollback --env {plan.env} --to "
                f"{plan.live.version if plan.live else '<version>'}` and page the release owner"
            ) from None
        self.ledger.append(replace(release, kind="failed", time=now()))


@task(
    help={
        "env": ENV_HELP,
        "version": "version to ship; the image tag (default: `git describe` of this checkout)",
        "dry_run": "print the plan and change nothing",
        "yes": "do not ask for confirmation (prod asks otherwise; needed without a terminal)",
        "smoke_url": SMOKE_HELP,
        "outputs_file": OUTPUTS_HELP,
    }
)
def deploy(
    c: Context,
    env: str,
    version: str = "",
    dry_run: bool = False,
    yes: bool = False,
    smoke_url: str = "",
    outputs_file: str = "",
) -> None:
    """Ship a version: image, migrations, services, widget, smoke checks, ledger."""
    console = make_console()
    tgt = target(env, outputs_file)
    version = images.check_tag(version) if version else images.default_version(c)
    deployer = Deployer(c, tgt, console, waits=waiting.DEFAULT)
    try:
        with aws_errors(env):
            plan = deployer.plan(version, smoke_url)
    except (EcsError, cdn.WidgetError) as exc:
        raise Exit(f"cannot plan the deploy: {exc}") from None
    deployer.show(plan, dry_run=dry_run)
    if dry_run:
        return
    if plan.digest is None:
        images.require_docker(c)  # fail before the lock and the question, not halfway
    confirm(env, f"Deploy {version} to {env}?", yes=yes)
    try:
        deployer.run(plan)
    except LockHeld as exc:
        raise Exit(f"not deploying: {exc}") from None
    except FAILURES as exc:
        if isinstance(exc, Exit):
            raise
        raise Exit(
            f"deploy of {version} to {env} stopped before the switch: {exc}\n"
            "the live release is unchanged"
        ) from None
