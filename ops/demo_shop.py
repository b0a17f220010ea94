"""The demo shop of `invoke up`, and the demo catalog it sells (also the benchmarks' catalog).

A tiny shop site on its own origin that embeds the widget with the exact snippet from
widget/README.md, so a newcomer sees it work cross-origin. Its catalog is seeded through the
importer's own record rules and content hash, so a later import of the same catalog finds every
row unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ops.widget import WIDGET_DIR, WidgetBuildError, ensure_built, render_snippet

DEMO_DIR = WIDGET_DIR / "demo"


def demo_catalog() -> list[dict[str, Any]]:
    """The demo shop's products (also the labelled catalog of the retrieval benchmark)."""
    products: list[dict[str, Any]] = json.loads((DEMO_DIR / "catalog.json").read_text())["products"]
    return products


def labelled_questions() -> list[dict[str, Any]]:
    """Shopper questions with the catalog ids that answer each (`relevant`)."""
    questions: list[dict[str, Any]] = json.loads((DEMO_DIR / "questions.json").read_text())[
        "questions"
    ]
    return questions


def demo_feed(products: list[dict[str, Any]], shop_url: str) -> list[dict[str, Any]]:
    """The catalog as a merchant would upload it: absolute URLs under `shop_url`, and the
    importer's name for the image column."""
    feed = []
    for product in products:
        item = {key: value for key, value in product.items() if key != "imageUrl"}
        item["url"] = _absolute(product.get("url"), shop_url)
        item["image_url"] = _absolute(product.get("imageUrl"), shop_url)
        feed.append({key: value for key, value in item.items() if value is not None})
    return feed


def product_rows(
    merchant_id: str, products: list[dict[str, Any]], shop_url: str
) -> list[dict[str, Any]]:
    """Rows for the products table, built by the importer's rules with its content hash."""
    from app.ids import new_id
    from app.services.catalog.formats.json_lines import object_to_raw
    from app.services.catalog.records import Rules, build_record
    from app.services.catalog.staging import PRODUCT_COLUMNS, content_hash

    rules = Rules()
    fields = [name for name in PRODUCT_COLUMNS if name not in ("id", "content_hash")]
    rows = []
    for row, item in enumerate(demo_feed(products, shop_url), start=1):
        record, errors = build_record(object_to_raw(item, row, {}), rules)
        if record is None or errors:
            raise ValueError(f"demo product {item.get('id')!r} is not importable: {errors}")
        rows.append(
            {
                "id": new_id("prd"),
                "merchant_id": merchant_id,
                **{name: getattr(record, name) for name in fields},
                "content_hash": content_hash(record),
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

    The demo and the tests write rows directly, skipping the run bookkeeping of a real import
    but not its record rules: an import of `demo_feed()` afterwards changes nothing. The search
    index follows in the same transaction (FTS5 triggers, or PostgreSQL's generated tsvector
    column)."""
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
