"""The API keys page: list with usage, restricted keys that the API then enforces, revoke;
what a viewer cannot do is neither shown nor accepted (seed Task 2.5)."""

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

_SECRET = re.compile(r'value="(sk_live_[A-Za-z0-9]+|pk_live_[A-Za-z0-9]+)"')


def _create(client: TestClient, **fields: str):
    return post_form(client, "/portal/keys", fields, page="/portal/keys")


def test_a_restricted_key_made_in_the_portal_is_enforced_by_the_api(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["developer"])
    created = _create(
        client,
        name="Catalog reader",
        kind="secret",
        preset="custom",
        **{"level-products": "read", "level-sync": "none", "level-keys": "none"},
    )
    assert created.status_code == 201
    assert "shown only once" in created.text
    secret = _SECRET.search(created.text)[1]
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"/api/merchants/{account.id}/products", headers=auth).status_code == 200
    refused = client.get("/api/keys", headers=auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"] == [{"permission": "keys:read"}]
    # The list shows it, by prefix only, with what it may do and the requests it made.
    listing = client.get("/portal/keys").text
    assert secret not in listing
    row = re.search(r"<tr>\s*<td>Catalog reader</td>.*?</tr>", listing, re.S)[0]
    assert secret[:14] in row and "products:read" in row and "products:write" not in row
    assert "<td>2</td>" in row  # the two API requests above


def test_write_includes_read_and_presets_replace_the_picker(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    created = _create(client, name="Sync job", preset="catalog", **{"level-keys": "write"})
    page = client.get("/portal/keys").text
    row = re.search(r"<tr>\s*<td>Sync job</td>.*?</tr>", page, re.S)[0]
    assert "products:read, products:write, sync:read, sync:write" in row
    assert "keys:" not in row
    assert created.status_code == 201
    written = _create(client, name="Hooks", **{"level-webhooks": "write"})
    assert written.status_code == 201
    row = re.search(r"<tr>\s*<td>Hooks</td>.*?</tr>", client.get("/portal/keys").text, re.S)[0]
    assert "webhooks:read, webhooks:write" in row


def test_bad_input_is_explained_next_to_its_field_and_creates_nothing(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    before = client.get("/portal/keys").text.count("<tr>")
    no_name = _create(client, name="", **{"level-products": "read"})
    assert no_name.status_code == 422
    assert 'id="name-error"' in no_name.text and 'aria-invalid="true"' in no_name.text
    nothing = _create(client, name="Empty")
    assert nothing.status_code == 422 and "Choose at least one permission" in nothing.text
    past = _create(client, name="Old", expires="2001-01-01", **{"level-products": "read"})
    assert past.status_code == 422 and "must be in the future" in past.text
    assert client.get("/portal/keys").text.count("<tr>") == before


def test_revoking_asks_first_then_the_api_refuses_the_key(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    secret = _SECRET.search(_create(client, name="Temp", preset="read").text)[1]
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/keys", headers=auth).status_code == 200
    page = client.get("/portal/keys").text
    key_id = re.search(
        r'href="/portal/keys/(key_\w+)/revoke">Revoke<span class="sr-only"> Temp', page
    )[1]
    confirm = client.get(f"/portal/keys/{key_id}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    done = post_form(
        client, f"/portal/keys/{key_id}/revoke", {}, page=f"/portal/keys/{key_id}/revoke"
    )
    assert done.status_code == 303
    assert client.get("/api/keys", headers=auth).status_code == 401


def test_a_viewer_sees_keys_but_no_way_to_change_them_and_posts_are_refused(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/keys")
    assert page.status_code == 200
    assert "Create a key" not in page.text and "/revoke" not in page.text
    token = csrf_from(client, "/portal/keys")
    created = client.post("/portal/keys", data={"csrf": token, "name": "x", "preset": "full"})
    assert created.status_code == 403 and "does not include &#39;keys:write&#39;" in created.text
    key_id = run_in_app(client, lambda s: _first_key_id(s, account.id))
    revoked = client.post(f"/portal/keys/{key_id}/revoke", data={"csrf": token})
    assert revoked.status_code == 403
    assert client.get("/api/keys", headers=account.keys.auth).status_code == 200
    assert client.get("/portal/keys").text.count("<tr>") == 3  # header + the two default keys


async def _first_key_id(sessions, merchant_id: str) -> str:
    from app.services import keys

    async with sessions() as session:
        return (await keys.list_keys(session, merchant_id, limit=1, after=None))[0].id


def test_another_merchants_keys_cannot_be_seen_or_revoked(
    client: TestClient, account: Account
) -> None:
    other = run_in_app(client, make_account)
    their_key = run_in_app(client, lambda s: _first_key_id(s, other.id))
    sign_in_as(client, account.users["owner"])
    assert their_key not in client.get("/portal/keys").text
    assert client.get(f"/portal/keys/{their_key}/revoke").status_code == 404
    token = csrf_from(client, "/portal/keys")
    assert client.post(f"/portal/keys/{their_key}/revoke", data={"csrf": token}).status_code == 404
    assert client.get("/api/keys", headers=other.keys.auth).status_code == 200
