"""The portal's sign-in, overview, keys, domains and team pages in Chromium, as each role:
main flows, keyboard use, axe-core, the phone layout, and no CSP violation anywhere."""

import gzip
import re
from typing import Any

import httpx
import pytest

from app.services import accounts
from ops.processes import free_port
from tests.portal.conftest import (
    PASSWORD,
    Account,
    PortalPage,
    add_member,
    api_sessions,
)
from tests.widget.conftest import Api, ShopFactory

pytestmark = pytest.mark.browser

MY_PAGES = ["/portal/", "/portal/keys", "/portal/domains", "/portal/team", "/portal/account"]


def _clean(watch: Any, *, expected_statuses: tuple[int, ...] = ()) -> None:
    """No CSP violation (a console error), script error, failed request or error response
    beyond those the test provoked."""
    assert not watch.page_errors and not watch.failed_requests, watch
    unexpected = [
        line for line in watch.bad_responses if int(line.split()[0]) not in expected_statuses
    ]
    assert not unexpected, watch
    own = [text for text in watch.console_errors if not text.startswith("Failed to load resource")]
    assert not own, watch


def test_signing_in_with_the_form_lands_on_the_page_asked_for(
    api: Api, portal_page: PortalPage, browser_account: Account
) -> None:
    page, watch = portal_page(None)
    page.goto(api.url + "/portal/domains")
    assert page.url.startswith(api.url + "/portal/sign-in?next=/portal/domains")
    page.get_by_label("Email").fill(browser_account.users["owner"].email)
    page.get_by_label("Password").fill("wrong password here")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "The email or password is wrong."
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(api.url + "/portal/domains")
    assert page.get_by_role("heading", level=1).inner_text() == "Allowed domains"
    cookie = next(c for c in page.context.cookies() if c["name"] == "ragassist_portal")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/portal"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(api.url + "/portal/sign-in")
    page.goto(api.url + "/portal/")
    assert "/portal/sign-in" in page.url
    _clean(watch, expected_statuses=(401,))


@pytest.mark.parametrize("role", ["owner", "viewer"])
def test_my_pages_have_no_serious_accessibility_violations(
    api: Api, portal_page: PortalPage, axe_check: Any, role: str
) -> None:
    page, watch = portal_page(role)
    for path in [*MY_PAGES, "/portal/no-such-page"]:
        if role == "viewer" and path == "/portal/team":
            continue
        page.goto(api.url + path)
        assert axe_check(page) == [], path
    signed_out, _ = portal_page(None)
    signed_out.goto(api.url + "/portal/sign-in")
    assert axe_check(signed_out) == []
    _clean(watch, expected_statuses=(404,))


def test_pages_fit_a_phone_and_stay_small(api: Api, portal_page: PortalPage) -> None:
    page, watch = portal_page("owner", width=390)
    for path in MY_PAGES:
        response = page.goto(api.url + path)
        assert response.status == 200
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
        # Everything the page loads, gzipped: HTML + CSS + JS under 100 KB.
        html = response.body()
        assets = [
            httpx.get(api.url + asset, timeout=5).content
            for asset in ("/portal/static/portal.css", "/portal/static/portal.js")
        ]
        assert sum(len(gzip.compress(part)) for part in [html, *assets]) < 100_000, path
    _clean(watch)


def test_the_keyboard_reaches_everything_in_order(api: Api, portal_page: PortalPage) -> None:
    page, _ = portal_page("developer")
    page.goto(api.url + "/portal/keys")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    # The create form is reachable and submittable with the keyboard alone.
    page.get_by_label("Name").focus()
    page.keyboard.type("Keyboard key")
    page.get_by_label("Permissions").select_option("read")
    page.get_by_role("button", name="Create key").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Key “Keyboard key” created").wait_for()


def test_a_restricted_key_made_in_the_browser_works_only_where_it_should(
    api: Api, portal_page: PortalPage, browser_account: Account, axe_check: Any
) -> None:
    page, watch = portal_page("developer")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api.url)
    page.goto(api.url + "/portal/")
    page.get_by_role("navigation").get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Search only")
    page.get_by_role("group", name="Products").get_by_label("Read").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("Your new secret key").input_value()
    assert axe_check(page) == []
    page.get_by_role("button", name="Copy").click()
    # The clipboard answers asynchronously: wait for the announcement, do not sample it.
    page.get_by_role("status").filter(has_text="Copied.").wait_for(timeout=5000)
    assert page.evaluate("navigator.clipboard.readText()") == secret

    auth = {"Authorization": f"Bearer {secret}"}
    products = f"{api.url}/api/merchants/{browser_account.id}/products"
    assert httpx.get(products, headers=auth, timeout=5).status_code == 200
    refused = httpx.get(f"{api.url}/api/keys", headers=auth, timeout=5)
    assert refused.status_code == 403

    # Revoke, after saying yes on the confirmation page.
    page.goto(api.url + "/portal/keys")
    page.get_by_role("link", name="Revoke Search only").click()
    assert axe_check(page) == []
    page.get_by_role("button", name="Revoke the key").click()
    page.wait_for_url(api.url + "/portal/keys")
    row = page.get_by_role("row").filter(has_text="Search only")
    assert "revoked" in row.inner_text()
    assert httpx.get(products, headers=auth, timeout=5).status_code == 401
    _clean(watch)


def test_a_viewer_is_shown_no_controls(api: Api, portal_page: PortalPage) -> None:
    page, watch = portal_page("viewer")
    page.goto(api.url + "/portal/keys")
    assert page.get_by_role("button", name="Create key").count() == 0
    assert page.get_by_role("link", name=re.compile("^Revoke")).count() == 0
    page.goto(api.url + "/portal/domains")
    assert page.get_by_role("button", name="Add").count() == 0
    assert page.get_by_role("link", name="Team").count() == 0
    # Checking an origin is reading: a viewer may.
    page.get_by_label("Origin or hostname").fill("https://localhost:3000")
    page.get_by_role("button", name="Check").click()
    assert "matches localhost" in page.locator("#check-result").inner_text()
    _clean(watch)


def test_a_domain_allowed_in_the_portal_lets_the_widget_load_there(
    api: Api, shop: ShopFactory, portal_page: PortalPage
) -> None:
    port = free_port()
    keys = api.merchant(domains=["shop.example.com"], shop_url=f"http://localhost:{port}")
    developer = api_sessions(api, lambda sessions: add_member(sessions, keys.id, "developer"))
    account = Account(keys, {"developer": developer})
    with shop(keys, port=port) as shop_url:
        shopper, _ = portal_page(None)
        shopper.goto(shop_url + "/")
        shopper.locator("rag-assistant .launcher").click()
        notice = shopper.locator("rag-assistant .notice")
        notice.wait_for()
        assert "isn't enabled on localhost" in notice.inner_text()

        page, watch = portal_page("developer", account=account)
        page.goto(api.url + "/portal/domains")
        refused = page.get_by_role("row").filter(has_text=shop_url)
        assert refused.count() == 1
        refused.get_by_role("button", name="Allow this domain localhost").click()
        page.wait_for_url(api.url + "/portal/domains")
        assert page.get_by_role("button", name="Remove localhost", exact=True).count() == 1

        shopper.reload()
        shopper.locator("rag-assistant .launcher").click()
        textbox = shopper.get_by_role("textbox", name="Your question")
        textbox.fill("hiking boots")
        textbox.press("Enter")
        shopper.locator("rag-assistant .card").first.wait_for(timeout=10_000)
        assert "isn't enabled" not in shopper.locator("rag-assistant").inner_text()
        _clean(watch)


def test_the_password_link_page_is_accessible_and_signs_in(
    api: Api, portal_page: PortalPage, browser_account: Account, axe_check: Any
) -> None:
    viewer = browser_account.users["viewer"]

    async def password_link(sessions: Any) -> str:
        async with sessions() as session:
            made = await accounts.create_link(
                session,
                merchant_id=browser_account.id,
                purpose="password",
                email=viewer.email,
                role=viewer.role,
                user_id=viewer.id,
            )
            await session.commit()
        return made.token

    token = api_sessions(api, password_link)
    page, watch = portal_page(None)
    page.goto(f"{api.url}/portal/link/{token}")
    assert axe_check(page) == []
    page.get_by_label("New password").fill("my brand new password")
    page.get_by_label("The same password again").fill("my brand new password")
    page.get_by_role("button", name="Save and sign in").click()
    page.wait_for_url(api.url + "/portal/")
    assert viewer.email in page.locator("header").inner_text()
    page.goto(f"{api.url}/portal/link/{token}")  # spent
    assert page.get_by_role("heading", level=1).inner_text() == "This link no longer works"
    assert axe_check(page) == []
    _clean(watch, expected_statuses=(410,))
