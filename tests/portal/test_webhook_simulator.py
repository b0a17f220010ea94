"""The webhook simulator: a sample for every event type, edits held to the schema, and a real
signed send to a loopback receiver whose request and response are shown exactly."""

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from app.db.models import WebhookEndpoint
from app.ids import new_id
from app.services.webhooks.events import EVENT_TYPES
from app.services.webhooks.signing import new_secret
from app.services.webhooks.simulator import (
    InvalidPayload,
    Simulation,
    parse_payload,
    sample_payload,
    simulate,
)
from tests.webhooks.conftest import Receiver, Reply

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.up()
    yield receiver
    receiver.down()


def endpoint_for(url: str) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=new_id("whe"), merchant_id=new_id("mer"), url=url, event_types=[], secret=new_secret()
    )


def send(endpoint: WebhookEndpoint, text: str, *, allow_private: bool = True) -> Simulation:
    payload = parse_payload(json.loads(text)["type"], text)
    return asyncio.run(simulate(endpoint, payload, deadline=2.0, allow_private=allow_private))


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_every_event_type_has_a_sample_that_its_schema_accepts(event_type: str) -> None:
    text = sample_payload(event_type, now=NOW, endpoint_id="whe_mine")
    sample = json.loads(text)
    assert sample["type"] == event_type
    assert sample["timestamp"] == "2026-11-27T10:00:00.000Z"
    assert sample["data"] == EVENT_TYPES[event_type].example | (
        {"endpointId": "whe_mine"} if event_type == "webhook.test" else {}
    )
    assert parse_payload(event_type, text).data == sample["data"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("{", "not valid JSON: Expecting property name enclosed in double quotes (line 1"),
        ("[]", "the payload is a JSON object"),
        ('{"type": "sync.failed", "timestamp": "2026-11-27T10:00:00Z"}', "data: required"),
        (
            '{"type": "sync.completed", "timestamp": "2026-11-27T10:00:00Z", "data": {}}',
            "type: must be 'sync.failed'",
        ),
        (
            '{"type": "sync.failed", "timestamp": "yesterday", "data": {}}',
            "timestamp: must be an ISO 8601 date-time",
        ),
        (
            '{"type": "sync.failed", "timestamp": "2026-11-27T10:00:00Z", "data": '
            '{"runId": "run_1", "source": "feed"}}',
            "data.error: Field required",
        ),
        (
            '{"type": "sync.failed", "timestamp": "2026-11-27T10:00:00Z", "data": {"runId": '
            '"run_1", "source": "feed", "error": "x", "counts": {"created": -1}}}',
            "data.counts.created: Input should be greater than or equal to 0",
        ),
        (
            '{"type": "sync.failed", "timestamp": "2026-11-27T10:00:00Z", "data": [], "id": 1}',
            "id: not part of the payload",
        ),
    ],
)
def test_an_edit_outside_the_schema_is_refused_with_the_field_named(
    edit: str, message: str
) -> None:
    with pytest.raises(InvalidPayload) as refused:
        parse_payload("sync.failed", edit)
    assert message in str(refused.value)


def test_a_simulated_sync_failed_reaches_a_receiver_that_verifies_it(
    receiver: Receiver,
) -> None:
    receiver.respond = lambda received: Reply(
        200, {"x-receiver": "shop-backend"}, b'{"ok": true, "note": "' + b"x" * 3000 + b'"}'
    )
    endpoint = endpoint_for(receiver.url)
    edited = json.loads(sample_payload("sync.failed", now=NOW))
    edited["data"]["error"] = "the feed returned HTTP 404"
    result = send(endpoint, json.dumps(edited))

    (received,) = receiver.wait_for(1)
    # What the receiver got verifies with the Standard Webhooks library and the endpoint secret.
    verified = Webhook(endpoint.secret).verify(received.body, received.headers)
    assert verified["type"] == "sync.failed"
    assert verified["data"]["error"] == "the feed returned HTTP 404"
    assert verified["timestamp"] == "2026-11-27T10:00:00.000Z"
    # The page shows exactly that request: every header the receiver saw, and the body.
    assert result.succeeded and result.error is None
    assert result.request is not None
    assert result.request.method == "POST" and result.request.url == receiver.url
    shown = dict(result.request.headers)
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type"):
        assert shown[name] == received.headers[name]
    assert shown["user-agent"].startswith("RAGAssistant-Webhooks/")
    assert result.request.body.encode() == received.body
    # ... and the response: status, headers and the first KB of the body.
    assert result.response is not None and result.response.status == 200
    assert dict(result.response.headers)["x-receiver"] == "shop-backend"
    assert result.response.body_excerpt.startswith('{"ok": true')
    assert len(result.response.body_excerpt) == 1024
    assert result.latency_ms is not None and result.latency_ms > 0


def test_an_error_answer_is_shown_as_a_failure_with_its_status(receiver: Receiver) -> None:
    receiver.respond = lambda received: Reply(500, {}, b"database is down")
    result = send(endpoint_for(receiver.url), sample_payload("product.deleted", now=NOW))
    assert not result.succeeded
    assert result.error == "HTTP 500"
    assert result.response is not None and result.response.status == 500
    assert result.response.body_excerpt == "database is down"


def test_a_private_address_is_refused_by_the_ssrf_guard_before_anything_is_sent(
    receiver: Receiver,
) -> None:
    result = send(
        endpoint_for(receiver.url), sample_payload("sync.failed", now=NOW), allow_private=False
    )
    assert not result.succeeded
    assert result.error is not None and "refused by the SSRF guard" in result.error
    assert result.request is None and result.response is None
    assert receiver.requests == []


def test_an_unreachable_endpoint_is_explained(receiver: Receiver) -> None:
    url = receiver.url
    receiver.down()
    result = send(endpoint_for(url), sample_payload("sync.failed", now=NOW))
    assert not result.succeeded
    assert result.error is not None and result.error.startswith("could not connect")
    assert result.response is None
