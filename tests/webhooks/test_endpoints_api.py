"""Webhook endpoints API: secrets shown once, validation, SSRF refusals at creation, updates,
enable/disable, the event-type catalogue, permissions and tenant isolation."""

import jsonschema
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from app.main import create_app
from app.services.webhooks.endpoints import MAX_ENDPOINTS
from app.services.webhooks.events import EVENT_TYPES
from tests.conftest import Backend, assert_envelope, make_settings, new_merchant
from tests.webhooks.conftest import (
    PRODUCT,
    Receiver,
    attempts,
    create_endpoint,
    drive,
    emit,
    platform_of,
    settled,
)


def _mint(client: TestClient, auth: dict[str, str], permissions: list[str]) -> dict[str, str]:
    created = client.post(
        "/api/keys", headers=auth, json={"name": "limited", "permissions": permissions}
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['data']['secret']}"}


def test_created_endpoint_shows_its_secret_once(client: TestClient, receiver: Receiver) -> None:
    owner = new_merchant(client)
    response = client.post(
        "/api/webhooks/endpoints",
        headers=owner.auth,
        json={"url": receiver.url, "description": "orders", "eventTypes": ["sync.failed"]},
    )
    assert response.status_code == 201
    body = response.json()
    assert_envelope(body, success=True)
    created = body["data"]
    assert created["id"].startswith("whe_")
    assert created["secret"].startswith("whsec_") and len(created["secret"]) == 50
    assert created["enabled"] is True and created["eventTypes"] == ["sync.failed"]

    one = client.get(f"/api/webhooks/endpoints/{created['id']}", headers=owner.auth)
    listed = client.get("/api/webhooks/endpoints", headers=owner.auth)
    for response in (one, listed):
        assert response.status_code == 200
        assert "secret" not in response.text.replace("previousSecretExpiresAt", "")
        assert created["secret"] not in response.text
    assert listed.json()["data"]["items"][0]["id"] == created["id"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "only http"),
        ("http://user:pw@example.com/hook", "credentials"),
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://[::1]:9/hook", "loopback"),
        ("http://10.1.2.3/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_unsafe_urls_are_refused_at_creation_without_the_override(
    backend: Backend, url: str, reason: str
) -> None:
    with TestClient(create_app(make_settings(backend))) as strict:
        owner = new_merchant(strict)
        response = strict.post("/api/webhooks/endpoints", headers=owner.auth, json={"url": url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"][0]["field"] == "url"
    assert reason in error["details"][0]["message"]


def test_cloud_metadata_is_refused_even_with_the_override(client: TestClient) -> None:
    owner = new_merchant(client)
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/"):
        response = client.post("/api/webhooks/endpoints", headers=owner.auth, json={"url": url})
        assert response.status_code == 422
        assert "metadata" in response.json()["error"]["details"][0]["message"]


def test_changing_the_url_is_checked_again(backend: Backend, receiver: Receiver) -> None:
    with TestClient(create_app(make_settings(backend))) as strict:
        owner = new_merchant(strict)
        response = strict.post(
            "/api/webhooks/endpoints", headers=owner.auth, json={"url": "http://93.184.215.14/"}
        )
        assert response.status_code == 201
        endpoint_id = response.json()["data"]["id"]
        refused = strict.patch(
            f"/api/webhooks/endpoints/{endpoint_id}",
            headers=owner.auth,
            json={"url": "http://127.0.0.1:8080/"},
        )
        assert refused.status_code == 422
        kept = strict.get(f"/api/webhooks/endpoints/{endpoint_id}", headers=owner.auth)
        assert kept.json()["data"]["url"] == "http://93.184.215.14/"


def test_unknown_event_types_and_fields_are_validation_errors(client: TestClient) -> None:
    owner = new_merchant(client)
    bad_type = client.post(
        "/api/webhooks/endpoints",
        headers=owner.auth,
        json={"url": "http://127.0.0.1:1/", "eventTypes": ["order.created"]},
    )
    assert bad_type.status_code == 422
    detail = bad_type.json()["error"]["details"][0]
    assert detail["field"] == "eventTypes.0" and "'sync.completed'" in detail["message"]
    unknown_field = client.post(
        "/api/webhooks/endpoints",
        headers=owner.auth,
        json={"url": "http://127.0.0.1:1/", "secret": "whsec_mine"},
    )
    assert unknown_field.status_code == 422


def test_update_changes_only_what_is_given(client: TestClient, receiver: Receiver) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url, description="first")
    response = client.patch(
        f"/api/webhooks/endpoints/{endpoint['id']}",
        headers=owner.auth,
        json={"eventTypes": ["product.deleted", "product.created", "product.created"]},
    )
    assert response.status_code == 200
    updated = response.json()["data"]
    assert updated["eventTypes"] == ["product.created", "product.deleted"]
    assert updated["description"] == "first" and updated["url"] == receiver.url
    assert updated["updatedAt"] > endpoint["updatedAt"]


def test_disable_cancels_queued_deliveries_and_enable_resumes(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    emit(client, owner.id, "product.created", PRODUCT)
    disabled = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/disable", headers=owner.auth)
    assert disabled.status_code == 200
    assert disabled.json()["data"]["enabled"] is False
    assert disabled.json()["data"]["disabledReason"] == "manual"
    (cancelled,) = attempts(client, merchant_id=owner.id)
    assert cancelled.status == "failed" and "disabled" in (cancelled.error or "")
    # While disabled, new events are not queued for it.
    emit(client, owner.id, "product.updated", PRODUCT)
    assert len(attempts(client, merchant_id=owner.id)) == 1

    enabled = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/enable", headers=owner.auth)
    assert enabled.json()["data"]["enabled"] is True
    assert enabled.json()["data"]["disabledReason"] is None
    emit(client, owner.id, "product.deleted", {"id": PRODUCT["id"]})
    drive(client, lambda: settled(client, owner.id))
    assert [r.json["type"] for r in receiver.requests] == ["product.deleted"]


def test_deleting_an_endpoint_removes_its_queue_and_log(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    emit(client, owner.id, "product.created", PRODUCT)
    deleted = client.delete(f"/api/webhooks/endpoints/{endpoint['id']}", headers=owner.auth)
    assert deleted.status_code == 200 and deleted.json()["data"]["id"] == endpoint["id"]
    assert (
        client.get(f"/api/webhooks/endpoints/{endpoint['id']}", headers=owner.auth).status_code
        == 404
    )
    assert attempts(client, merchant_id=owner.id) == []


def test_a_merchant_has_a_bounded_number_of_endpoints(client: TestClient) -> None:
    owner = new_merchant(client)
    sessions = platform_of(client).sessions

    async def fill() -> None:
        async with sessions() as session:
            for index in range(MAX_ENDPOINTS):
                await session.execute(
                    text(
                        "INSERT INTO webhook_endpoints (id, merchant_id, url, description, "
                        "event_types, enabled, secret, created_at, updated_at) VALUES "
                        "(:id, :merchant, 'http://127.0.0.1:1/', '', '[]', true, 'whsec_x', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"id": f"whe_FILL{index:04d}{owner.id[-10:]}", "merchant": owner.id},
                )
            await session.commit()

    client.portal.call(fill)  # type: ignore[union-attr]
    response = client.post(
        "/api/webhooks/endpoints", headers=owner.auth, json={"url": "http://127.0.0.1:1/"}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_endpoints_are_listed_with_cursor_pagination(client: TestClient) -> None:
    owner = new_merchant(client)
    made = [create_endpoint(client, owner, f"http://127.0.0.1:{9000 + i}/")["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/webhooks/endpoints", headers=owner.auth, params=params)
        seen += [item["id"] for item in page.json()["data"]["items"]]
        cursor = page.json()["data"]["nextCursor"]
        if cursor is None:
            break
    assert seen == made


def test_event_types_list_every_type_with_a_schema_its_example_satisfies(
    client: TestClient,
) -> None:
    owner = new_merchant(client)
    response = client.get("/api/webhooks/event-types", headers=owner.auth)
    assert response.status_code == 200
    items = response.json()["data"]["items"]
    assert [item["type"] for item in items] == [
        "sync.completed",
        "sync.failed",
        "product.created",
        "product.updated",
        "product.deleted",
        "chat.session.created",
        "webhook.test",
    ]
    for item in items:
        assert item["description"]
        payload = {
            "type": item["type"],
            "timestamp": "2026-11-27T10:00:00Z",
            "data": item["example"],
        }
        jsonschema.validate(payload, item["payloadSchema"])
        assert item["payloadSchema"]["properties"]["type"] == {"const": item["type"]}
    assert set(EVENT_TYPES) == {item["type"] for item in items}


def test_reading_needs_webhooks_read_and_changing_needs_webhooks_write(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    reader = _mint(client, owner.auth, ["webhooks:read"])
    assert client.get("/api/webhooks/endpoints", headers=reader).status_code == 200
    assert client.get("/api/webhooks/deliveries", headers=reader).status_code == 200
    for method, path in [
        ("POST", "/api/webhooks/endpoints"),
        ("PATCH", f"/api/webhooks/endpoints/{endpoint['id']}"),
        ("DELETE", f"/api/webhooks/endpoints/{endpoint['id']}"),
        ("POST", f"/api/webhooks/endpoints/{endpoint['id']}/rotate-secret"),
        ("POST", f"/api/webhooks/endpoints/{endpoint['id']}/test"),
    ]:
        response = client.request(method, path, headers=reader, json={"url": receiver.url})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["details"] == [{"permission": "webhooks:write"}]
    writer = _mint(client, owner.auth, ["webhooks:write"])
    denied = client.get("/api/webhooks/endpoints", headers=writer)
    assert denied.status_code == 403
    assert receiver.requests == []


def test_another_merchants_endpoints_deliveries_and_secrets_are_invisible(
    client: TestClient, receiver: Receiver
) -> None:
    victim, intruder = new_merchant(client), new_merchant(client)
    endpoint = create_endpoint(client, victim, receiver.url, description="victim-only")
    emit(client, victim.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, victim.id))
    delivery = client.get("/api/webhooks/deliveries", headers=victim.auth).json()["data"]["items"][
        0
    ]

    base = f"/api/webhooks/endpoints/{endpoint['id']}"
    for method, path in [
        ("GET", base),
        ("PATCH", base),
        ("POST", f"{base}/rotate-secret"),
        ("POST", f"{base}/test"),
        ("POST", f"{base}/disable"),
        ("POST", f"{base}/enable"),
        ("DELETE", base),
        ("GET", f"/api/webhooks/deliveries/{delivery['id']}"),
        ("POST", f"/api/webhooks/deliveries/{delivery['id']}/retry"),
    ]:
        response = client.request(method, path, headers=intruder.auth, json={"description": "x"})
        assert response.status_code == 404, (method, path, response.text)
        assert "victim-only" not in response.text and endpoint["secret"] not in response.text
    for path in ("/api/webhooks/endpoints", "/api/webhooks/deliveries"):
        listed = client.get(path, headers=intruder.auth)
        assert listed.json()["data"]["items"] == []
    filtered = client.get(
        "/api/webhooks/deliveries", headers=intruder.auth, params={"endpointId": endpoint["id"]}
    )
    assert filtered.json()["data"]["items"] == []
    # Nothing changed for the victim: same endpoint, same secret, one delivery, one test-free log.
    mine = client.get(base, headers=victim.auth).json()["data"]
    assert mine["enabled"] is True and mine["description"] == "victim-only"
    assert mine["previousSecretExpiresAt"] is None
    assert len(receiver.requests) == 1


def test_an_event_for_one_merchant_never_reaches_another(
    client: TestClient, receiver: Receiver
) -> None:
    first, second = new_merchant(client), new_merchant(client)
    create_endpoint(client, first, receiver.url)
    emit(client, second.id, "product.created", PRODUCT)
    assert attempts(client, merchant_id=second.id) == []
    assert attempts(client, merchant_id=first.id) == []
