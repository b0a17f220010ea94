"""The widget in Chromium, embedded with the snippet copied from widget/README.md on a merchant
page of one origin, talking to the API on another (issue 4, tests; DESIGN §11)."""

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops import demo_shop, widget
from ops.processes import free_port, uvicorn_process
from tests.widget.conftest import Api, PageWatch, ShopFactory

pytestmark = pytest.mark.browser

LAUNCHER = "rag-assistant .launcher"
NOTICE = "rag-assistant .notice"


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _merchant_and_port(api: Api, domains: list[str]) -> tuple[Any, int]:
    port = free_port()
    return api.merchant(domains=domains, shop_url=f"http://localhost:{port}"), port


def test_readme_snippet_loads_the_widget_and_chats_across_origins(
    api: Api, shop: ShopFactory, page: tuple[Any, PageWatch]
) -> None:
    browser_page, watch = page
    keys, port = _merchant_and_port(api, ["localhost"])
    loads_before = api.metric("widget_loads_total", status="ok")
    timings_before = api.metric("widget_load_seconds_count")
    with shop(keys, port=port) as shop_url:
        assert shop_url != api.url  # two origins
        browser_page.goto(shop_url + "/")
        browser_page.wait_for_function(
            "() => performance.getEntriesByName('rag-assistant:ready').length > 0"
        )

        # The versioned bundle came with its hash and in CORS mode.
        bundle = browser_page.locator("script[integrity]")
        assert bundle.get_attribute("crossorigin") == "anonymous"
        assert (
            bundle.get_attribute("src")
            == f"{api.url}/widget/{widget.check_build(widget.DIST)['bundle']}"
        )

        launcher = browser_page.locator(LAUNCHER)
        assert launcher.get_attribute("aria-expanded") == "false"
        launcher.click()
        assert launcher.get_attribute("aria-expanded") == "true"
        textbox = browser_page.get_by_role("textbox", name="Your question")
        assert textbox.evaluate("el => el.getRootNode().activeElement === el")  # focus moved in
        greeting = browser_page.locator("rag-assistant .msg.assistant").first
        greeting.wait_for()
        assert "Ask me anything" in greeting.inner_text()

        textbox.fill("waterproof hiking boots under $150")
        textbox.press("Enter")
        cards = browser_page.locator("rag-assistant .card")
        cards.first.wait_for(timeout=10_000)
        reply = browser_page.locator("rag-assistant .msg.assistant").last
        assert "waterproof" in reply.inner_text().lower()
        assert "under $150" in reply.inner_text()
        # The cards carry the products (image, price, link); the reply does not list them.
        first_card = cards.first
        assert first_card.locator("a").get_attribute("href").startswith(shop_url + "/products/")
        assert first_card.locator("img").get_attribute("src").startswith(shop_url + "/img/")
        assert "$" in first_card.locator(".price").inner_text()
        assert reply.locator("a").count() == 0
        first_card.locator("img").evaluate("img => img.decode()")  # the image really loads
        log = browser_page.locator("rag-assistant [role=log]")
        assert log.get_attribute("aria-live") == "polite"
        assert log.get_attribute("aria-busy") == "false"

        # Escape closes and gives focus back to the launcher.
        textbox.press("Escape")
        assert launcher.get_attribute("aria-expanded") == "false"
        assert launcher.evaluate("el => el.getRootNode().activeElement === el")

        # The conversation is stored: the session's history has the question and the reply.
        session_id = browser_page.evaluate(
            "() => Object.entries(sessionStorage).find(([k]) => k.startsWith('rag-assistant:'))[1]"
        )
        history = httpx.get(
            f"{api.url}/api/chat/sessions/{session_id}/messages",
            headers={"Authorization": f"Bearer {keys.publishable}"},
        ).json()["data"]["items"]
        assert [m["role"] for m in history] == ["user", "assistant"]
        assert history[1]["products"]

        # Load time is reported (a keepalive beacon) to the metrics and the analytics.
        assert _eventually(lambda: api.metric("widget_loads_total", status="ok") > loads_before)
        assert api.metric("widget_load_seconds_count") > timings_before
        summary = httpx.get(
            f"{api.url}/api/analytics/summary", headers={"Authorization": f"Bearer {keys.secret}"}
        ).json()["data"]
        assert summary["widget"]["loads"] == 1
        assert 0 < summary["widget"]["loadTimeMs"]["p50"] < 5000
        assert summary["chat"] == {"sessions": 1, "messages": 1, "fallbackReplies": 0}
    assert watch.clean, watch
    assert not watch.warnings, watch.warnings


def test_a_foreign_origin_gets_a_clear_message_and_is_counted(
    api: Api, shop: ShopFactory, page: tuple[Any, PageWatch]
) -> None:
    browser_page, watch = page
    keys, port = _merchant_and_port(api, ["localhost"])
    rejections_before = api.metric("cors_rejections_total", audience="widget")
    with shop(keys, port=port) as shop_url:
        foreign = shop_url.replace("localhost", "127.0.0.1")  # same page, a host not allowed
        browser_page.goto(foreign + "/")
        browser_page.locator(LAUNCHER).click()
        notice = browser_page.locator(NOTICE)
        notice.wait_for()
        text = notice.inner_text()
        assert "isn't enabled on 127.0.0.1" in text
        assert "allowed domains" in text
        assert notice.get_attribute("role") == "alert"
    assert api.metric("cors_rejections_total", audience="widget") > rejections_before
    # The refusal was readable (no opaque CORS failure): a 403 response, not a failed request.
    assert any(line.startswith("403 ") for line in watch.bad_responses), watch
    assert not watch.failed_requests, watch
    assert not watch.page_errors, watch


HOSTILE_CSS = """<style>
* { font-family: "Comic Sans MS", cursive !important; color: rgb(255, 0, 0) !important;
    letter-spacing: 5px !important; text-transform: uppercase !important; }
div, p, section, button, textarea { font-size: 40px !important;
    background: rgb(0, 255, 0) !important; border: 9px dotted purple !important; }
:root { --ra-primary: rgb(255, 0, 255); --ra-font: fantasy; }
rag-assistant { display: none; }
</style>
<div class="launcher" id="page-launcher">page content</div>
<p class="msg user" id="page-msg">also page content</p>
"""


def test_page_css_does_not_leak_into_the_widget_nor_out(
    api: Api, shop: ShopFactory, page: tuple[Any, PageWatch]
) -> None:
    browser_page, watch = page
    keys, port = _merchant_and_port(api, ["localhost"])
    with shop(keys, port=port, head=HOSTILE_CSS) as shop_url:
        browser_page.goto(shop_url + "/")
        launcher = browser_page.locator(LAUNCHER)
        launcher.click()
        browser_page.locator("rag-assistant .msg.assistant").first.wait_for()
        inside = browser_page.evaluate(
            """() => {
              const root = document.querySelector('rag-assistant').shadowRoot;
              const style = (selector) => getComputedStyle(root.querySelector(selector));
              const msg = style('.msg.assistant'), send = style('.send'), box = style('textarea');
              return {
                msgFont: msg.fontFamily, msgSize: msg.fontSize, msgColor: msg.color,
                msgSpacing: msg.letterSpacing, msgTransform: msg.textTransform,
                sendBackground: send.backgroundColor, boxBorder: box.borderTopStyle,
                hostDisplay: getComputedStyle(document.querySelector('rag-assistant')).display,
              };
            }"""
        )
        assert "Comic Sans" not in inside["msgFont"] and "fantasy" not in inside["msgFont"]
        assert inside["msgSize"] == "15px"
        assert inside["msgColor"] == "rgb(28, 32, 36)"
        assert inside["msgSpacing"] == "normal"
        assert inside["msgTransform"] == "none"
        assert inside["sendBackground"] == "rgb(31, 111, 235)"  # the widget's primary color
        assert inside["boxBorder"] == "solid"
        assert inside["hostDisplay"] == "block"
        outside = browser_page.evaluate(
            """() => ({
              launcher: getComputedStyle(document.getElementById('page-launcher')).position,
              msg: getComputedStyle(document.getElementById('page-msg')).whiteSpace,
            })"""
        )
        # The widget's own `.launcher` (fixed) and `.msg` (pre-wrap) rules stay inside it.
        assert outside == {"launcher": "static", "msg": "normal"}
    assert watch.clean, watch


def test_a_tampered_bundle_is_refused_and_reported(
    api: Api, shop: ShopFactory, page: tuple[Any, PageWatch], tmp_path: Path
) -> None:
    browser_page, watch = page
    keys, port = _merchant_and_port(api, ["localhost"])
    # A copy of the build served from the shop's origin, with one byte of the bundle changed
    # but the manifest (and so the integrity hash) left as released.
    cdn = tmp_path / "cdn"
    shutil.copytree(widget.DIST, cdn)
    bundle = cdn / widget.check_build(widget.DIST)["bundle"]
    bundle.write_bytes(bundle.read_bytes().replace(b"Shopping assistant", b"Shopping assistanT", 1))
    failures_before = api.metric("widget_loads_total", status="failed")
    loader = f"http://localhost:{port}/cdn/loader.js"
    with shop(keys, port=port, loader_url=loader, files={"/cdn/": cdn}):
        browser_page.goto(f"http://localhost:{port}/")
        assert _eventually(
            lambda: api.metric("widget_loads_total", status="failed") > failures_before
        ), "no widget_load_failed beacon arrived"
        # The browser refused to run it: no widget, and it said why.
        assert browser_page.locator("rag-assistant").count() == 0
        assert any("integrity" in line for line in watch.console_errors), watch.console_errors
        assert any("integrity_mismatch" in line for line in watch.warnings), watch.warnings
    summary = httpx.get(
        f"{api.url}/api/analytics/summary", headers={"Authorization": f"Bearer {keys.secret}"}
    ).json()["data"]
    assert summary["widget"]["failures"] == 1
    assert summary["widget"]["loads"] == 0


def test_rate_limited_shopper_is_told_how_long_to_wait(
    api: Api, backend: Any, page: tuple[Any, PageWatch]
) -> None:
    # A second API on the same database whose publishable budget runs out within a few calls;
    # the next wait (15 min) is longer than the widget waits by itself, so it must say so.
    browser_page, _ = page
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "RATE_LIMIT_PUBLISHABLE": "4/3600",
        "LOG_LEVEL": "WARNING",
    }
    with uvicorn_process("app.main:app", env, ready_path="/healthz") as limited_url:
        limited = Api(url=limited_url, database_url=api.database_url)
        keys, port = _merchant_and_port(limited, ["localhost"])
        snippet = widget.render_snippet(
            loader_url=f"{limited.url}/widget/loader.js",
            api_base_url=limited.url,
            publishable_key=keys.publishable,
        )
        shop = demo_shop.DemoShop(snippet=snippet, products=demo_shop.demo_catalog(), files=None)
        with demo_shop.serve_demo_shop(shop, port=port) as shop_url:
            browser_page.goto(shop_url + "/")
            browser_page.locator(LAUNCHER).click()
            textbox = browser_page.get_by_role("textbox", name="Your question")
            notice = browser_page.locator(NOTICE)
            for _ in range(6):  # the loader, the session and beacons share the budget
                if notice.count() and notice.is_visible():
                    break
                textbox.fill("hiking boots")
                textbox.press("Enter")
                time.sleep(0.5)
            notice.wait_for(timeout=5_000)
            text = notice.inner_text()
    assert "sending messages quickly" in text
    assert "wait" in text and " s" in text
    wait = int("".join(ch for ch in text.split("wait")[1] if ch.isdigit()))
    assert 600 <= wait <= 900  # Retry-After of a 4-per-hour budget, not a made-up number
