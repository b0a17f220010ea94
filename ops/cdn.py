"""The widget on the CDN: publish a build, re-point the aliases, invalidate them.

`widget/dist/` (from `invoke widget.build`) holds immutable, versioned files
(`rag-assistant.<version>.js` and its map) and alias files that move with each release (the
loader and `manifest.json`). A publish uploads the immutable files first and the aliases last,
so no alias ever points at a bundle that is not there yet; only the aliases are invalidated.
Each release's aliases are also kept under `aliases/<version>/`, which is what a rollback copies
back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import uuid
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from invoke import Collection, Context, Exit, task

from ops import waits as waiting
from ops.aws import ENV_HELP, OUTPUTS_HELP, Target, aws_errors, stack_config, target
from ops.infra import ROOT
from ops.steps import console as make_console
from ops.waits import Progress, WaitFailed, Waits

WIDGET_DIST = ROOT / "widget" / "dist"
# Must match the CDN's long-TTL behaviours (stacks/widget_cdn.py; a test holds them equal).
IMMUTABLE_PATTERNS = ("rag-assistant.*.js", "rag-assistant.*.js.map")
ALIAS_PATHS = ("/loader.js", "/manifest.json")
ALIAS_HELP = ", ".join(ALIAS_PATHS)
# Written last, in this order: the loader reads the manifest.
LAST = ("manifest.json", "loader.js")
ALIAS_PREFIX = "aliases"
_YEAR = 31_536_000


class WidgetError(Exception):
    """The build cannot be published as it is (nothing was uploaded)."""


@dataclass(frozen=True, slots=True)
class WidgetBuild:
    version: str
    immutable: tuple[Path, ...]
    aliases: tuple[Path, ...]  # in upload order

    @property
    def alias_paths(self) -> tuple[str, ...]:
        return tuple(f"/{path.name}" for path in self.aliases)


def read_build(dist: Path = WIDGET_DIST) -> WidgetBuild | None:
    """The build in `dist`, checked; None when there is no build to publish."""
    manifest = dist / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        described = json.loads(manifest.read_text())
        version = str(described["version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WidgetError(f"{manifest} has no readable version: {exc}") from None
    _check_integrity(dist, described.get("files") or {})
    files = sorted(path for path in dist.iterdir() if path.is_file())
    immutable = tuple(p for p in files if any(fnmatch(p.name, pat) for pat in IMMUTABLE_PATTERNS))
    if dist / f"rag-assistant.{version}.js" not in immutable:
        # A manifest pointing at a bundle that is not uploaded breaks every merchant's widget.
        bundle = f"rag-assistant.{version}.js"
        raise WidgetError(f"{dist}: manifest.json names {version} but {bundle} is missing")
    others = [p for p in files if p not in immutable]
    order = {name: index for index, name in enumerate(LAST)}
    aliases = tuple(sorted(others, key=lambda p: (order.get(p.name, -1), p.name)))
    return WidgetBuild(version=version, immutable=immutable, aliases=aliases)


def _check_integrity(dist: Path, files: dict[str, Any]) -> None:
    """The manifest's sha384 must match the files: the loader injects the bundle with that
    `integrity`, and a mismatch (a stale or half-rebuilt dist/) fails every merchant's widget."""
    for name, info in files.items():
        expected = info.get("sha384") if isinstance(info, dict) else None
        if not expected:
            continue
        path = dist / name
        if not path.is_file():
            raise WidgetError(f"{dist}: manifest.json lists {name}, which is missing")
        actual = "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()
        if actual != expected:
            raise WidgetError(f"{dist}: {name} does not match its sha384 in manifest.json; rebuild")


def _content_type(path: Path) -> str:
    if path.suffix in {".js", ".mjs"}:
        return "text/javascript; charset=utf-8"
    if path.suffix in {".json", ".map"}:
        return "application/json"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def publish(s3: Any, bucket: str, build: WidgetBuild, *, alias_max_age: int) -> None:
    for path in build.immutable:
        body = path.read_bytes()
        try:
            head = s3.head_object(Bucket=bucket, Key=path.name)
        except s3.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
                raise
            head = None
        if head is not None:
            # Cached for a year everywhere: the same name must never mean other bytes.
            if head["ETag"].strip('"') != hashlib.md5(body, usedforsecurity=False).hexdigest():
                raise WidgetError(
                    f"{path.name} is already on the CDN with other content; "
                    "bump the widget version instead of rebuilding the same one"
                )
            continue
        s3.put_object(
            Bucket=bucket,
            Key=path.name,
            Body=body,
            ContentType=_content_type(path),
            CacheControl=f"public, max-age={_YEAR}, immutable",
        )
    alias_cache = f"public, max-age={alias_max_age}"
    for path in build.aliases:
        s3.put_object(
            Bucket=bucket,
            Key=f"{ALIAS_PREFIX}/{build.version}/{path.name}",
            Body=path.read_bytes(),
            ContentType=_content_type(path),
            CacheControl=alias_cache,
        )
    for path in build.aliases:  # the flip: manifest, then loader
        s3.put_object(
            Bucket=bucket,
            Key=path.name,
            Body=path.read_bytes(),
            ContentType=_content_type(path),
            CacheControl=alias_cache,
        )


def restore(s3: Any, bucket: str, version: str) -> tuple[str, ...]:
    """Point the aliases back at `version`'s (kept at publish time); returns the alias paths."""
    prefix = f"{ALIAS_PREFIX}/{version}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    if not keys:
        raise WidgetError(f"no saved aliases for widget {version} under s3://{bucket}/{prefix}")
    order = {name: index for index, name in enumerate(LAST)}
    names = sorted((key.removeprefix(prefix) for key in keys), key=lambda n: (order.get(n, -1), n))
    for name in names:
        s3.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": prefix + name})
    return tuple(f"/{name}" for name in names)


def invalidate(tgt: Target, paths: tuple[str, ...], waits: Waits, progress: Progress) -> str:
    """Invalidate `paths` on the widget distribution and wait until CloudFront is done."""
    distribution = tgt.outputs.widget_distribution_id
    created = tgt.aws.cloudfront.create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": list(paths)},
            "CallerReference": f"ragassist-{tgt.env}-{uuid.uuid4().hex}",
        },
    )
    invalidation_id = str(created["Invalidation"]["Id"])
    progress(f"invalidation {invalidation_id} of {', '.join(paths)}")
    waits.invalidation_completed(tgt.aws.cloudfront, distribution, invalidation_id, progress)
    return invalidation_id


def alias_max_age(env: str) -> int:
    return int(stack_config(env, "widget.loaderTtlSeconds", 60))


def _paths(values: list[str]) -> tuple[str, ...]:
    paths = tuple(p.strip() for value in values for p in value.split(",") if p.strip())
    bad = [p for p in paths if not p.startswith("/")]
    if bad:
        raise Exit(f"paths must start with /: {', '.join(bad)}")
    return paths or ALIAS_PATHS


@task(
    name="invalidate",
    iterable=["paths"],
    help={
        "env": ENV_HELP,
        "paths": f"path(s) to invalidate, repeatable or comma-separated (default {ALIAS_HELP})",
        "outputs_file": OUTPUTS_HELP,
    },
)
def invalidate_(
    c: Context, env: str, paths: list[str] | None = None, outputs_file: str = ""
) -> None:
    """Invalidate the widget's alias paths (loader, manifest) on the CDN and wait for it."""
    console = make_console()
    wanted = _paths(paths or [])
    tgt = target(env, outputs_file)
    try:
        with aws_errors(env), console.status(f"invalidating {', '.join(wanted)}…") as status:
            found = invalidate(tgt, wanted, waiting.DEFAULT, status.update)
    except WaitFailed as exc:
        raise Exit(f"{env}: {exc}") from None
    console.print(f"{env}: invalidated {', '.join(wanted)} (invalidation {found}, completed)")


ns = Collection("cdn", invalidate_)
