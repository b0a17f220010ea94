"""`invoke status --env`: what is live, read from AWS rather than remembered.

The first question of an incident is "what runs now?". The ledger says what the last deploy
meant to put live; the services, the bucket and the flag parameter say what is live. This task
shows both, marks where they differ (an interrupted deploy, a hand-made change), and lists the
alarms in ALARM. It only reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from invoke import Context, task
from rich.table import Table

from ops.aws import ENV_HELP, OUTPUTS_HELP, PROJECT, Target, aws_errors, short_arn, target
from ops.flags import FlagsUnreadable, read_flags
from ops.releases import Ledger, Release, live
from ops.steps import console as make_console


@dataclass(frozen=True, slots=True)
class Status:
    release: Release | None
    services: dict[str, dict[str, Any]]  # name → taskDefinition, running, desired, rollout
    widget_version: str | None  # what the bucket's manifest.json names
    flags: dict[str, Any] | str  # the stored values, or why they cannot be read
    alarms: list[dict[str, str]]  # in ALARM: name, reason, since
    recorded: dict[str, str]  # service → the task definition the ledger's release runs

    @property
    def drift(self) -> list[str]:
        """Where what runs differs from what the ledger recorded."""
        if self.release is None:
            return []
        found = [
            f"{name} runs {short_arn(self.services[name]['taskDefinition'])}, the ledger says "
            f"{short_arn(arn)}"
            for name, arn in self.recorded.items()
            if name in self.services and self.services[name]["taskDefinition"] != arn
        ]
        if self.widget_version != self.release.widget_version:
            found.append(
                f"the CDN serves widget {self.widget_version}, the ledger says "
                f"{self.release.widget_version}"
            )
        return found


def read_status(tgt: Target) -> Status:
    outputs = tgt.outputs
    aws = tgt.aws
    names = [outputs.api_service_name, outputs.worker_service_name]
    described = aws.ecs.describe_services(cluster=outputs.cluster_name, services=names)
    services = {
        service["serviceName"]: {
            "taskDefinition": service["taskDefinition"],
            "running": service.get("runningCount", 0),
            "desired": service.get("desiredCount", 0),
            "rollout": ", ".join(
                str(d.get("rolloutState", d.get("status", "?")))
                for d in service.get("deployments", [])
            ),
        }
        for service in described["services"]
    }
    try:
        flags: dict[str, Any] | str = read_flags(aws.ssm, outputs.flags_parameter).values
    except FlagsUnreadable as exc:
        flags = str(exc)
    release = live(Ledger(aws.ssm, outputs.release_ledger_parameter).read())
    recorded = (
        {
            outputs.api_service_name: release.task_definition_arn,
            outputs.worker_service_name: release.worker_task_definition_arn,
        }
        if release
        else {}
    )
    return Status(
        release=release,
        services=services,
        widget_version=_widget_version(aws.s3, outputs.widget_bucket),
        flags=flags,
        alarms=_alarms(aws.cloudwatch, f"{PROJECT}-{tgt.env}-"),
        recorded=recorded,
    )


def _widget_version(s3: Any, bucket: str) -> str | None:
    try:
        body = s3.get_object(Bucket=bucket, Key="manifest.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        return str(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError):
        return "unreadable manifest.json"


def _alarms(cloudwatch: Any, prefix: str) -> list[dict[str, str]]:
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    )
    return [
        {
            "name": alarm["AlarmName"],
            "reason": alarm.get("StateReason", ""),
            "since": str(alarm.get("StateUpdatedTimestamp", "")),
        }
        for page in pages
        for kind in ("MetricAlarms", "CompositeAlarms")
        for alarm in page.get(kind, [])
        # Checked again: some CloudWatch stand-ins ignore StateValue beside a name prefix.
        if alarm.get("StateValue") == "ALARM"
    ]


def status_table(env: str, status: Status) -> Table:
    table = Table(title=f"{env}: what is live", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    release = status.release
    table.add_row(
        "release",
        f"{release.version} ({release.kind}, {release.time} by {release.actor})"
        if release
        else "nothing recorded in the ledger",
    )
    for name, service in status.services.items():
        table.add_row(
            f"service {name}",
            f"{short_arn(service['taskDefinition'])}: {service['running']}/{service['desired']} "
            f"running; {service['rollout'] or 'no deployment'}",
        )
    table.add_row("widget", status.widget_version or "no manifest.json in the bucket")
    flags = status.flags
    table.add_row(
        "flags",
        ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(flags.items()))
        if isinstance(flags, dict)
        else f"[red]{flags}[/red]",
    )
    alarms = "\n".join(f"[red]{a['name']}[/red] since {a['since']}" for a in status.alarms)
    table.add_row("alarms in ALARM", alarms or "[green]none[/green]")
    for line in status.drift:
        table.add_row("[yellow]differs[/yellow]", line)
    return table


@task(help={"env": ENV_HELP, "json": "print JSON instead of a table", "outputs_file": OUTPUTS_HELP})
def status(c: Context, env: str, json_: bool = False, outputs_file: str = "") -> None:
    """Show what is live: release, task definitions, widget version, flags, alarms in ALARM."""
    tgt = target(env, outputs_file)
    with aws_errors(env):
        found = read_status(tgt)
    if json_:
        release = found.release
        print(
            json.dumps(
                {
                    "release": release.version if release else None,
                    "services": found.services,
                    "widgetVersion": found.widget_version,
                    "flags": found.flags,
                    "alarms": found.alarms,
                    "drift": found.drift,
                },
                indent=2,
            )
        )
        return
    make_console().print(status_table(env, found))
