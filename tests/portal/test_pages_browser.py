"""Catalog, webhooks, widget, analytics and docs pages in Chromium, signed in as each role:
what each role may do, the main flows end to end (an upload that becomes a run, a simulated
`sync.failed` verified by a real receiver, the widget previewed on another origin), axe-core,
and the weight of each page."""

import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from ops.processes import uvicorn_process
from tests.conftest import Backend
from tests.portal.conftest import PortalPage
from tests.webhooks.conftest import Receiver, Reply
from tests.widget.conftest import Api

pytestmark = pytest.mark.browser

PAGES = [
    "/portal/catalog",
    "/portal/webhooks",
    "/portal/webhooks/simulator",
    "/portal/widget",
    "/portal/analytics",
    "/portal/docs",
    "/portal/docs/WEBHOOK_INTEGRATION",
]
WRITE_CONTROLS = {
    "/portal/catalog": ["Upload", "Save configuration"],
    "/portal/webhooks": ["Add endpoint"],
    "/portal/webhooks/simulator": ["Send"],
}
MAX_GZIPPED = 100 * 1024
CSV = "sku,title,price,currency,availability\nB-1,Bivvy bag,89.00,EUR,in stock\n"


@pytest.fixture(scope="module")
def api(backend: Backend, widget_build: dict[str, Any]) -> Iterator[Api]:
    """The app in uvicorn, allowed to send webhooks to a receiver on loopback."""
    env = {
        **os.environ,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "RATE_LIMIT_PUBLISHABLE": "100000/60",
        "RATE_LIMIT_SECRET": "100000/60",
        "LOG_LEVEL": "WARNING",
        "FLAGS_SOURCE": "env",
        "ALLOW_PRIVATE_NETWORK_TARGETS": "true",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
    }
    with uvicorn_process("app.main:app", env, ready_path="/healthz") as url:
        yield Api(url=url, database_url=backend.database_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.up()
    yield receiver
    receiver.down()


def button(page: Any, name: str) -> Any:
    return page.get_by_role("button", name=name, exact=True)


def page_weight(page: Any, url: str) -> int:
    """Gzipped bytes of the page's HTML and every stylesheet and script it loads from us."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=url, cookies=cookies) as client:
        document = client.get(page.url)
        total = len(gzip.compress(document.content))
        assets = re.findall(r'(?:href|src)="(/portal/static/[^"]+)"', document.text)
        for asset in set(assets):
            total += len(gzip.compress(client.get(asset).content))
    return total


@pytest.mark.parametrize("role", ["owner", "developer", "viewer"])
def test_every_page_works_for_every_role_and_a_viewer_sees_no_write_control(
    role: str, portal_page: PortalPage, api: Api, axe_check: Any
) -> None:
    page, watch = portal_page(role)
    for path in PAGES:
        response = page.goto(api.url + path)
        assert response.status == 200, (path, response.status)
        assert page.locator("main h1").count() == 1
        for label in WRITE_CONTROLS.get(path, []):
            assert button(page, label).count() == (0 if role == "viewer" else 1), (path, label)
        if role == "owner":
            assert axe_check(page) == [], path
            assert page_weight(page, api.url) < MAX_GZIPPED, path
    assert watch.console_errors == [] and watch.page_errors == []


def test_an_uploaded_catalog_shows_its_progress_and_its_run(
    portal_page: PortalPage, api: Api, tmp_path: Path
) -> None:
    page, watch = portal_page("developer")
    catalog = tmp_path / "outdoor.csv"
    catalog.write_text(CSV)
    page.goto(api.url + "/portal/catalog")
    page.get_by_label("File (CSV").set_input_files(str(catalog))
    button(page, "Upload").click()
    page.wait_for_url(re.compile(r"/portal/catalog/runs/run_\w+$"))
    for _ in range(50):
        if page.locator("#run-status").inner_text() not in ("queued", "running"):
            break
        page.wait_for_timeout(100)
        page.reload()
    assert page.locator("#run-status").inner_text() == "succeeded"
    assert "1 created" in page.locator("#run-counts").inner_text()
    page.get_by_role("link", name="← Catalog").click()
    page.get_by_label("Search", exact=True).fill("bivvy")
    button(page, "Search").click()
    assert page.get_by_role("cell", name="Bivvy bag").count() == 1
    assert watch.page_errors == []


def test_a_simulated_sync_failed_reaches_a_receiver_that_verifies_it(
    portal_page: PortalPage, api: Api, receiver: Receiver
) -> None:
    receiver.respond = lambda received: Reply(200, {"x-receiver": "ok"}, b"thanks")
    page, watch = portal_page("developer")
    page.goto(api.url + "/portal/webhooks")
    page.get_by_label("URL (https").fill(receiver.url)
    page.get_by_label("sync.failed").check()
    button(page, "Add endpoint").click()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("link", name="Simulate").click()
    page.get_by_label("Event type", exact=True).select_option("sync.failed")
    button(page, "Show sample").click()
    payload = page.get_by_label("Payload of")
    assert '"type": "sync.failed"' in payload.input_value()
    payload.fill(payload.input_value().replace("41% of rows", "All rows"))
    button(page, "Send").click()
    (received,) = receiver.wait_for(1)
    event = Webhook(secret).verify(received.body, received.headers)
    assert event["type"] == "sync.failed" and event["data"]["error"].startswith("All rows")
    sent = page.locator("#sent-request").inner_text()
    assert f"webhook-signature: {received.headers['webhook-signature']}" in sent
    assert received.body.decode() in sent
    assert "HTTP 200" in page.locator("#received-response").inner_text()
    assert watch.page_errors == []


def test_the_widget_preview_runs_on_another_origin_with_the_chosen_look(
    portal_page: PortalPage, api: Api, browser_account: Any
) -> None:
    page, watch = portal_page("viewer")
    page.goto(api.url + "/portal/widget")
    page.get_by_label("Publishable key").fill(browser_account.keys.publishable)
    page.get_by_label("Greeting").fill("Welcome to the preview shop!")
    page.get_by_label("bottom left").check()
    button(page, "Update snippet and preview").click()
    snippet = page.get_by_label("Your snippet").input_value()
    assert browser_account.keys.publishable in snippet and 'position: "bottom-left"' in snippet
    frame_element = page.locator("iframe.preview-frame")
    src = frame_element.get_attribute("src")
    assert src.startswith("http://localhost:") and not api.url.startswith("http://localhost:")
    frame = page.frame_locator("iframe.preview-frame")
    greeting = frame.locator("rag-assistant .msg.assistant").first
    greeting.wait_for(timeout=15_000)
    assert "Welcome to the preview shop!" in greeting.inner_text()
    assert watch.page_errors == []


def test_the_pages_fit_a_phone_screen(portal_page: PortalPage, api: Api) -> None:
    page, watch = portal_page("owner", width=390)
    for path in PAGES:
        page.goto(api.url + path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, (path, overflow)
    assert watch.page_errors == []
