"""Walk the whole route table: every route is guarded by its declared permission and never
shows one merchant's data to another (DESIGN §5)."""

import re

import pytest
from starlette.testclient import TestClient

from app.http.routing import Audience, Endpoint
from app.routes import ROUTES
from app.services.permissions import PERMISSIONS
from tests.conftest import MerchantKeys, assert_envelope, new_merchant

GUARDED = [e for e in ROUTES if e.audience is not Audience.PUBLIC]
ADMIN = [e for e in ROUTES if e.audience is Audience.ADMIN]
WITH_PERMISSION = [e for e in GUARDED if e.permission]
MERCHANT_SCOPED = [e for e in GUARDED if "{merchantId}" in e.path]


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


def _url(endpoint: Endpoint, merchant_id: str) -> str:
    path = endpoint.path.replace("{merchantId}", merchant_id)
    return re.sub(r"{[^}]+}", "key_00000000000000000000000000", path)


def _call(client: TestClient, endpoint: Endpoint, merchant_id: str, headers: dict[str, str]):
    kwargs: dict = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = {}
    return client.request(endpoint.method, _url(endpoint, merchant_id), **kwargs)


def _mint(client: TestClient, owner: MerchantKeys, permissions: list[str]) -> str:
    response = client.post(
        "/api/keys", headers=owner.auth, json={"name": "limited", "permissions": permissions}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]["secret"]


def test_route_table_declares_every_route_once() -> None:
    pairs = [(e.method, e.path) for e in ROUTES]
    assert len(pairs) == len(set(pairs))
    assert all(e.summary and e.tag for e in ROUTES)


@pytest.mark.parametrize("endpoint", GUARDED, ids=_id)
def test_route_without_a_key_is_401_in_the_envelope(client: TestClient, endpoint: Endpoint) -> None:
    owner = new_merchant(client)
    response = _call(client, endpoint, owner.id, {})
    assert response.status_code == 401
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("endpoint", GUARDED, ids=_id)
def test_route_with_an_unknown_key_is_401(client: TestClient, endpoint: Endpoint) -> None:
    owner = new_merchant(client)
    forged = "sk_live_" + "A" * 43
    response = _call(client, endpoint, owner.id, {"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("endpoint", WITH_PERMISSION, ids=_id)
def test_route_refuses_a_key_without_its_permission_naming_it(
    client: TestClient, endpoint: Endpoint
) -> None:
    owner = new_merchant(client)
    # Every permission except the one this route needs.
    weak = _mint(client, owner, sorted(set(PERMISSIONS) - {endpoint.permission}))
    response = _call(client, endpoint, owner.id, {"Authorization": f"Bearer {weak}"})
    assert response.status_code == 403
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "forbidden"
    assert endpoint.permission in body["error"]["message"]
    assert body["error"]["details"] == [{"permission": endpoint.permission}]


@pytest.mark.parametrize("endpoint", ADMIN, ids=_id)
def test_publishable_key_reaches_no_admin_route(client: TestClient, endpoint: Endpoint) -> None:
    owner = new_merchant(client)
    response = _call(client, endpoint, owner.id, owner.widget_auth)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert "Publishable keys" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", MERCHANT_SCOPED, ids=_id)
def test_another_merchants_key_gets_404_and_none_of_its_data(
    client: TestClient, endpoint: Endpoint
) -> None:
    victim = new_merchant(client, domains=["victim-shop.example.com"])
    intruder = new_merchant(client)
    response = _call(client, endpoint, victim.id, intruder.auth)
    assert response.status_code == 404
    body = response.json()
    assert body["error"]["code"] == "not_found"
    assert "victim-shop" not in response.text
    # And the victim's data is untouched and still its own.
    own = client.get(f"/api/merchants/{victim.id}/domains", headers=victim.auth)
    assert own.json()["data"]["allowedDomains"] == ["victim-shop.example.com"]


def test_keys_list_shows_only_the_callers_merchant(client: TestClient) -> None:
    first, second = new_merchant(client), new_merchant(client)
    first_ids = {
        k["id"] for k in client.get("/api/keys", headers=first.auth).json()["data"]["items"]
    }
    second_ids = {
        k["id"] for k in client.get("/api/keys", headers=second.auth).json()["data"]["items"]
    }
    assert len(first_ids) == 2 and len(second_ids) == 2
    assert not first_ids & second_ids


def test_revoking_another_merchants_key_is_404_and_leaves_it_working(client: TestClient) -> None:
    first, second = new_merchant(client), new_merchant(client)
    key_id = client.get("/api/keys", headers=second.auth).json()["data"]["items"][0]["id"]
    response = client.delete(f"/api/keys/{key_id}", headers=first.auth)
    assert response.status_code == 404
    assert client.get("/api/keys", headers=second.auth).status_code == 200


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_every_route_answers_in_the_envelope_with_a_full_key(
    client: TestClient, endpoint: Endpoint
) -> None:
    owner = new_merchant(client)
    response = _call(client, endpoint, owner.id, owner.auth)
    assert response.status_code < 500
    assert response.headers["x-request-id"]
    if endpoint.media_type == "application/json":
        assert_envelope(response.json(), success=response.status_code < 400)
