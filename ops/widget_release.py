"""`invoke widget.publish` and `invoke widget.rollback`: the widget on the CDN without a deploy.

A widget fix should not wait for an image build, and a bad widget should not need the API
rolled back with it (seed Task 3.3). Publishing reuses the deploy's CDN steps (`ops.cdn`):
immutable bundle first, then the saved aliases, then the live aliases, so a failure half-way
never leaves `manifest.json` pointing at a bundle that is not uploaded. Only the aliases are
invalidated. Then the widget is fetched back through the CDN the way a shop page loads it
(manifest, loader, bundle checked against the manifest's sha384, as the SRI attribute will); if
that check fails, the previous widget's aliases are put back. Both tasks take the deploy lock
(a deploy publishes the widget too) and record a `widget` entry in the release ledger: the live
release with another widget version.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from botocore.exceptions import BotoCoreError, ClientError
from invoke import Context, Exit, task
from invoke.exceptions import Failure
from rich.console import Console

from ops import cdn
from ops import waits as waiting
from ops.aws import ENV_HELP, OUTPUTS_HELP, Target, aws_errors, read_outputs, target
from ops.infra import ROOT
from ops.lock import DeployLock, LockHeld, LockLost
from ops.releases import Ledger, Release, actor, live, now
from ops.steps import Steps, confirm
from ops.steps import console as make_console
from ops.waits import WaitFailed, Waits
from ops.widget import sha384

CDN_URL_HELP = "fetch the widget back from this base URL instead of the stack's widgetBaseUrl"
FAILURES = (cdn.WidgetError, WaitFailed, LockLost, BotoCoreError, ClientError, Failure)
VERIFY_TIMEOUT = httpx.Timeout(10.0)


class VerifyFailed(Exception):
    """What the CDN serves is not the widget that was published."""


@dataclass(frozen=True, slots=True)
class Verified:
    version: str
    bundle: str
    integrity: str


def verify(cdn_url: str, version: str) -> Verified:
    """Load the widget through the CDN as a shop page does, and check what the loader will pin.

    The manifest must name `version` and its bundle; the bundle's bytes must hash to the
    manifest's `integrity` (the browser refuses the script otherwise); the loader must answer.
    """
    base = cdn_url.rstrip("/")
    with httpx.Client(timeout=VERIFY_TIMEOUT, follow_redirects=True) as client:
        manifest = _json(client, f"{base}/manifest.json")
        if manifest.get("version") != version:
            raise VerifyFailed(
                f"{base}/manifest.json serves version {manifest.get('version')!r}, not {version!r}"
            )
        bundle = str(manifest.get("bundle", ""))
        integrity = str(manifest.get("integrity", ""))
        if not bundle or not integrity:
            raise VerifyFailed(f"{base}/manifest.json names no bundle or integrity")
        body = _get(client, f"{base}/{bundle}").content
        if sha384(body) != integrity:
            raise VerifyFailed(f"{base}/{bundle} does not match the manifest's integrity")
        _get(client, f"{base}/loader.js")
    return Verified(version=version, bundle=bundle, integrity=integrity)


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        response = client.get(url, headers={"Cache-Control": "no-cache"})
    except httpx.HTTPError as exc:
        raise VerifyFailed(f"cannot fetch {url}: {exc}") from None
    if response.status_code != 200:
        raise VerifyFailed(f"{url} answered {response.status_code}")
    return response


def _json(client: httpx.Client, url: str) -> dict[str, object]:
    try:
        value = json.loads(_get(client, url).content)
    except ValueError as exc:
        raise VerifyFailed(f"{url} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise VerifyFailed(f"{url} is not a JSON object")
    return value


def cdn_base_url(env: str, outputs_file: str, override: str) -> str:
    if override:
        return override
    url = read_outputs(env, outputs_file).get("widgetBaseUrl")
    if not url:
        raise Exit(f"the {env} stack outputs have no widgetBaseUrl; pass --cdn-url")
    return str(url)


class WidgetRelease:
    """Publish or restore the widget of one environment, under the deploy lock."""

    def __init__(self, tgt: Target, console: Console, *, waits: Waits, cdn_url: str) -> None:
        self.tgt = tgt
        self.console = console
        self.waits = waits
        self.cdn_url = cdn_url
        self.ledger = Ledger(tgt.aws.ssm, tgt.outputs.release_ledger_parameter)

    def publish(self, build: cdn.WidgetBuild) -> Release:
        outputs = self.tgt.outputs
        current = self._live()
        with self._lock(f"publish widget {build.version}") as steps:
            touched = False
            try:
                with steps.step(f"upload widget {build.version}") as progress:
                    progress("bundle first, then " + ", ".join(build.alias_paths))
                    touched = True  # from the first alias upload on, the aliases may have moved
                    cdn.publish(
                        self.tgt.aws.s3,
                        outputs.widget_bucket,
                        build,
                        alias_max_age=cdn.alias_max_age(self.tgt.env),
                    )
                    progress.summary = f"{len(build.immutable)} immutable, then the aliases"
                self._invalidate_and_verify(steps, build.alias_paths, build.version)
            except (*FAILURES, VerifyFailed) as exc:
                if touched:
                    self._put_back(current.widget_version)
                raise Exit(
                    f"widget {build.version} not published to {self.tgt.env}: {exc}\n"
                    f"the aliases point at {current.widget_version or 'what they did before'}"
                ) from None
            return self._record(steps, current, build.version)

    def restore(self, version: str) -> Release:
        current = self._live()
        with self._lock(f"roll the widget back to {version}") as steps:
            try:
                with steps.step(f"re-point the aliases to {version}") as progress:
                    paths = cdn.restore(self.tgt.aws.s3, self.tgt.outputs.widget_bucket, version)
                    progress.summary = ", ".join(paths)
                self._invalidate_and_verify(steps, paths, version)
            except (*FAILURES, VerifyFailed) as exc:
                raise Exit(
                    f"widget rollback of {self.tgt.env} to {version} failed: {exc}"
                ) from None
            return self._record(steps, current, version)

    def _live(self) -> Release:
        current = live(self.ledger.read())
        if current is None:
            raise Exit(
                f"{self.tgt.env} has no release yet: the first widget goes out with "
                f"`invoke deploy --env {self.tgt.env}`"
            )
        return current

    @contextmanager
    def _lock(self, what: str) -> Iterator[Steps]:
        parameter = self.tgt.outputs.deploy_lock_parameter
        lock = DeployLock(self.tgt.aws.ssm, parameter, owner=actor(), what=what)
        with lock:
            self.console.print(f"[green]✓[/green] took the deploy lock {lock.parameter}")
            yield Steps(self.console, total=4, before_each=lock.refresh)

    def _invalidate_and_verify(self, steps: Steps, paths: tuple[str, ...], version: str) -> None:
        with steps.step("invalidate the aliases and wait") as progress:
            found = cdn.invalidate(self.tgt, paths, self.waits, progress)
            progress.summary = f"{', '.join(paths)} ({found}, completed)"
        with steps.step("verify through the CDN") as progress:
            progress(self.cdn_url)
            checked = verify(self.cdn_url, version)
            progress.summary = f"{checked.bundle} matches {checked.integrity[:19]}…"

    def _put_back(self, version: str | None) -> None:
        if not version:
            self.console.print("[yellow]no earlier widget recorded: aliases left as they are")
            return
        self.console.print(f"[bold red]putting widget {version}'s aliases back[/bold red]")
        try:
            paths = cdn.restore(self.tgt.aws.s3, self.tgt.outputs.widget_bucket, version)
            cdn.invalidate(self.tgt, paths, self.waits, lambda _: None)
        except FAILURES as exc:
            raise Exit(
                f"PUTTING THE WIDGET BACK FAILED ({exc}): run "
                f"`invoke widget.rollback --env {self.tgt.env} --to {version}`"
            ) from None

    def _record(self, steps: Steps, current: Release, version: str) -> Release:
        entry = replace(
            current,
            kind="widget",
            widget_version=version,
            replaced=None,
            time=now(),
            actor=actor(),
        )
        with steps.step("record the widget in the ledger"):
            self.ledger.append(entry)
        return entry


def previous_widget(releases: list[Release], current: Release) -> str:
    """The widget version live before the current one, for a rollback without --to."""
    for entry in reversed(releases[: releases.index(current)]):
        if entry.kind != "failed" and entry.widget_version not in (None, current.widget_version):
            return str(entry.widget_version)
    raise Exit(f"no earlier widget than {current.widget_version} in the ledger; name one with --to")


PUBLISH_HELP = {
    "env": ENV_HELP,
    "no_build": "publish the build as it is instead of running `invoke widget.build` first",
    "dist": "the build to publish (default widget/dist/)",
    "yes": "do not ask for confirmation (prod asks otherwise; needed without a terminal)",
    "cdn_url": CDN_URL_HELP,
    "outputs_file": OUTPUTS_HELP,
}


@task(help=PUBLISH_HELP)
def publish(
    c: Context,
    env: str,
    no_build: bool = False,
    dist: str = "",
    yes: bool = False,
    cdn_url: str = "",
    outputs_file: str = "",
) -> None:
    """Publish the widget alone: build, upload, flip the aliases, invalidate, verify, ledger."""
    console = make_console()
    tgt = target(env, outputs_file)
    base = cdn_base_url(env, outputs_file, cdn_url)
    if not no_build:
        with c.cd(str(ROOT)):
            c.run(f"{sys.executable} -m invoke widget.build", in_stream=False)
    try:
        build = cdn.read_build(Path(dist) if dist else cdn.WIDGET_DIST)
    except cdn.WidgetError as exc:
        raise Exit(str(exc)) from None
    if build is None:
        raise Exit("no widget/dist/ to publish: run `invoke widget.build` (or drop --no-build)")
    confirm(env, f"Publish widget {build.version} to {env}?", yes=yes)
    release = WidgetRelease(tgt, console, waits=waiting.DEFAULT, cdn_url=base)
    try:
        with aws_errors(env):
            release.publish(build)
    except LockHeld as exc:
        raise Exit(f"not publishing: {exc}") from None
    console.print(f"[bold green]widget {build.version} is live in {env}[/bold green]")


@task(
    help={
        "env": ENV_HELP,
        "to": "widget version to put back (`invoke releases`); default: the one before the live",
        "yes": "do not ask for confirmation (prod asks otherwise; needed without a terminal)",
        "cdn_url": CDN_URL_HELP,
        "outputs_file": OUTPUTS_HELP,
    }
)
def rollback(
    c: Context,
    env: str,
    to: str = "",
    yes: bool = False,
    cdn_url: str = "",
    outputs_file: str = "",
) -> None:
    """Put an earlier widget version back on the CDN (aliases only); the API is untouched."""
    console = make_console()
    tgt = target(env, outputs_file)
    base = cdn_base_url(env, outputs_file, cdn_url)
    with aws_errors(env):
        releases = Ledger(tgt.aws.ssm, tgt.outputs.release_ledger_parameter).read()
    current = live(releases)
    if current is None:
        raise Exit(f"{env} has no release yet: nothing to roll back")
    version = to or previous_widget(releases, current)
    if version == current.widget_version:
        raise Exit(f"widget {version} is already live in {env}; nothing to do")
    confirm(env, f"Roll {env}'s widget back from {current.widget_version} to {version}?", yes=yes)
    release = WidgetRelease(tgt, console, waits=waiting.DEFAULT, cdn_url=base)
    try:
        with aws_errors(env):
            release.restore(version)
    except LockHeld as exc:
        raise Exit(f"not rolling back: {exc}") from None
    console.print(f"[bold green]widget {version} is live again in {env}[/bold green]")
