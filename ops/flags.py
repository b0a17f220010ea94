"""`invoke flags.*`: read and flip the feature flags an environment's app reads from SSM.

The flags live in one String parameter, `/ragassist/<env>/flags`, as a JSON object; the app
reads it through `FLAGS_SOURCE=ssm:...` with a short cache (FLAGS_CACHE_SECONDS), so a flip
takes effect within seconds and without a deploy: the seed's rollback plan's first levers.
Names and values are validated by `app.flags`, the same code the app parses them with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from invoke import Collection, Context, Exit, task
from rich.console import Console
from rich.table import Table

from app.flags import Flags, flag_choices, parse_flag
from ops.aws import ENV_HELP, OUTPUTS_HELP, Clients, aws_errors, parameter_name, region
from ops.steps import console as make_console


class FlagsUnreadable(Exception):
    """The parameter does not hold a JSON object (the app keeps its last good flags)."""


@dataclass(frozen=True, slots=True)
class StoredFlags:
    values: dict[str, Any]
    version: int
    modified: datetime | None


def read_flags(ssm: Any, parameter: str) -> StoredFlags:
    response = ssm.get_parameter(Name=parameter)["Parameter"]
    try:
        values = json.loads(response["Value"])
    except ValueError as exc:
        raise FlagsUnreadable(f"{parameter} holds invalid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise FlagsUnreadable(f"{parameter} holds {type(values).__name__}, not a JSON object")
    return StoredFlags(values, int(response["Version"]), response.get("LastModifiedDate"))


@dataclass(frozen=True, slots=True)
class FlagChange:
    name: str
    old: Any
    new: Any
    version: int
    written: bool


def write_flag(ssm: Any, parameter: str, name: str, value: str) -> FlagChange:
    """Set one flag, keeping the others as they are.

    Raises ValueError naming the allowed flags or values before anything is written.
    """
    new = parse_flag(name, value)
    stored = read_flags(ssm, parameter)
    old = _effective(name, stored.values)
    if name in stored.values and old == new:
        return FlagChange(name, old, new, stored.version, written=False)
    values = {**stored.values, name: new}
    response = ssm.put_parameter(
        Name=parameter, Value=json.dumps(values, sort_keys=True), Type="String", Overwrite=True
    )
    version = int(response["Version"])
    if version != stored.version + 1:
        # SSM has no compare-and-set: a write landed between our read and ours, and ours kept
        # its values for the other flags. Say so rather than guess whose change should win.
        raise ConcurrentChange(stored.version, version)
    return FlagChange(name, old, new, version, written=True)


def _effective(name: str, values: dict[str, Any]) -> Any:
    """What the app uses now: the stored value, or the default when absent; a value the app
    refuses is shown raw (the app then keeps its last good flags)."""
    if name not in values:
        return getattr(Flags(), name)
    try:
        return parse_flag(name, values[name])
    except ValueError:
        return values[name]


class ConcurrentChange(Exception):
    def __init__(self, read: int, written: int) -> None:
        super().__init__(
            f"another change to the flags landed while this one was written (read version "
            f"{read}, wrote version {written}): check `invoke flags.list` and set again if needed"
        )


def _refused(name: str, values: dict[str, Any]) -> bool:
    try:
        parse_flag(name, values.get(name, getattr(Flags(), name)))
    except ValueError:
        return True
    return False


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _ssm(env: str, outputs_file: str, console: Console) -> tuple[Any, str]:
    parameter, note = parameter_name(env, outputs_file, "flagsParameter", "flags")
    if note:
        console.print(f"[dim]{note}[/dim]")
    return Clients(region(env)).ssm, parameter


@task(name="list", help={"env": ENV_HELP, "outputs_file": OUTPUTS_HELP})
def list_(c: Context, env: str, outputs_file: str = "") -> None:
    """Show an environment's feature flags, their defaults and allowed values."""
    console = make_console()
    ssm, parameter = _ssm(env, outputs_file, console)
    try:
        with aws_errors(env):
            stored = read_flags(ssm, parameter)
    except FlagsUnreadable as exc:
        raise Exit(f"{exc}; the app keeps its last good flags until this is fixed") from None
    changed = f", changed {stored.modified:%Y-%m-%d %H:%M %Z}" if stored.modified else ""
    table = Table(title=f"{env} feature flags ({parameter}, version {stored.version}{changed})")
    for column in ("flag", "value", "default", "allowed"):
        table.add_column(column)
    defaults = Flags()
    for name, choices in flag_choices().items():
        default = getattr(defaults, name)
        value = _effective(name, stored.values)
        shown = _show(value) if name in stored.values else f"{_show(value)} (default)"
        if _refused(name, stored.values):
            shown = f"[red]{shown} (refused: the app keeps its last good flags)[/red]"
        elif value != default:  # a pulled lever stands out
            shown = f"[bold yellow]{shown}[/bold yellow]"
        table.add_row(name, shown, _show(default), ", ".join(choices))
    for name in sorted(set(stored.values) - set(flag_choices())):
        unknown = "[red]unknown: the app ignores it[/red]"
        table.add_row(name, _show(stored.values[name]), "", unknown)
    console.print(table)


@task(
    name="set",
    help={
        "env": ENV_HELP,
        "name": f"the flag: {', '.join(flag_choices())}",
        "value": "its new value, e.g. report-only or false (`invoke flags.list` shows the allowed)",
        "outputs_file": OUTPUTS_HELP,
    },
)
def set_(c: Context, env: str, name: str, value: str, outputs_file: str = "") -> None:
    """Set one feature flag in an environment; the app picks it up within seconds."""
    console = make_console()
    try:
        parse_flag(name, value)  # refuse before touching AWS
    except ValueError as exc:
        raise Exit(f"not set: {exc}") from None
    ssm, parameter = _ssm(env, outputs_file, console)
    try:
        with aws_errors(env):
            change = write_flag(ssm, parameter, name, value)
    except FlagsUnreadable as exc:
        raise Exit(
            f"not set: {exc}. Repair it with `aws ssm put-parameter --overwrite --name {parameter}"
            " --value '{...}'` (`invoke flags.list` shows the flags' defaults)"
        ) from None
    except ConcurrentChange as exc:
        raise Exit(f"{name} written, but {exc}") from None
    if not change.written:
        console.print(f"{env} {name} is already {_show(change.new)}; nothing written")
        return
    console.print(
        f"{env} {name}: {_show(change.old)} → [bold]{_show(change.new)}[/bold] "
        f"({parameter}, version {change.version})\n"
        "The app applies it within its flag cache (FLAGS_CACHE_SECONDS, default 10 s)."
    )


ns = Collection("flags", list_, set_)
