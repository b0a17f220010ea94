"""The widget: `invoke widget.build` and the merchant snippet (the demo shop is `ops.demo_shop`).

`widget.build` installs the npm tools if needed (npm ci from the committed lock file),
type-checks the TypeScript, runs esbuild (widget/build.mjs) into widget/dist/ and checks the
result: every file the manifest names exists with its sha384, and the bundle and loader stay
within the 12 KB gzipped budget (DESIGN §11).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from invoke import Context, Exit, task

ROOT = Path(__file__).resolve().parent.parent
WIDGET_DIR = ROOT / "widget"
DIST = WIDGET_DIR / "dist"
README = WIDGET_DIR / "README.md"
BUDGET_GZIP_BYTES = 12 * 1024

# The snippet in widget/README.md, as merchants copy it, names production URLs and a
# placeholder key; these are what a local setup or a test substitutes.
SNIPPET_LOADER_URL = "https://cdn.ragassist.example.com/loader.js"
SNIPPET_API_URL = "https://api.ragassist.example.com"
SNIPPET_KEY = "pk_live_YOUR_PUBLISHABLE_KEY"
_SNIPPET = re.compile(r"<!-- snippet:start -->\s*```html\n(.*?)```\s*<!-- snippet:end -->", re.S)


class WidgetBuildError(Exception):
    """The build failed or its output is not what the manifest promises."""


# --- build ----------------------------------------------------------------------------------


def _run(argv: list[str], what: str) -> None:
    """Run a build tool in widget/; its output becomes the error when it fails."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, cwd=WIDGET_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise WidgetBuildError(f"{what} failed:\n{result.stdout}{result.stderr}")


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise WidgetBuildError("npm is not installed: the widget build needs Node.js 18+ and npm")
    _run([npm, *args], f"npm {' '.join(args)}")


def install_tools() -> bool:
    """`npm ci` when node_modules is missing or older than the lock file; True if it ran."""
    lock = WIDGET_DIR / "package-lock.json"
    installed = WIDGET_DIR / "node_modules" / ".package-lock.json"
    if installed.exists() and lock.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return False
    if lock.exists():
        _npm("ci", "--no-audit", "--no-fund")
    else:  # first checkout of a new dependency set: write the lock file
        _npm("install", "--no-audit", "--no-fund")
    return True


def _node_tool(name: str, *args: str) -> None:
    _run([str(WIDGET_DIR / "node_modules" / ".bin" / name), *args], f"{name} {' '.join(args)}")


def build_widget(*, typecheck: bool = True) -> dict[str, Any]:
    """Build widget/dist/ from a clean checkout; returns the checked manifest."""
    install_tools()
    if typecheck:
        _node_tool("tsc", "--noEmit", "-p", "tsconfig.json")
    node = shutil.which("node")
    if node is None:
        raise WidgetBuildError("node is not installed: the widget build needs Node.js 18+")
    _run([node, "build.mjs"], "esbuild")
    return check_build(DIST)


def sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def check_build(dist: Path) -> dict[str, Any]:
    manifest_path = dist / "manifest.json"
    if not manifest_path.is_file():
        raise WidgetBuildError(f"{manifest_path} is missing: run `invoke widget.build`")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    bundle = manifest["bundle"]
    if bundle != f"rag-assistant.{manifest['version']}.js":
        version = manifest["version"]
        raise WidgetBuildError(f"manifest bundle {bundle} does not carry version {version}")
    for name, facts in manifest["files"].items():
        path = dist / name
        if not path.is_file():
            raise WidgetBuildError(f"manifest.json names {name}, which is not in {dist}")
        if sha384(path.read_bytes()) != facts["sha384"]:
            raise WidgetBuildError(f"{name} does not match its sha384 in manifest.json")
    if manifest["integrity"] != manifest["files"][bundle]["sha384"]:
        raise WidgetBuildError("manifest integrity is not the bundle's sha384")
    return manifest


def shipped_gzip_bytes(manifest: Mapping[str, Any]) -> int:
    """What a shop's visitor downloads: the loader and the bundle, gzipped (not the map)."""
    files = manifest["files"]
    return int(files[manifest["bundle"]]["gzipBytes"] + files["loader.js"]["gzipBytes"])


@task(help={"no_typecheck": "skip `tsc --noEmit` (faster; esbuild does not type-check)"})
def build(c: Context, no_typecheck: bool = False) -> None:
    """Build the widget into widget/dist/: loader, versioned bundle + map, manifest.json."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    try:
        with console.status("Building the widget (npm ci if needed, tsc, esbuild)…"):
            manifest = build_widget(typecheck=not no_typecheck)
    except WidgetBuildError as exc:
        raise Exit(str(exc), code=1) from None
    table = Table(title=f"widget/dist/ — version {manifest['version']}")
    for column in ("file", "bytes", "gzipped", "sha384"):
        table.add_column(column)
    for name, facts in manifest["files"].items():
        table.add_row(name, f"{facts['bytes']:,}", f"{facts['gzipBytes']:,}", facts["sha384"])
    console.print(table)
    shipped = shipped_gzip_bytes(manifest)
    verdict = "within" if shipped <= BUDGET_GZIP_BYTES else "OVER"
    console.print(
        f"loader + bundle: {shipped / 1024:.1f} KB gzipped, {verdict} the "
        f"{BUDGET_GZIP_BYTES // 1024} KB budget"
    )
    if shipped > BUDGET_GZIP_BYTES:
        raise Exit("the widget is over its size budget", code=1)


def ensure_built() -> dict[str, Any]:
    """The current build, building it first when widget/dist/ is missing or stale."""
    sources = [
        *(WIDGET_DIR / "src").glob("*.ts"),
        WIDGET_DIR / "build.mjs",
        WIDGET_DIR / "package.json",
    ]
    manifest_path = DIST / "manifest.json"
    if manifest_path.is_file():
        built = manifest_path.stat().st_mtime
        if all(path.stat().st_mtime <= built for path in sources):
            try:
                return check_build(DIST)
            except WidgetBuildError:
                pass
    return build_widget(typecheck=False)


# --- the merchant snippet -------------------------------------------------------------------


def readme_snippet(readme: Path = README) -> str:
    """The embed snippet exactly as widget/README.md shows it to merchants."""
    found = _SNIPPET.search(readme.read_text())
    if found is None:
        raise ValueError(f"{readme} has no <!-- snippet:start --> ... <!-- snippet:end --> block")
    return found[1]


def render_snippet(*, loader_url: str, api_base_url: str, publishable_key: str) -> str:
    """The README snippet with this installation's URLs and key, nothing else changed."""
    snippet = readme_snippet()
    for placeholder in (SNIPPET_LOADER_URL, SNIPPET_API_URL, SNIPPET_KEY):
        if placeholder not in snippet:
            raise ValueError(f"the README snippet no longer contains {placeholder}")
    return (
        snippet.replace(SNIPPET_LOADER_URL, loader_url)
        .replace(SNIPPET_API_URL, api_base_url.rstrip("/"))
        .replace(SNIPPET_KEY, publishable_key)
    )
