"""The release ledger (DESIGN §13): what each deploy and rollback put live, kept in SSM.

One String parameter per environment, `/ragassist/<env>/releases`, holding a JSON list, oldest
first. `invoke deploy` and `invoke rollback` append to it under the deploy lock; `invoke rollback`
reads it to find what to go back to. A standard SSM parameter holds at most 4 KB, so the oldest
entries are dropped to make room (about ten stay; ECR keeps the last 100 images).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

from invoke import Context, Exit, task
from rich.table import Table

from ops.aws import (
    ENV_HELP,
    OUTPUTS_HELP,
    Clients,
    aws_errors,
    parameter_name,
    region,
    short_arn,
)
from ops.steps import console as make_console

# SSM's limit for a standard-tier parameter value; Pulumi owns the tier, so it stays standard.
MAX_LEDGER_BYTES = 4096
ACTOR_ENV = "RAGASSIST_ACTOR"

Kind = Literal["deploy", "rollback", "failed", "widget"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Release:
    version: str
    image_digest: str
    task_definition_arn: str
    worker_task_definition_arn: str
    widget_version: str | None
    migration_revision: str
    time: str
    actor: str
    # `deploy`: went live; `rollback`: an earlier release put back; `failed`: a deploy that was
    # live briefly and rolled back by `invoke deploy` itself (kept: it explains a blip);
    # `widget`: the live release with another widget version (`invoke widget.publish/rollback`).
    kind: Kind = "deploy"
    # For `rollback` and `failed`: the version that was taken down.
    replaced: str | None = None

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Release:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def as_live(self, *, kind: Kind, replaced: str | None, actor: str) -> Release:
        """This release put live again (by a rollback) now, by `actor`."""
        data = asdict(self) | {"kind": kind, "replaced": replaced, "time": now(), "actor": actor}
        return Release(**data)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def actor() -> str:
    """Who is acting, for the ledger: `RAGASSIST_ACTOR` (CI sets it), else user@host."""
    return os.environ.get(ACTOR_ENV) or f"{getpass.getuser()}@{socket.gethostname()}"


class Ledger:
    def __init__(self, ssm: Any, parameter: str) -> None:
        self.ssm = ssm
        self.parameter = parameter

    def read(self) -> list[Release]:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            raise Exit(f"no release ledger {self.parameter}: run `invoke infra.up` first") from None
        try:
            entries = json.loads(value)
            if not isinstance(entries, list):
                raise TypeError("not a JSON list")
            return [Release.from_mapping(entry) for entry in entries]
        except (ValueError, TypeError) as exc:
            # Never overwrite what cannot be read: it is the only record of what went out.
            raise Exit(f"{self.parameter} does not hold a readable release list: {exc}") from None

    def append(self, release: Release) -> None:
        entries = [asdict(entry) for entry in [*self.read(), release]]
        # Compact and trimmed from the oldest end until it fits the parameter's limit.
        while True:
            value = json.dumps(entries, separators=(",", ":"))
            if len(value.encode()) <= MAX_LEDGER_BYTES or len(entries) == 1:
                break
            entries.pop(0)
        self.ssm.put_parameter(Name=self.parameter, Value=value, Type="String", Overwrite=True)


def live(releases: list[Release]) -> Release | None:
    """What runs now: the newest entry that went live and stayed (`failed` ones were undone)."""
    return next((entry for entry in reversed(releases) if entry.kind != "failed"), None)


def rollback_target(releases: list[Release], to: str = "") -> Release:
    """The release `invoke rollback` puts back: `to`, or the one before the live one.

    "The one before" skips the live version itself and any version that was rolled back from
    or failed, so two rollbacks in a row walk further back instead of bouncing between two bad
    releases.
    """
    current = live(releases)
    if current is None:
        raise Exit("the ledger is empty: nothing was deployed, so there is nothing to go back to")
    taken_down = {entry.replaced for entry in releases if entry.replaced} | {
        entry.version for entry in releases if entry.kind == "failed"
    }
    candidates = [entry for entry in releases if entry.kind != "failed"]
    if to:
        found = [entry for entry in candidates if entry.version == to]
        if not found:
            known = ", ".join(dict.fromkeys(entry.version for entry in reversed(candidates)))
            raise Exit(f"version {to!r} is not in the ledger; known: {known}")
        target = found[-1]
    else:
        older = [
            entry
            for entry in candidates[: candidates.index(current)]
            if entry.version != current.version and entry.version not in taken_down
        ]
        if not older:
            raise Exit(
                f"no earlier good release than {current.version} in the ledger; "
                "name one with --to (`invoke releases` lists them)"
            )
        target = older[-1]
    return target


def releases_table(env: str, releases: list[Release], parameter: str) -> Table:
    current = live(releases)
    table = Table(title=f"{env} releases ({parameter}), newest first")
    for column in (
        "",
        "version",
        "kind",
        "time (UTC)",
        "actor",
        "image",
        "api / worker task",
        "widget",
        "migration",
    ):
        table.add_column(column, overflow="fold")
    for entry in reversed(releases):
        kind = entry.kind if entry.replaced is None else f"{entry.kind} (from {entry.replaced})"
        table.add_row(
            "[bold green]live[/bold green]" if entry is current else "",
            entry.version,
            f"[red]{kind}[/red]" if entry.kind == "failed" else kind,
            entry.time.replace("T", " ").removesuffix("Z"),
            entry.actor,
            entry.image_digest.removeprefix("sha256:")[:12],
            f"{short_arn(entry.task_definition_arn)}\n{short_arn(entry.worker_task_definition_arn)}",
            entry.widget_version or "-",
            entry.migration_revision,
        )
    return table


@task(
    help={
        "env": ENV_HELP,
        "json": "print the ledger as JSON instead of a table",
        "outputs_file": OUTPUTS_HELP,
    }
)
def releases(c: Context, env: str, json_: bool = False, outputs_file: str = "") -> None:
    """Show an environment's release ledger: what went live when, by whom; newest first."""
    console = make_console()
    parameter, note = parameter_name(env, outputs_file, "releaseLedgerParameter", "releases")
    with aws_errors(env):
        entries = Ledger(Clients(region(env)).ssm, parameter).read()
    if json_:
        print(json.dumps([asdict(entry) for entry in entries], indent=2))
        return
    if note:
        console.print(f"[dim]{note}[/dim]")
    if not entries:
        console.print(f"{env}: no releases yet (`invoke deploy --env {env}`)")
        return
    console.print(releases_table(env, entries, parameter))
