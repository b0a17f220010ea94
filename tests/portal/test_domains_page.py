"""The allowed-domains page: the API's validation with errors inline, readable IDN, the origin
checker, and refused origins with an "allow" action (seed Task 3.5)."""

import re

from starlette.testclient import TestClient

from tests.portal.conftest import (
    Account,
    csrf_from,
    make_account,
    post_form,
    run_in_app,
    sign_in_as,
)


def _add(client: TestClient, domain: str):
    return post_form(client, "/portal/domains", {"domain": domain}, page="/portal/domains")


def _api_domains(client: TestClient, account: Account) -> list[str]:
    response = client.get(f"/api/merchants/{account.id}/domains", headers=account.keys.auth)
    return response.json()["data"]["allowedDomains"]


def test_domains_added_in_the_portal_are_what_the_api_enforces(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["developer"])
    assert _add(client, "Shop.Example.com").status_code == 303
    assert _add(client, "*.bücher.de").status_code == 303
    assert _api_domains(client, account) == ["shop.example.com", "*.xn--bcher-kva.de"]
    page = client.get("/portal/domains").text
    assert "*.bücher.de" in page and "*.xn--bcher-kva.de" in page  # readable, and as stored
    chat = {"Origin": "https://eu.xn--bcher-kva.de", **account.keys.widget_auth}
    assert client.post("/api/chat/sessions", json={}, headers=chat).status_code == 201
    refused = {**chat, "Origin": "https://evil.example.net"}
    assert client.post("/api/chat/sessions", json={}, headers=refused).status_code == 403


def test_bad_entries_are_explained_inline_and_change_nothing(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    _add(client, "shop.example.com")
    for typed, reason in [
        ("https://shop.example.com/", "remove the scheme"),
        ("shop.example.com:8443", "remove the port"),
        ("shop.*.example.com", "wildcard is only allowed as a leading"),
        ("10.0.0.1", "IP addresses are not allowed"),
    ]:
        response = _add(client, typed)
        assert response.status_code == 422
        error = re.search(r'<p class="field-error" id="domain-error">(.*?)</p>', response.text)
        assert error and reason in error[1]
        assert 'aria-invalid="true"' in response.text and f'value="{typed}"' in response.text
    assert _api_domains(client, account) == ["shop.example.com"]


def test_removing_a_domain(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    _add(client, "a.example.com")
    _add(client, "b.example.com")
    response = post_form(
        client, "/portal/domains/remove", {"domain": "a.example.com"}, page="/portal/domains"
    )
    assert response.status_code == 303
    assert _api_domains(client, account) == ["b.example.com"]


def test_the_origin_checker_names_the_entry_that_allows_an_origin(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    before = client.get("/portal/domains", params={"origin": "https://anything.example"}).text
    assert "no domains are set yet" in before
    run_in_app(
        client, lambda sessions: _set(sessions, account.id, ["*.example.com", "shop.test.dev"])
    )
    client.app.state.platform.forget_domains(account.id)  # type: ignore[attr-defined]
    allowed = client.get("/portal/domains", params={"origin": "https://eu.shop.example.com:8080"})
    assert "matches <code>*.example.com</code>" in allowed.text
    bare = client.get("/portal/domains", params={"origin": "shop.test.dev"})
    assert "matches <code>shop.test.dev</code>" in bare.text
    refused = client.get("/portal/domains", params={"origin": "https://example.com"}).text
    assert "Refused:" in refused and "no entry matches example.com" in refused
    assert "Add <code>" not in refused  # a viewer is not told to do what they cannot
    assert "not a web origin" in client.get("/portal/domains", params={"origin": "ftp://x.y"}).text


async def _set(sessions, merchant_id: str, entries: list[str]) -> None:
    from app.services.domains import replace_domains

    async with sessions() as session:
        await replace_domains(session, merchant_id, entries)
        await session.commit()


def test_refused_origins_are_listed_with_counts_and_can_be_allowed(
    client: TestClient, account: Account
) -> None:
    run_in_app(client, lambda sessions: _set(sessions, account.id, ["shop.example.com"]))
    for origin, times in (("https://copycat.example.net", 3), ("https://staging.example.com", 1)):
        for _ in range(times):
            response = client.post(
                "/api/chat/sessions",
                json={},
                headers={"Origin": origin, **account.keys.widget_auth},
            )
            assert response.status_code == 403
    sign_in_as(client, account.users["owner"])
    page = client.get("/portal/domains").text
    rows = re.findall(r"<tr>\s*<td><code>(https://[^<]+)</code></td>\s*<td>(\d+)</td>", page)
    assert rows == [("https://staging.example.com", "1"), ("https://copycat.example.net", "3")]
    allowed = post_form(
        client, "/portal/domains", {"domain": "staging.example.com"}, page="/portal/domains"
    )
    assert allowed.status_code == 303
    assert _api_domains(client, account) == ["shop.example.com", "staging.example.com"]
    headers = {"Origin": "https://staging.example.com", **account.keys.widget_auth}
    assert client.post("/api/chat/sessions", json={}, headers=headers).status_code == 201
    assert "now allowed" in client.get("/portal/domains").text


def test_refusals_are_bounded_per_merchant(client: TestClient, account: Account) -> None:
    from app.services.usage import MAX_ORIGINS_PER_MERCHANT

    run_in_app(client, lambda sessions: _set(sessions, account.id, ["shop.example.com"]))
    for index in range(MAX_ORIGINS_PER_MERCHANT + 20):
        client.post(
            "/api/chat/sessions",
            json={},
            headers={"Origin": f"https://a{index}.attacker.example", **account.keys.widget_auth},
        )
    sign_in_as(client, account.users["owner"])
    page = client.get("/portal/domains").text
    assert page.count("attacker.example</code>") == MAX_ORIGINS_PER_MERCHANT
    assert f"https://a{MAX_ORIGINS_PER_MERCHANT + 19}.attacker.example" in page  # the newest


def test_a_viewer_cannot_change_domains_even_by_posting(
    client: TestClient, account: Account
) -> None:
    run_in_app(client, lambda sessions: _set(sessions, account.id, ["shop.example.com"]))
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/domains").text
    assert "Add a domain" not in page and "/portal/domains/remove" not in page
    token = csrf_from(client, "/portal/domains")
    assert (
        client.post("/portal/domains", data={"csrf": token, "domain": "x.example"}).status_code
        == 403
    )
    removed = client.post(
        "/portal/domains/remove", data={"csrf": token, "domain": "shop.example.com"}
    )
    assert removed.status_code == 403
    assert _api_domains(client, account) == ["shop.example.com"]


def test_another_merchants_domains_are_neither_shown_nor_changed(
    client: TestClient, account: Account
) -> None:
    other = run_in_app(client, make_account)
    run_in_app(client, lambda sessions: _set(sessions, other.id, ["theirs.example.com"]))
    sign_in_as(client, account.users["owner"])
    assert "theirs.example.com" not in client.get("/portal/domains").text
    post_form(
        client, "/portal/domains/remove", {"domain": "theirs.example.com"}, page="/portal/domains"
    )
    assert _api_domains(client, other) == ["theirs.example.com"]
