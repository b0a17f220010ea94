"""Browser fixtures: the API in its own uvicorn process, shop pages on other origins, and
Debian's Chromium driven by Playwright.

Origins: the API is http://127.0.0.1:<port>; a merchant page is http://localhost:<port> (the
merchant's allowed domain is `localhost`), and a "foreign" page is http://127.0.0.1:<port>.
"""

import asyncio
import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.db.engine import create_engine, session_factory
from app.services.merchants import create_merchant
from app.settings import normalize_database_url
from ops import demo_shop, widget
from ops.bench.chat import CHROMIUM, CHROMIUM_ARGS
from ops.processes import uvicorn_process
from tests.conftest import Backend, MerchantKeys


def in_thread(work: Callable[[], Any]) -> Any:
    """Run blocking asyncio work off the test thread (Playwright's sync API owns its loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@dataclass
class Api:
    url: str
    database_url: str

    def merchant(self, *, domains: list[str], shop_url: str | None = None) -> MerchantKeys:
        """A merchant created through the service layer; with `shop_url`, the demo catalog
        too, its product pages and images served by that shop."""

        async def create() -> MerchantKeys:
            engine = create_engine(normalize_database_url(self.database_url), pool_size=1)
            try:
                sessions = session_factory(engine)
                async with sessions() as session:
                    made = await create_merchant(
                        session, name=f"Shop {uuid.uuid4().hex[:6]}", domains=domains
                    )
                if shop_url:
                    await demo_shop.seed_catalog(
                        sessions, made.merchant.id, demo_shop.demo_catalog(), shop_url
                    )
                return MerchantKeys(
                    made.merchant.id, made.secret_key.plaintext, made.publishable_key.plaintext
                )
            finally:
                await engine.dispose()

        return in_thread(lambda: asyncio.run(create()))

    def metric(self, name: str, **labels: str) -> float:
        """A counter's value as the API process exports it (0 when not yet exported)."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
        pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "")
        found = re.search(rf"^{pattern} ([0-9.e+]+)$", text, re.M)
        return float(found[1]) if found else 0.0


@pytest.fixture(scope="session")
def widget_build() -> dict[str, Any]:
    """widget/dist/, built first when missing or older than the sources."""
    try:
        return widget.ensure_built()
    except widget.WidgetBuildError as exc:
        pytest.fail(f"the widget does not build: {exc}")


@pytest.fixture(scope="session")
def api(backend: Backend, widget_build: dict[str, Any]) -> Iterator[Api]:
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "RATE_LIMIT_PUBLISHABLE": "100000/60",
        "RATE_LIMIT_SECRET": "100000/60",
        "LOG_LEVEL": "WARNING",
        "FLAGS_SOURCE": "env",
        "ANSWER_PROVIDER": "extractive",
    }
    with uvicorn_process("app.main:app", env, ready_path="/healthz") as url:
        yield Api(url=url, database_url=backend.database_url)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Per test: while Playwright's sync API runs, the test thread counts as running an event
    loop, and the session fixtures that create the PostgreSQL database call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageWatch:
    """Everything that went wrong on a page, as the browser saw it."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def console(message: Any) -> None:
            if message.type == "error":
                self.console_errors.append(message.text)
            elif message.type == "warning":
                self.warnings.append(message.text)

        page.on("console", console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on(
            "requestfailed",
            lambda request: self.failed_requests.append(f"{request.url}: {request.failure}"),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and self.bad_responses.append(f"{response.status} {response.url}")
            ),
        )

    @property
    def clean(self) -> bool:
        return not (
            self.console_errors or self.page_errors or self.failed_requests or self.bad_responses
        )


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, PageWatch]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watch = PageWatch()
    watch.attach(page)
    yield page, watch
    context.close()


ShopFactory = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def shop(api: Api) -> ShopFactory:
    """A shop site embedding the README snippet: `with shop(keys) as url:`."""

    def start(
        keys: MerchantKeys,
        *,
        head: str = "",
        loader_url: str | None = None,
        files: dict[str, Path] | None = None,
        port: int = 0,
    ) -> AbstractContextManager[str]:
        snippet = widget.render_snippet(
            loader_url=loader_url or f"{api.url}/widget/loader.js",
            api_base_url=api.url,
            publishable_key=keys.publishable,
        )
        return demo_shop.serve_demo_shop(
            demo_shop.DemoShop(
                snippet=head + snippet, products=demo_shop.demo_catalog(), files=files
            ),
            port=port,
        )

    return start
