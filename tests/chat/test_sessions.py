"""Chat sessions and their history (DESIGN §9): creation from the widget, isolation between
merchants, validation, and what a publishable key can and cannot reach."""

from sqlalchemy import select, update
from starlette.testclient import TestClient

from app.db.models import ChatSession, WebhookEvent
from tests.chat.conftest import SHOP, ask, start_session, widget_headers, with_catalog
from tests.conftest import MerchantKeys, assert_envelope, new_merchant


def _db(client: TestClient, work):
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def run():
        async with sessions() as session:
            result = await work(session)
            await session.commit()
            return result

    return client.portal.call(run)  # type: ignore[union-attr]


def test_widget_starts_a_session_from_an_allowed_origin(
    client: TestClient, shop: MerchantKeys
) -> None:
    response = client.post(
        "/api/chat/sessions",
        headers=widget_headers(shop),
        json={"locale": "en-US", "pageUrl": f"{SHOP}/products/boots?utm_source=mail#top"},
    )
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == SHOP
    body = response.json()
    assert_envelope(body, success=True)
    created = body["data"]
    assert created["id"].startswith("ses_")
    assert created["locale"] == "en-US"
    assert created["messageCount"] == 0
    assert created["lastMessageAt"] is None

    stored = _db(client, lambda s: s.get(ChatSession, created["id"]))
    assert stored.origin == SHOP
    assert stored.page_url == f"{SHOP}/products/boots"  # no query string or fragment kept
    # The webhook event is queued in the same transaction (DESIGN §10).
    events = _db(
        client,
        lambda s: s.scalars(
            select(WebhookEvent).where(
                WebhookEvent.merchant_id == shop.id, WebhookEvent.type == "chat.session.created"
            )
        ),
    ).all()
    assert [e for e in events if created["id"] in e.payload]

    again = client.get(f"/api/chat/sessions/{created['id']}", headers=widget_headers(shop))
    assert again.status_code == 200
    assert again.json()["data"]["id"] == created["id"]


def test_history_lists_question_and_reply_in_order_with_pagination(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)
    for question in ("sunscreen", "french press", "hello"):
        ask(client, shop, session["id"], question)
    url = f"/api/chat/sessions/{session['id']}/messages"
    everything = client.get(url, headers=widget_headers(shop)).json()["data"]
    roles = [m["role"] for m in everything["items"]]
    assert roles == ["user", "assistant"] * 3
    assert [m["content"] for m in everything["items"][::2]] == [
        "sunscreen",
        "french press",
        "hello",
    ]
    assert everything["nextCursor"] is None
    first = client.get(url, headers=widget_headers(shop), params={"limit": 4}).json()["data"]
    rest = client.get(
        url, headers=widget_headers(shop), params={"limit": 4, "cursor": first["nextCursor"]}
    ).json()["data"]
    assert [m["id"] for m in first["items"] + rest["items"]] == [
        m["id"] for m in everything["items"]
    ]
    assert rest["nextCursor"] is None
    counted = client.get(f"/api/chat/sessions/{session['id']}", headers=widget_headers(shop))
    assert counted.json()["data"]["messageCount"] == 6
    assert counted.json()["data"]["lastMessageAt"] is not None


def test_sessions_of_one_merchant_are_invisible_to_another(client: TestClient) -> None:
    owner = with_catalog(client)
    other = new_merchant(client)  # no domains: any origin is allowed for it
    session = start_session(client, owner)
    ask(client, owner, session["id"], "waterproof hiking boots")
    for method, path, body in (
        ("GET", f"/api/chat/sessions/{session['id']}", None),
        ("GET", f"/api/chat/sessions/{session['id']}/messages", None),
        ("POST", f"/api/chat/sessions/{session['id']}/messages", {"content": "and tents?"}),
    ):
        for auth in (other.widget_auth, other.auth):
            response = client.request(method, path, headers=auth, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["error"]["code"] == "not_found"
            assert "boots" not in response.text.lower()
    # Nothing was added to the owner's session.
    history = client.get(
        f"/api/chat/sessions/{session['id']}/messages", headers=widget_headers(owner)
    ).json()["data"]["items"]
    assert len(history) == 2


def test_publishable_key_cannot_reach_admin_routes(client: TestClient, shop: MerchantKeys) -> None:
    for method, path in (
        ("GET", "/api/analytics/summary"),
        ("GET", "/api/keys"),
        ("GET", f"/api/merchants/{shop.id}/domains"),
        ("GET", f"/api/merchants/{shop.id}/products"),
    ):
        # From the shop's page the browser is not even allowed to read the answer...
        in_page = client.request(method, path, headers=widget_headers(shop))
        assert in_page.status_code == 403, (path, in_page.text)
        assert in_page.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in in_page.headers
        # ...and a script replaying the public key outside a browser is refused by the key.
        replayed = client.request(method, path, headers=shop.widget_auth)
        assert replayed.status_code == 403, (path, replayed.text)
        assert replayed.json()["error"]["code"] == "forbidden"
        assert "Publishable keys" in replayed.json()["error"]["message"]
    # ...while a secret key with chat:write may use the chat routes server-side.
    session = client.post("/api/chat/sessions", headers=shop.auth, json={})
    assert session.status_code == 201


def test_message_validation(client: TestClient, shop: MerchantKeys) -> None:
    session = start_session(client, shop)
    url = f"/api/chat/sessions/{session['id']}/messages"
    for body, field in (
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 1001}, "content"),
        ({}, "content"),
        ({"content": "hi", "extra": 1}, "extra"),
    ):
        response = client.post(url, headers=widget_headers(shop), json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["details"][0]["field"] == field
    bad_locale = client.post(
        "/api/chat/sessions", headers=widget_headers(shop), json={"locale": "<script>"}
    )
    assert bad_locale.status_code == 422
    missing = client.post(
        "/api/chat/sessions/ses_00000000000000000000000000/messages",
        headers=widget_headers(shop),
        json={"content": "hi"},
    )
    assert missing.status_code == 404


def test_a_full_session_answers_409_and_says_what_to_do(
    client: TestClient, shop: MerchantKeys
) -> None:
    session = start_session(client, shop)
    _db(
        client,
        lambda s: s.execute(
            update(ChatSession).where(ChatSession.id == session["id"]).values(message_count=199)
        ),
    )
    response = client.post(
        f"/api/chat/sessions/{session['id']}/messages",
        headers=widget_headers(shop),
        json={"content": "tents"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "POST /api/chat/sessions" in response.json()["error"]["message"]


def test_foreign_origin_is_refused_readably(client: TestClient, shop: MerchantKeys) -> None:
    response = client.post(
        "/api/chat/sessions",
        headers=widget_headers(shop, origin="https://copycat.example.net"),
        json={},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert response.headers["access-control-allow-origin"] == "https://copycat.example.net"
