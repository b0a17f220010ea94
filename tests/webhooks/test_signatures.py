"""Standard Webhooks signatures: what we send verifies with the reference library; a known
answer pins the algorithm; rotation signs with both secrets for 24 hours."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.testclient import TestClient

from app.db.models import WebhookEndpoint, utcnow
from app.services.webhooks.signing import new_secret, secret_key, sign, signature_header
from tests.conftest import new_merchant
from tests.webhooks.conftest import (
    PRODUCT,
    Receiver,
    create_endpoint,
    drive,
    emit,
    platform_of,
    settled,
)


def test_known_answer_from_the_standard_webhooks_test_suite() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_random_and_32_bytes() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(secret_key(secret)) == 32 for secret in secrets)


@pytest.mark.parametrize("bad", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_YWJj"])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        secret_key(bad)


def test_rotation_header_carries_one_signature_per_secret() -> None:
    old, new = new_secret(), new_secret()
    header = signature_header([new, old], "evt_1", 1700000000, b"{}")
    assert header.split(" ") == [
        sign(new, "evt_1", 1700000000, b"{}"),
        sign(old, "evt_1", 1700000000, b"{}"),
    ]


def test_deliveries_verify_with_the_reference_library(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    event_id = emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    (received,) = receiver.requests
    assert received.headers["webhook-id"] == event_id
    assert received.headers["content-type"] == "application/json"
    assert received.headers["webhook-signature"].startswith("v1,")
    payload = Webhook(endpoint["secret"]).verify(received.body, received.headers)
    assert payload["type"] == "product.created"
    assert payload["data"]["title"] == PRODUCT["title"]  # non-ASCII, signed as UTF-8 bytes
    # Tampering with anything signed breaks the signature.
    for body, headers in [
        (received.body.replace(b"trail", b"trial"), received.headers),
        (received.body, {**received.headers, "webhook-id": "evt_other"}),
        (
            received.body,
            {
                **received.headers,
                "webhook-timestamp": str(int(received.headers["webhook-timestamp"]) + 1),
            },
        ),
    ]:
        with pytest.raises(WebhookVerificationError):
            Webhook(endpoint["secret"]).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(received.body, received.headers)


def test_rotated_secret_signs_alongside_the_old_one_for_24_hours(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    old = endpoint["secret"]
    rotated = client.post(
        f"/api/webhooks/endpoints/{endpoint['id']}/rotate-secret", headers=owner.auth
    )
    assert rotated.status_code == 200
    new = rotated.json()["data"]["secret"]
    assert new != old and new.startswith("whsec_")
    grace = rotated.json()["data"]["previousSecretExpiresAt"]
    assert grace is not None
    assert (
        new not in client.get(f"/api/webhooks/endpoints/{endpoint['id']}", headers=owner.auth).text
    )

    emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    (during,) = receiver.requests
    signatures = during.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    # Each signature verifies with its own secret, whichever one the receiver holds.
    for secret in (old, new):
        Webhook(secret).verify(during.body, during.headers)
    for signature, secret in zip(signatures, (new, old), strict=True):
        Webhook(secret).verify(during.body, {**during.headers, "webhook-signature": signature})

    # After the grace period only the new secret signs.
    sessions = platform_of(client).sessions

    async def expire() -> None:
        async with sessions() as session:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint["id"])
                .values(previous_secret_expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()

    client.portal.call(expire)  # type: ignore[union-attr]
    emit(client, owner.id, "product.updated", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
