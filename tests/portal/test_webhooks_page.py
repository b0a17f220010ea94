"""The webhooks page in-process: endpoints, secrets shown once, the simulator against a real
loopback receiver, the delivery log with retry, and what a viewer may not do."""

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook
from starlette.testclient import TestClient

from app.settings import Settings
from tests.conftest import Backend, make_settings
from tests.portal.conftest import Account, make_account, post_form, run_in_app, sign_in_as
from tests.webhooks.conftest import Receiver, Reply

SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


@pytest.fixture
def settings(backend: Backend) -> Settings:
    # The receiver listens on loopback, which the SSRF guard refuses unless told otherwise.
    return make_settings(
        backend,
        ALLOW_PRIVATE_NETWORK_TARGETS="true",
        WEBHOOK_TIMEOUT_SECONDS="2",
        PORTAL_SIGN_IN_PER_IP="100000/60",
        PORTAL_SIGN_IN_PER_ACCOUNT="100000/60",
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.up()
    yield receiver
    receiver.down()


def endpoints(client: TestClient, account: Account) -> list[dict[str, Any]]:
    response = client.get("/api/webhooks/endpoints", headers=account.keys.auth)
    items: list[dict[str, Any]] = response.json()["data"]["items"]
    return items


def create(client: TestClient, url: str, types: list[str] | None = None) -> str:
    response = post_form(
        client,
        "/portal/webhooks/endpoints",
        {"url": url, "description": "orders", "eventTypes": types or []},
        page="/portal/webhooks",
    )
    assert response.status_code == 200, response.text
    found = SECRET.search(response.text)
    assert found, "the new secret is shown"
    return found[1]


def test_a_developer_creates_an_endpoint_and_sees_its_secret_once(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    sign_in_as(client, account.users["developer"])
    secret = create(client, receiver.url, ["sync.failed", "sync.completed"])
    (made,) = endpoints(client, account)
    assert made["url"] == receiver.url
    assert made["eventTypes"] == ["sync.completed", "sync.failed"]
    page = client.get("/portal/webhooks")
    assert receiver.url in page.text and secret not in page.text  # shown once only

    # Rotating shows the new secret, once; the old one keeps signing for a day.
    rotated = post_form(
        client,
        f"/portal/webhooks/endpoints/{made['id']}/rotate-secret",
        {},
        page="/portal/webhooks",
    )
    new_secret = SECRET.search(rotated.text)
    assert new_secret and new_secret[1] != secret
    assert "keeps signing for 24 hours" in rotated.text

    for action, enabled in (("disable", False), ("enable", True)):
        done = post_form(
            client, f"/portal/webhooks/endpoints/{made['id']}/{action}", {}, page="/portal/webhooks"
        )
        assert done.status_code == 303
        assert endpoints(client, account)[0]["enabled"] is enabled
    post_form(
        client, f"/portal/webhooks/endpoints/{made['id']}/delete", {}, page="/portal/webhooks"
    )
    assert endpoints(client, account) == []


def test_the_api_validation_is_shown_next_to_the_url(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    response = post_form(
        client, "/portal/webhooks/endpoints", {"url": "ftp://x.example"}, page="/portal/webhooks"
    )
    assert response.status_code == 422
    assert 'id="url-error"' in response.text and "http:// and https://" in response.text
    assert endpoints(client, account) == []


def test_a_simulated_sync_failed_is_signed_and_shown_exactly(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    receiver.respond = lambda received: Reply(202, {"x-shop": "yes"}, b"queued")
    sign_in_as(client, account.users["developer"])
    secret = create(client, receiver.url)
    endpoint_id = endpoints(client, account)[0]["id"]
    page = client.get(f"/portal/webhooks/simulator?type=sync.failed&endpoint={endpoint_id}")
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S)
    assert textarea, "the simulator shows the sample payload"
    payload = html.unescape(textarea[1])
    edited = payload.replace("41% of rows are invalid (threshold 10%)", "feed answered 404")
    response = post_form(
        client,
        "/portal/webhooks/simulator",
        {"type": "sync.failed", "endpoint": endpoint_id, "payload": edited},
        page="/portal/webhooks/simulator",
    )
    assert response.status_code == 200, response.text
    (received,) = receiver.wait_for(1)
    event = Webhook(secret).verify(received.body, received.headers)
    assert event["type"] == "sync.failed" and event["data"]["error"] == "feed answered 404"
    shown = html.unescape(response.text)
    assert f"webhook-signature: {received.headers['webhook-signature']}" in shown
    assert received.body.decode() in shown
    assert "HTTP 202" in shown and "x-shop: yes" in shown and "queued" in shown
    # Nothing about a simulation lands in the delivery log.
    log = client.get("/api/webhooks/deliveries", headers=account.keys.auth).json()["data"]
    assert log["items"] == []


def test_an_edit_outside_the_schema_is_refused_and_nothing_is_sent(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    sign_in_as(client, account.users["owner"])
    create(client, receiver.url)
    endpoint_id = endpoints(client, account)[0]["id"]
    response = post_form(
        client,
        "/portal/webhooks/simulator",
        {"type": "sync.failed", "endpoint": endpoint_id, "payload": '{"type": "sync.failed"}'},
        page="/portal/webhooks/simulator",
    )
    assert response.status_code == 422
    assert "data: required" in response.text and "timestamp: required" in response.text
    assert receiver.requests == []


def test_a_failed_delivery_is_listed_and_retried(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    receiver.respond = lambda received: Reply(500)
    sign_in_as(client, account.users["developer"])
    create(client, receiver.url)
    endpoint_id = endpoints(client, account)[0]["id"]
    tested = client.post(f"/api/webhooks/endpoints/{endpoint_id}/test", headers=account.keys.auth)
    assert tested.json()["data"]["status"] == "failed"
    page = client.get("/portal/webhooks?status=failed")
    assert "HTTP 500" in page.text
    attempt = re.search(r"/portal/webhooks/deliveries/(att_\w+)/retry", page.text)
    assert attempt
    retried = post_form(
        client, f"/portal/webhooks/deliveries/{attempt[1]}/retry", {}, page="/portal/webhooks"
    )
    assert retried.status_code == 303
    log = client.get("/api/webhooks/deliveries", headers=account.keys.auth).json()["data"]
    assert [d["trigger"] for d in log["items"]][:1] == ["manual"]
    bad_filter = client.get("/portal/webhooks?status=lost")
    assert bad_filter.status_code == 200 and "These filters are not valid" in bad_filter.text


def test_a_viewer_sees_no_write_action_and_cannot_post_one(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    sign_in_as(client, account.users["owner"])
    create(client, receiver.url)
    endpoint_id = endpoints(client, account)[0]["id"]
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/webhooks")
    assert page.status_code == 200 and receiver.url in page.text
    assert "Add an endpoint" not in page.text and "Rotate secret" not in page.text
    simulator = client.get("/portal/webhooks/simulator")
    assert simulator.status_code == 200 and "<textarea" not in simulator.text
    for path, data in (
        ("/portal/webhooks/endpoints", {"url": receiver.url}),
        (f"/portal/webhooks/endpoints/{endpoint_id}/disable", {}),
        (f"/portal/webhooks/endpoints/{endpoint_id}/delete", {}),
        ("/portal/webhooks/simulator", {"type": "sync.failed", "endpoint": endpoint_id}),
    ):
        refused = post_form(client, path, data, page="/portal/webhooks")
        assert refused.status_code == 403, path
    (still,) = endpoints(client, account)
    assert still["enabled"] is True and receiver.requests == []


def test_another_merchants_endpoint_is_not_found(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    other = run_in_app(client, make_account)
    sign_in_as(client, other.users["owner"])
    create(client, receiver.url)
    theirs = endpoints(client, other)[0]["id"]
    sign_in_as(client, account.users["owner"])
    for action in ("disable", "delete", "rotate-secret"):
        response = post_form(
            client, f"/portal/webhooks/endpoints/{theirs}/{action}", {}, page="/portal/webhooks"
        )
        assert response.status_code == 404, action
    simulated = post_form(
        client,
        "/portal/webhooks/simulator",
        {"type": "sync.failed", "endpoint": theirs, "payload": "{}"},
        page="/portal/webhooks",
    )
    assert simulated.status_code == 404
    assert endpoints(client, other)[0]["enabled"] is True and receiver.requests == []


def test_every_form_of_these_pages_needs_its_csrf_token(
    client: TestClient, account: Account, receiver: Receiver
) -> None:
    sign_in_as(client, account.users["owner"])
    create(client, receiver.url)
    endpoint_id = endpoints(client, account)[0]["id"]
    forms = {
        "/portal/webhooks/endpoints": {"url": receiver.url},
        f"/portal/webhooks/endpoints/{endpoint_id}/delete": {},
        "/portal/webhooks/simulator": {"type": "sync.failed", "endpoint": endpoint_id},
        "/portal/catalog/config": {"sourceType": "upload", "errorThreshold": "5"},
        "/portal/catalog/sync": {},
        "/portal/catalog/upload": {},
    }
    for path, data in forms.items():
        for token in (None, "0" * 64):
            sent = data if token is None else {**data, "csrf": token}
            assert client.post(path, data=sent).status_code == 403, (path, token)
    assert len(endpoints(client, account)) == 1 and receiver.requests == []
    config = client.get(f"/api/merchants/{account.id}/sync/config", headers=account.keys.auth)
    assert config.json()["data"]["configured"] is False
