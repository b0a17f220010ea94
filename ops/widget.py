"""The widget: `invoke widget.build`, the merchant snippet, and the demo shop of `invoke up`.

`widget.build` installs the npm tools if needed (npm ci from the committed lock file),
type-checks the TypeScript, runs esbuild (widget/build.mjs) into widget/dist/ and checks the
result: every file the manifest names exists with its sha384, and the bundle and loader stay
within the 12 KB gzipped budget (DESIGN §11).

The demo shop is a tiny shop site on its own origin that embeds the widget with the exact
snippet from widget/README.md, so a newcomer sees it work cross-origin.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from invoke import Context, Exit, task

ROOT = Path(__file__).resolve().parent.parent
WIDGET_DIR = ROOT / "widget"
DIST = WIDGET_DIR / "dist"
README = WIDGET_DIR / "README.md"
DEMO_DIR = WIDGET_DIR / "demo"
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


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise WidgetBuildError("npm is not installed: the widget build needs Node.js 18+ and npm")
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [npm, *args], cwd=WIDGET_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise WidgetBuildError(f"npm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


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
    tool = WIDGET_DIR / "node_modules" / ".bin" / name
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [str(tool), *args], cwd=WIDGET_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise WidgetBuildError(f"{name} {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def build_widget(*, typecheck: bool = True) -> dict[str, Any]:
    """Build widget/dist/ from a clean checkout; returns the checked manifest."""
    install_tools()
    if typecheck:
        _node_tool("tsc", "--noEmit", "-p", "tsconfig.json")
    node = shutil.which("node")
    if node is None:
        raise WidgetBuildError("node is not installed: the widget build needs Node.js 18+")
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [node, "build.mjs"], cwd=WIDGET_DIR, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise WidgetBuildError(f"esbuild failed:\n{result.stdout}{result.stderr}")
    return check_build(DIST)


def sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def check_build(dist: Path) -> dict[str, Any]:
    manifest_path = dist / "manifest.json"
    if not manifest_path.is_file():
        raise WidgetBuildError(f"{manifest_path} is missing: run `invoke widget.build`")
    manifest = json.loads(manifest_path.read_text())
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


# --- the demo catalog -----------------------------------------------------------------------


def demo_catalog() -> list[dict[str, Any]]:
    """The demo shop's products (also the labelled catalog of the retrieval benchmark)."""
    return json.loads((DEMO_DIR / "catalog.json").read_text())["products"]


def labelled_questions() -> list[dict[str, Any]]:
    """Shopper questions with the catalog ids that answer each (`relevant`)."""
    return json.loads((DEMO_DIR / "questions.json").read_text())["questions"]


def product_rows(
    merchant_id: str, products: list[dict[str, Any]], shop_url: str
) -> list[dict[str, Any]]:
    """Rows for the products table; relative URLs in the catalog point into `shop_url`."""
    from app.ids import new_id

    rows = []
    for item in products:
        content = json.dumps(item, sort_keys=True).encode()
        rows.append(
            {
                "id": new_id("prd"),
                "merchant_id": merchant_id,
                "external_id": item["id"],
                "title": item["title"],
                "description": item.get("description"),
                "brand": item.get("brand"),
                "category": item.get("category"),
                "price": Decimal(item["price"]),
                "currency": item.get("currency", "USD"),
                "availability": item.get("availability", "in_stock"),
                "url": _absolute(item.get("url"), shop_url),
                "image_url": _absolute(item.get("imageUrl"), shop_url),
                "data": {"tags": item.get("tags", [])},
                "content_hash": hashlib.md5(content, usedforsecurity=False).hexdigest(),
            }
        )
    return rows


def _absolute(url: str | None, base: str) -> str | None:
    if not url:
        return None
    return url if "://" in url else base.rstrip("/") + url


async def seed_catalog(
    sessions: Any, merchant_id: str, products: list[dict[str, Any]], shop_url: str
) -> int:
    """Insert the products for a merchant whose catalog is empty; returns how many.

    The demo and the tests write rows directly; the catalog importer (app/services/catalog)
    is how real catalogs arrive. The search index follows in the same transaction (FTS5
    triggers, or PostgreSQL's generated tsvector column)."""
    from sqlalchemy import func, insert, select

    from app.db.models import Product, utcnow

    async with sessions() as session:
        existing = await session.scalar(
            select(func.count()).select_from(Product).where(Product.merchant_id == merchant_id)
        )
        if existing:
            return 0
        now = utcnow()
        rows = [
            {**row, "created_at": now, "updated_at": now}
            for row in product_rows(merchant_id, products, shop_url)
        ]
        await session.execute(insert(Product), rows)
        await session.commit()
    return len(rows)


# --- the demo shop --------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<style>
body{{font-family:Georgia,serif;margin:0;background:#fbfaf7;color:#222}}
header{{background:#2d3b2f;color:#fff;padding:14px 24px}} header a{{color:#fff}}
main{{max-width:960px;margin:0 auto;padding:24px}}
ul.grid{{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:16px}}
ul.grid li{{background:#fff;border:1px solid #ddd;padding:12px}} img{{max-width:100%}}
</style>
</head>
<body>
<header><a href="/">{shop}</a> — a demo shop on its own origin, with the RAG Assistant
widget</header>
<main>
{body}
</main>
{snippet}
</body>
</html>
"""


def _svg(title: str, seed: str) -> bytes:
    """A placeholder product image: the title's initials on a colour of its own."""
    hue = int(hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()[:2], 16) * 360 // 256
    text = html.escape("".join(word[0] for word in title.split()[:2]).upper())
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="120" viewBox="0 0 160 120">'
        f'<rect width="160" height="120" fill="hsl({hue},45%,70%)"/>'
        f'<text x="80" y="72" font-size="40" text-anchor="middle" fill="#fff" '
        f'font-family="sans-serif">{text}</text></svg>'
    ).encode()


@dataclass
class DemoShop:
    """A shop site: a product list, product pages and images, each page with the snippet.

    `files` maps URL prefixes to directories served as they are (tests serve a tampered
    widget build this way)."""

    snippet: str
    products: list[dict[str, Any]]
    name: str = "Demo Outdoor Shop"
    files: Mapping[str, Path] | None = None

    def page(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/", "/index.html"):
            items = "\n".join(
                f'<li><a href="{html.escape(p["url"])}">{html.escape(p["title"])}</a>'
                f"<br>${html.escape(p['price'])}</li>"
                for p in self.products[:24]
            )
            body = (
                "<h1>Welcome</h1><p>Ask the assistant (bottom right) about anything we sell.</p>"
                f'<ul class="grid">{items}</ul>'
            )
            return 200, "text/html; charset=utf-8", self._html(self.name, body)
        if path.startswith("/products/"):
            for product in self.products:
                if product["url"] == path:
                    body = (
                        f"<h1>{html.escape(product['title'])}</h1>"
                        f'<img src="{html.escape(product["imageUrl"])}" alt="">'
                        f"<p>${html.escape(product['price'])} · "
                        f"{html.escape(product['availability'].replace('_', ' '))}</p>"
                        f"<p>{html.escape(product.get('description') or '')}</p>"
                    )
                    return 200, "text/html; charset=utf-8", self._html(product["title"], body)
        if path.startswith("/img/") and path.endswith(".svg"):
            seed = path.removeprefix("/img/").removesuffix(".svg")
            titles = {p["id"]: p["title"] for p in self.products}
            return 200, "image/svg+xml", _svg(titles.get(seed, seed), seed)
        return 404, "text/plain; charset=utf-8", b"not found"

    def _html(self, title: str, body: str) -> bytes:
        page = _PAGE.format(
            title=html.escape(title), shop=html.escape(self.name), body=body, snippet=self.snippet
        )
        return page.encode()

    def file(self, path: str) -> tuple[int, str, bytes] | None:
        for prefix, directory in (self.files or {}).items():
            if path.startswith(prefix):
                target = (directory / path.removeprefix(prefix)).resolve()
                if directory.resolve() not in target.parents or not target.is_file():
                    return 404, "text/plain", b"not found"
                kind = "text/javascript" if target.suffix == ".js" else "application/json"
                return 200, kind, target.read_bytes()
        return None


@contextmanager
def serve_demo_shop(shop: DemoShop, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `shop` in a background thread; yields its base URL (http://localhost:PORT)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            status, kind, body = shop.file(path) or shop.page(path)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if shop.files and any(path.startswith(prefix) for prefix in shop.files):
                self.send_header("Access-Control-Allow-Origin", "*")  # like the CDN
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: `invoke up` prints its own summary

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-shop", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def demo_shop(
    settings: Any, merchant_id: str, publishable_key: str, *, host: str, port: int
) -> Iterator[str | None]:
    """`invoke up`'s demo shop on http://localhost:PORT, embedding the README snippet; yields
    its URL, or None (with the reason printed) when the widget cannot be built here."""
    import asyncio

    from rich.console import Console

    if not port:
        yield None
        return
    try:
        ensure_built()
    except WidgetBuildError as exc:
        Console(stderr=True).print(
            f"[yellow]No demo shop: the widget does not build[/yellow]\n{exc}"
        )
        yield None
        return
    shop_url = f"http://localhost:{port}"

    async def seed() -> None:
        from app.db.engine import create_engine, session_factory

        engine = create_engine(settings.database_url, pool_size=1)
        try:
            await seed_catalog(session_factory(engine), merchant_id, demo_catalog(), shop_url)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    snippet = render_snippet(
        loader_url=settings.widget_loader_url,
        api_base_url=settings.public_base_url,
        publishable_key=publishable_key,
    )
    with serve_demo_shop(DemoShop(snippet=snippet, products=demo_catalog()), host=host, port=port):
        yield shop_url

