"""API keys: shown once, stored hashed, revocable, expiring, never stronger than their maker."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from starlette.testclient import TestClient

from app.db.models import ApiKey
from tests.conftest import assert_envelope, new_merchant


def _db(client: TestClient, work):
    sessions = client.app.state.platform.sessions

    async def run():
        async with sessions() as session:
            result = await work(session)
            await session.commit()
            return result

    return client.portal.call(run)


def test_created_key_is_shown_once_and_works(client: TestClient) -> None:
    owner = new_merchant(client)
    response = client.post(
        "/api/keys", headers=owner.auth, json={"name": "ci", "permissions": ["keys:read"]}
    )
    assert response.status_code == 201
    body = response.json()
    assert_envelope(body, success=True)
    created = body["data"]
    assert created["secret"].startswith("sk_live_") and len(created["secret"]) == 51
    assert created["prefix"] == created["secret"][:14]
    assert created["permissions"] == ["keys:read"]

    listed = client.get("/api/keys", headers=owner.auth).json()["data"]["items"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "secret" not in mine
    assert created["secret"] not in client.get("/api/keys", headers=owner.auth).text

    new_auth = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/keys", headers=new_auth).status_code == 200
    # keys:read only: creating keys needs keys:write.
    denied = client.post("/api/keys", headers=new_auth, json={"name": "x"})
    assert denied.status_code == 403


def test_database_holds_no_plaintext_secret(client: TestClient) -> None:
    owner = new_merchant(client)
    created = client.post("/api/keys", headers=owner.auth, json={"name": "x"}).json()["data"]

    async def dump(session) -> str:
        rows = await session.execute(text("SELECT * FROM api_keys"))
        return repr(rows.all())

    everything = _db(client, dump)
    for secret in (owner.secret, owner.publishable, created["secret"]):
        assert secret not in everything
        assert secret[8:] not in everything  # not even the random part
    stored = _db(
        client, lambda s: s.scalar(select(ApiKey.key_hash).where(ApiKey.id == created["id"]))
    )
    assert len(stored) == 64 and stored != created["secret"]


def test_revoked_key_is_rejected_at_once(client: TestClient) -> None:
    owner = new_merchant(client)
    created = client.post("/api/keys", headers=owner.auth, json={"name": "x"}).json()["data"]
    auth = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/permissions", headers=auth).status_code == 200  # now cached

    revoked = client.delete(f"/api/keys/{created['id']}", headers=owner.auth)
    assert revoked.status_code == 200
    assert revoked.json()["data"]["revokedAt"] is not None

    response = client.get("/api/permissions", headers=auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    # Revoking again is harmless and keeps the first revocation time.
    again = client.delete(f"/api/keys/{created['id']}", headers=owner.auth)
    assert again.json()["data"]["revokedAt"] == revoked.json()["data"]["revokedAt"]


def test_expired_key_is_rejected(client: TestClient) -> None:
    owner = new_merchant(client)
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    created = client.post(
        "/api/keys", headers=owner.auth, json={"name": "temp", "expiresAt": soon}
    ).json()["data"]
    auth = {"Authorization": f"Bearer {created['secret']}"}
    assert client.get("/api/permissions", headers=auth).status_code == 200

    past = datetime.now(UTC) - timedelta(seconds=1)
    _db(
        client,
        lambda s: s.execute(
            update(ApiKey).where(ApiKey.id == created["id"]).values(expires_at=past)
        ),
    )
    client.app.state.platform.keys.forget(
        _db(client, lambda s: s.scalar(select(ApiKey.key_hash).where(ApiKey.id == created["id"])))
    )
    assert client.get("/api/permissions", headers=auth).status_code == 401


def test_expiry_in_the_past_or_without_timezone_is_refused(client: TestClient) -> None:
    owner = new_merchant(client)
    for value in ("2001-01-01T00:00:00Z", "2999-01-01T00:00:00"):
        response = client.post(
            "/api/keys", headers=owner.auth, json={"name": "x", "expiresAt": value}
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"][0]["field"] == "expiresAt"


def test_a_key_cannot_grant_permissions_it_lacks(client: TestClient) -> None:
    owner = new_merchant(client)
    limited = client.post(
        "/api/keys", headers=owner.auth, json={"name": "l", "permissions": ["keys:write"]}
    ).json()["data"]["secret"]
    response = client.post(
        "/api/keys",
        headers={"Authorization": f"Bearer {limited}"},
        json={"name": "escalate", "permissions": ["keys:write", "settings:write"]},
    )
    assert response.status_code == 403
    assert response.json()["error"]["details"] == [{"permission": "settings:write"}]


def test_unknown_permission_is_a_validation_error(client: TestClient) -> None:
    owner = new_merchant(client)
    response = client.post(
        "/api/keys", headers=owner.auth, json={"name": "x", "permissions": ["root"]}
    )
    assert response.status_code == 422
    assert "unknown permissions" in response.json()["error"]["details"][0]["message"]


def test_publishable_key_is_created_with_chat_only(client: TestClient) -> None:
    owner = new_merchant(client)
    created = client.post(
        "/api/keys", headers=owner.auth, json={"name": "site", "kind": "publishable"}
    ).json()["data"]
    assert created["secret"].startswith("pk_live_")
    assert created["permissions"] == ["chat:write"]
    refused = client.post(
        "/api/keys",
        headers=owner.auth,
        json={"name": "site", "kind": "publishable", "permissions": ["keys:read"]},
    )
    assert refused.status_code == 422


def test_keys_are_listed_with_cursor_pagination(client: TestClient) -> None:
    owner = new_merchant(client)
    for index in range(5):
        client.post("/api/keys", headers=owner.auth, json={"name": f"k{index}"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/keys", headers=owner.auth, params=params).json()["data"]
        seen += [k["id"] for k in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 7 == len(set(seen))
    assert seen == sorted(seen)


def test_last_used_is_recorded(client: TestClient) -> None:
    owner = new_merchant(client)
    client.get("/api/permissions", headers=owner.auth)
    keys = client.get("/api/keys", headers=owner.auth).json()["data"]["items"]
    secret = next(k for k in keys if k["kind"] == "secret")
    assert secret["lastUsedAt"] is not None
    assert next(k for k in keys if k["kind"] == "publishable")["lastUsedAt"] is None


def test_permissions_catalogue_lists_every_permission_with_a_description(
    client: TestClient,
) -> None:
    owner = new_merchant(client)
    items = client.get("/api/permissions", headers=owner.auth).json()["data"]["items"]
    names = [item["name"] for item in items]
    assert "keys:write" in names and "chat:write" in names and len(names) == 12
    assert all(item["description"] for item in items)
