"""The widget install page in-process: the README's snippet with this environment's URLs and
the merchant's key, appearance options checked, and the sandbox preview's own rules."""

import html
import re

import pytest
from starlette.testclient import TestClient

from app.portal.widget_install import (
    README_API,
    README_KEY,
    README_LOADER,
    appearance,
    options,
    readme_snippet,
    snippet,
)
from app.settings import Settings
from tests.conftest import Backend, make_settings
from tests.portal.conftest import Account, make_account, run_in_app, sign_in_as


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return make_settings(
        backend,
        PUBLIC_BASE_URL="https://api.shop-assist.test",
        WIDGET_BASE_URL="https://cdn.shop-assist.test/",
        WIDGET_PREVIEW_BASE_URL="https://preview.shop-assist.test",
    )


def shown_snippet(page: str) -> str:
    found = re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no snippet on the page"
    return html.unescape(found[1])


def test_with_the_defaults_the_snippet_is_the_readmes_own() -> None:
    values, problems = appearance({})
    assert problems == {}
    made = snippet(README_LOADER, options(values, key=README_KEY, api=README_API))
    assert made == readme_snippet()


def test_every_role_gets_the_snippet_for_this_environment(
    client: TestClient, account: Account
) -> None:
    for role in ("owner", "developer", "viewer"):
        sign_in_as(client, account.users[role])
        page = client.get("/portal/widget")
        assert page.status_code == 200
        text = shown_snippet(page.text)
        assert '<script src="https://cdn.shop-assist.test/loader.js"></script>' in text
        assert 'apiBaseUrl: "https://api.shop-assist.test"' in text
        assert README_KEY in text  # no key pasted: the placeholder, and which keys are yours
        assert account.keys.publishable[:14] in page.text


def test_a_pasted_key_and_appearance_fill_the_snippet_and_the_preview(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    page = client.get(
        "/portal/widget",
        params={
            "key": account.keys.publishable,
            "color": "#0A7D4F",
            "greeting": "Hallo </script><b>",
            "position": "bottom-left",
            "locale": "de",
        },
    )
    assert page.status_code == 200
    text = shown_snippet(page.text)
    assert f'publishableKey: "{account.keys.publishable}"' in text
    assert 'primaryColor: "#0a7d4f"' in text and 'position: "bottom-left"' in text
    assert 'greeting: "Hallo \\u003c/script>\\u003cb>"' in text and 'locale: "de"' in text
    frame = re.search(r'<iframe[^>]*src="([^"]+)"', page.text)
    assert frame and html.unescape(frame[1]).startswith(
        "https://preview.shop-assist.test/portal/widget/preview?key=pk_live_"
    )
    assert "frame-src https://preview.shop-assist.test" in page.headers["content-security-policy"]


def test_bad_options_and_someone_elses_key_are_refused_on_the_page(
    client: TestClient, account: Account
) -> None:
    other = run_in_app(client, make_account)
    sign_in_as(client, account.users["developer"])
    page = client.get(
        "/portal/widget",
        params={"key": other.keys.publishable, "color": "red; background:url(x)", "locale": "xx"},
    )
    assert page.status_code == 422
    assert "not a live publishable key of this account" in page.text
    assert "Use a colour like #0a7d4f." in page.text and 'id="locale-error"' in page.text
    assert other.keys.publishable not in shown_snippet(page.text)
    secret = client.get("/portal/widget", params={"key": account.keys.secret})
    assert "That is not a publishable key" in secret.text
    assert account.keys.secret not in shown_snippet(secret.text)


def test_the_preview_page_runs_only_this_environments_widget(
    client: TestClient, account: Account
) -> None:
    preview = client.get(
        "/portal/widget/preview",
        params={"key": account.keys.publishable, "color": "#112233", "greeting": '"><script>'},
    )
    assert preview.status_code == 200
    csp = preview.headers["content-security-policy"]
    assert "script-src 'self' https://cdn.shop-assist.test;" in csp
    assert "frame-ancestors https://api.shop-assist.test;" in csp
    assert '<script src="https://cdn.shop-assist.test/loader.js"></script>' in preview.text
    assert "<script>" not in preview.text.replace("<script src=", "")
    assert '"primaryColor": "#112233"' in html.unescape(preview.text)
    for bad in ({"key": "pk_live_short"}, {"key": account.keys.publishable, "position": "top"}):
        assert client.get("/portal/widget/preview", params=bad).status_code == 400
    # A browser opening it as a page, not in the portal's frame, is refused.
    opened = client.get(
        "/portal/widget/preview",
        params={"key": account.keys.publishable},
        headers={"Sec-Fetch-Dest": "document"},
    )
    assert opened.status_code == 400
