"""Inbound product webhooks: Standard Webhooks and Shopify signatures (valid, invalid, stale,
replayed), single-product changes applied once, never across merchants."""

import base64
import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from starlette.testclient import TestClient

from app.metrics import REGISTRY
from app.services.catalog import inbound
from tests.catalog.conftest import all_products, by_external_id
from tests.conftest import MerchantKeys, new_merchant

STANDARD_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
SHOPIFY_SECRET = "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"

IPOD = {
    "id": 632910392,
    "handle": "ipod-nano",
    "title": "IPod Nano - 8GB",
    "body_html": "<p>It's the small iPod with one very big idea.</p>",
    "vendor": "Apple",
    "product_type": "Cult Products",
    "status": "active",
    "updated_at": "2026-11-20T10:00:00-05:00",
    "variants": [
        {
            "id": 1,
            "sku": "IPOD-PINK",
            "price": "199.00",
            "option1": "Pink",
            "inventory_quantity": 3,
            "inventory_management": "shopify",
        },
        {
            "id": 2,
            "sku": "IPOD-RED",
            "price": "209.00",
            "option1": "Red",
            "inventory_quantity": 0,
            "inventory_management": "shopify",
            "inventory_policy": "deny",
        },
    ],
    "options": [{"name": "Color"}],
    "images": [{"src": "https://cdn.shopify.com/ipod.png"}],
}


def _merchant_with_secret(client: TestClient, secret: str) -> MerchantKeys:
    merchant = new_merchant(client)
    response = client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"webhookSecret": secret, "defaultCurrency": "EUR"},
    )
    assert response.status_code == 200 and response.json()["data"]["webhookSecretSet"] is True
    assert secret not in response.text
    return merchant


def _standard(
    client: TestClient,
    merchant: MerchantKeys,
    payload: dict[str, Any],
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    secret: str = STANDARD_SECRET,
) -> Any:
    body = json.dumps(payload)
    event_id = event_id or f"msg_{os.urandom(6).hex()}"
    moment = at or datetime.now(UTC)
    signature = Webhook(secret).sign(event_id, moment, body)  # the reference implementation
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    return client.post(
        f"/api/merchants/{merchant.id}/sync/webhook", content=body.encode(), headers=headers
    )


def _shopify(
    client: TestClient,
    merchant: MerchantKeys,
    topic: str,
    payload: dict[str, Any],
    *,
    webhook_id: str | None = None,
    secret: str = SHOPIFY_SECRET,
) -> Any:
    body = json.dumps(payload).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "X-Shopify-Webhook-Id": webhook_id or f"b54557e4-{os.urandom(4).hex()}",
        "Content-Type": "application/json",
    }
    return client.post(f"/api/merchants/{merchant.id}/sync/webhook", content=body, headers=headers)


def _receipt(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_standard_webhooks_create_update_delete(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    product = {"sku": "SW-1", "title": "Webhook Lamp", "price": "30.00", "brand": "Lumen"}
    created = _receipt(_standard(client, merchant, {"type": "product.created", "data": product}))
    assert created["status"] == "applied" and created["action"] == "created"
    stored = by_external_id(all_products(client, merchant))["SW-1"]
    assert (stored["price"], stored["currency"], stored["id"]) == (
        "30.00",
        "EUR",
        created["productId"],
    )
    assert [p["externalId"] for p in all_products(client, merchant, q="lamp")] == ["SW-1"]
    same = _receipt(_standard(client, merchant, {"type": "product.updated", "data": product}))
    assert same["action"] == "unchanged"
    changed = {**product, "price": "25.00"}
    updated = _receipt(_standard(client, merchant, {"type": "product.updated", "data": changed}))
    assert updated["action"] == "updated" and updated["productId"] == created["productId"]
    assert all_products(client, merchant)[0]["price"] == "25.00"
    deleted = _receipt(
        _standard(client, merchant, {"type": "product.deleted", "data": {"sku": "SW-1"}})
    )
    assert deleted["action"] == "deleted" and all_products(client, merchant) == []
    again = _receipt(
        _standard(client, merchant, {"type": "product.deleted", "data": {"sku": "SW-1"}})
    )
    assert again["status"] == "ignored"


def test_a_replayed_standard_webhook_changes_nothing(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    payload = {"type": "product.created", "data": {"id": "R-1", "title": "Once", "price": 1}}
    first = _receipt(_standard(client, merchant, payload, event_id="msg_replay"))
    assert first["action"] == "created"
    _standard(client, merchant, {"type": "product.deleted", "data": {"id": "R-1"}})
    replay = _receipt(_standard(client, merchant, payload, event_id="msg_replay"))
    assert replay == {"status": "duplicate", "action": None, "productId": None}
    assert all_products(client, merchant) == []  # the replay did not bring it back


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong secret", "no webhook-signature matches"),
        ("tampered body", "no webhook-signature matches"),
        ("stale", "more than 5 minutes"),
        ("from the future", "more than 5 minutes"),
        ("unsigned", "no signature"),
        ("malformed signature", "no webhook-signature matches"),
    ],
)
def test_bad_standard_signatures_are_401(client: TestClient, case: str, reason: str) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    payload = {"type": "product.created", "data": {"id": "X", "title": "X", "price": 1}}
    url = f"/api/merchants/{merchant.id}/sync/webhook"
    if case == "wrong secret":
        other = "whsec_" + base64.b64encode(b"z" * 32).decode()
        response = _standard(client, merchant, payload, secret=other)
    elif case == "stale":
        response = _standard(client, merchant, payload, at=datetime.now(UTC) - timedelta(minutes=6))
    elif case == "from the future":
        response = _standard(client, merchant, payload, at=datetime.now(UTC) + timedelta(minutes=6))
    else:
        body = json.dumps(payload)
        headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
        if case == "tampered body":
            headers["webhook-signature"] = Webhook(STANDARD_SECRET).sign(
                "msg_1", datetime.now(UTC), body
            )
            body = body.replace('"price": 1', '"price": 0')
        elif case == "malformed signature":
            headers["webhook-signature"] = "v1,not-base64!! v2 v1,"
        response = client.post(url, content=body.encode(), headers=headers)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthenticated" and reason in error["message"]
    assert all_products(client, merchant) == []


def test_shopify_product_webhooks(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, SHOPIFY_SECRET)
    created = _receipt(_shopify(client, merchant, "products/create", IPOD))
    assert created["action"] == "created"
    ipod = by_external_id(all_products(client, merchant))["ipod-nano"]
    assert (ipod["price"], ipod["brand"], ipod["availability"]) == ("199.00", "Apple", "in_stock")
    assert [v["availability"] for v in ipod["variants"]] == ["in_stock", "out_of_stock"]
    # An older update arriving late (Shopify retries out of order) is ignored.
    older = {**IPOD, "title": "Old title", "updated_at": "2026-11-19T10:00:00-05:00"}
    assert _receipt(_shopify(client, merchant, "products/update", older))["status"] == "ignored"
    newer = {**IPOD, "title": "IPod Nano - 16GB", "updated_at": "2026-11-21T10:00:00-05:00"}
    assert _receipt(_shopify(client, merchant, "products/update", newer))["action"] == "updated"
    assert all_products(client, merchant)[0]["title"] == "IPod Nano - 16GB"
    # Shopify's delete carries only the numeric id.
    deleted = _receipt(_shopify(client, merchant, "products/delete", {"id": 632910392}))
    assert deleted["action"] == "deleted" and all_products(client, merchant) == []


def test_shopify_product_turned_draft_is_hidden_from_shoppers(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, SHOPIFY_SECRET)
    _receipt(_shopify(client, merchant, "products/create", IPOD))
    draft = {**IPOD, "status": "draft", "updated_at": "2026-11-22T10:00:00Z"}
    assert _receipt(_shopify(client, merchant, "products/update", draft))["action"] == "updated"
    # Still the merchant's (to publish again), never the shoppers'.
    [product] = all_products(client, merchant)
    assert product["externalId"] == "ipod-nano" and product["visibleToShoppers"] is False
    active = {**draft, "status": "active", "updated_at": "2026-11-23T10:00:00Z"}
    _receipt(_shopify(client, merchant, "products/update", active))
    assert all_products(client, merchant)[0]["visibleToShoppers"] is True


def test_shopify_replay_and_bad_hmac(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, SHOPIFY_SECRET)
    first = _shopify(client, merchant, "products/create", IPOD, webhook_id="wh-1")
    assert _receipt(first)["action"] == "created"
    replay = _shopify(client, merchant, "products/create", IPOD, webhook_id="wh-1")
    assert _receipt(replay)["status"] == "duplicate"
    forged = _shopify(client, merchant, "products/delete", {"id": 632910392}, secret="guess")
    assert forged.status_code == 401 and "X-Shopify-Hmac-Sha256" in forged.text
    assert len(all_products(client, merchant)) == 1
    ignored = _shopify(client, merchant, "orders/create", {"id": 1})
    assert _receipt(ignored)["status"] == "ignored"


def test_invalid_product_is_422_and_can_be_retried_fixed(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    bad = {"type": "product.created", "data": {"sku": "NEG", "title": "Negative", "price": "-1"}}
    response = _standard(client, merchant, bad, event_id="msg_fix_me")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "price"
    fixed = {"type": "product.created", "data": {"sku": "NEG", "title": "Fixed", "price": "1"}}
    assert (
        _receipt(_standard(client, merchant, fixed, event_id="msg_fix_me"))["action"] == "created"
    )


def test_webhooks_are_per_merchant(client: TestClient) -> None:
    victim = _merchant_with_secret(client, STANDARD_SECRET)
    other = _merchant_with_secret(client, "whsec_" + base64.b64encode(b"o" * 32).decode())
    payload = {"type": "product.created", "data": {"id": "V", "title": "V", "price": 1}}
    # Signed with the victim's secret, sent to the other merchant's URL: refused.
    assert _standard(client, other, payload).status_code == 401
    unconfigured = new_merchant(client)
    response = _standard(client, unconfigured, payload)
    assert response.status_code == 401 and "webhookSecret" in response.text
    assert all_products(client, victim) == [] and all_products(client, other) == []


def test_webhook_runs_are_counted(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    labels = {"source": "webhook", "status": "succeeded"}
    before = REGISTRY.get_sample_value("sync_runs_total", labels) or 0.0
    _standard(
        client, merchant, {"type": "product.created", "data": {"id": "M", "title": "M", "price": 1}}
    )
    assert REGISTRY.get_sample_value("sync_runs_total", labels) == before + 1


def test_known_answer_standard_signature() -> None:
    # The Standard Webhooks specification's own test vector.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    event = inbound.verify(secret, headers, body, now=1614265330)
    assert event.id == "msg_p5jXN8AQM9LWM0D4loKWxJek"
    with pytest.raises(inbound.WebhookRejected):
        inbound.verify(secret, headers, body + b" ", now=1614265330)
