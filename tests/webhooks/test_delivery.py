"""Delivery: the transactional outbox, filters, the retry schedule, 410, Retry-After, timeouts,
redirects, disabling failing endpoints, manual retries, tests, the log and the SSRF guard at
send time — all against real HTTP receivers on loopback."""

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from app.db.models import WebhookEvent, utcnow
from app.logs import request_id_var
from app.main import create_app
from app.services.webhooks import InvalidEvent, emit_event
from app.services.webhooks.dispatcher import close_dispatcher
from app.services.webhooks.retention import prune_webhook_log
from tests.conftest import Backend, make_settings, new_merchant
from tests.metrics import sample
from tests.webhooks.conftest import (
    PRODUCT,
    SCHEDULE,
    WEBHOOK_ENV,
    Received,
    Receiver,
    Reply,
    attempts,
    create_endpoint,
    drive,
    emit,
    platform_of,
    run_job,
    settled,
)

DELAYS = [float(delay) for delay in SCHEDULE.split(",")]


def _fail_first(count: int, reply: Reply, then: Reply | None = None) -> Any:
    """A receiver behaviour: `reply` for the first `count` requests, then success."""
    seen: list[int] = []

    def respond(received: Received) -> Reply:
        seen.append(1)
        return reply if len(seen) <= count else (then or Reply(204))

    return respond


def _endpoint(client: TestClient, endpoint_id: str, auth: dict[str, str]) -> dict:
    return client.get(f"/api/webhooks/endpoints/{endpoint_id}", headers=auth).json()["data"]


def test_an_event_is_queued_only_if_its_transaction_commits(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    sessions = platform_of(client).sessions

    async def roll_back() -> None:
        async with sessions() as session:
            await emit_event(
                session, merchant_id=owner.id, event_type="product.created", data=PRODUCT
            )
            await session.rollback()

    client.portal.call(roll_back)  # type: ignore[union-attr]
    assert attempts(client, merchant_id=owner.id) == []
    emit(client, owner.id, "product.created", PRODUCT)
    (queued,) = attempts(client, merchant_id=owner.id)
    assert queued.status == "pending" and queued.attempt == 1


def test_events_with_bad_data_or_unknown_types_are_refused_before_anything_is_written(
    client: TestClient,
) -> None:
    owner = new_merchant(client)
    for event_type, data in [
        ("order.created", {}),
        ("product.created", {"title": "no id"}),
        ("sync.completed", {"runId": "run_1", "source": "feed", "counts": {"created": -1}}),
        ("webhook.test", {"endpointId": "whe_1", "message": "only via the test route"}),
    ]:
        with pytest.raises(InvalidEvent):
            emit(client, owner.id, event_type, data)


def test_endpoints_receive_only_the_event_types_they_subscribed_to(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    other = Receiver()
    other.up()
    try:
        sync_only = create_endpoint(
            client, owner, other.url, eventTypes=["sync.completed", "sync.failed"]
        )
        everything = create_endpoint(client, owner, receiver.url)
        emit(client, owner.id, "product.created", PRODUCT)
        emit(
            client,
            owner.id,
            "sync.completed",
            {"runId": "run_1", "source": "upload", "counts": {"created": 3}},
        )
        drive(client, lambda: settled(client, owner.id))
        assert sorted(r.json["type"] for r in receiver.requests) == [
            "product.created",
            "sync.completed",
        ]
        assert [r.json["type"] for r in other.requests] == ["sync.completed"]
        assert other.requests[0].json["data"]["counts"] == {
            "created": 3,
            "updated": 0,
            "deleted": 0,
            "unchanged": 0,
            "invalid": 0,
        }
        logged = {a.endpoint_id for a in attempts(client, merchant_id=owner.id)}
        assert logged == {sync_only["id"], everything["id"]}
    finally:
        other.down()


def test_failures_are_retried_with_the_same_webhook_id_and_a_fresh_timestamp(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.respond = _fail_first(2, Reply(500, body=b"database is down"))
    event_id = emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))

    first, second, third = receiver.requests
    assert {first.id, second.id, third.id} == {event_id}
    assert first.body == second.body == third.body
    # Each attempt is signed at its own send time, so a receiver's 5-minute tolerance holds
    # even for a retry hours later.
    assert int(first.headers["webhook-timestamp"]) <= int(third.headers["webhook-timestamp"])
    # Jitter is ±20% around the schedule.
    assert second.at - first.at >= DELAYS[0] * 0.8
    assert third.at - second.at >= DELAYS[1] * 0.8

    log = client.get(
        "/api/webhooks/deliveries", headers=owner.auth, params={"eventId": event_id}
    ).json()["data"]["items"]
    assert [(d["attempt"], d["trigger"], d["status"]) for d in log] == [
        (3, "retry", "succeeded"),
        (2, "retry", "failed"),
        (1, "event", "failed"),
    ]
    failed = log[-1]
    assert failed["responseStatus"] == 500 and failed["error"] == "HTTP 500"
    assert failed["responseSnippet"] == "database is down"
    assert failed["latencyMs"] > 0 and failed["nextAttemptAt"] is not None
    assert log[0]["nextAttemptAt"] is None


def test_a_dead_endpoint_is_given_up_after_the_schedule(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.respond = lambda received: Reply(500)
    event_id = emit(client, owner.id, "product.created", PRODUCT)
    started = time.monotonic()
    drive(client, lambda: settled(client, owner.id))
    assert time.monotonic() - started < sum(DELAYS) * 1.2 + 2
    assert receiver.ids() == [event_id] * (1 + len(DELAYS))
    final = attempts(client, merchant_id=owner.id)[-1]
    assert final.status == "failed" and final.next_attempt_at is None


def test_a_receiver_that_is_down_for_a_while_gets_every_event_within_the_schedule(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.down()
    emitted = [
        emit(client, owner.id, "product.updated", {**PRODUCT, "price": f"{i}.00"})
        for i in range(20)
    ]
    started = time.monotonic()
    deadline = started + sum(DELAYS) * 1.2 + 1.5
    while time.monotonic() - started < 1.0:  # down for a second: two failed rounds
        if run_job(client) == 0:
            time.sleep(0.05)
    assert receiver.requests == []
    receiver.up()
    drive(client, lambda: settled(client, owner.id), timeout=deadline - time.monotonic())
    assert time.monotonic() <= deadline
    assert sorted(receiver.ids()) == sorted(emitted)
    succeeded = [a for a in attempts(client, merchant_id=owner.id) if a.status == "succeeded"]
    assert sorted(a.event_id for a in succeeded) == sorted(emitted)
    assert all(a.attempt >= 2 for a in succeeded)


def test_redirects_are_not_followed_and_count_as_failures(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    target = Receiver()
    target.up()
    try:
        create_endpoint(client, owner, receiver.url)
        receiver.respond = _fail_first(1, Reply(307, headers={"location": target.url}))
        emit(client, owner.id, "product.created", PRODUCT)
        drive(client, lambda: settled(client, owner.id))
        assert target.requests == []
        first, retry = attempts(client, merchant_id=owner.id)
        assert first.status == "failed" and first.response_status == 307
        assert "redirects are not followed" in (first.error or "")
        assert retry.status == "succeeded"
    finally:
        target.down()


def test_410_gone_disables_the_endpoint_and_cancels_its_queue(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    receiver.respond = lambda received: Reply(410)
    emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    state = _endpoint(client, endpoint["id"], owner.auth)
    assert state["enabled"] is False and state["disabledReason"] == "gone"
    (only,) = attempts(client, merchant_id=owner.id)
    assert only.response_status == 410 and only.next_attempt_at is None
    emit(client, owner.id, "product.updated", PRODUCT)  # not queued for a disabled endpoint
    assert len(attempts(client, merchant_id=owner.id)) == 1
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(client: TestClient, receiver: Receiver, status: int) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.respond = _fail_first(1, Reply(status, headers={"retry-after": "2"}))
    emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    first, second = receiver.requests
    # The schedule alone would retry after ~0.3 s.
    assert second.at - first.at >= 2.0
    failed = attempts(client, merchant_id=owner.id)[0]
    assert failed.response_status == status


def test_a_slow_receiver_times_out_and_is_retried(client: TestClient, receiver: Receiver) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.respond = _fail_first(1, Reply(200, delay=3.0))  # WEBHOOK_TIMEOUT_SECONDS=2
    emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    first, second = attempts(client, merchant_id=owner.id)
    assert first.status == "failed" and first.error == "timed out after 2 s"
    assert 1900 <= (first.latency_ms or 0) < 2600
    assert second.status == "succeeded"


def test_an_endpoint_failing_for_too_long_is_disabled_and_success_resets_the_clock(
    backend: Backend, receiver: Receiver
) -> None:
    settings = make_settings(
        backend,
        **{**WEBHOOK_ENV, "WEBHOOK_DISABLE_AFTER_SECONDS": "0.2", "WEBHOOK_RETRY_SCHEDULE": "0.4"},
    )
    with TestClient(create_app(settings)) as client:
        owner = new_merchant(client)
        endpoint = create_endpoint(client, owner, receiver.url)
        # One failure then a success: the failure clock starts, then stops.
        receiver.respond = _fail_first(1, Reply(500))
        emit(client, owner.id, "product.created", PRODUCT)
        drive(client, lambda: settled(client, owner.id))
        state = _endpoint(client, endpoint["id"], owner.auth)
        assert state["enabled"] is True and state["failingSince"] is None

        receiver.respond = lambda received: Reply(500)
        emit(client, owner.id, "product.updated", PRODUCT)
        drive(client, lambda: settled(client, owner.id))
        state = _endpoint(client, endpoint["id"], owner.auth)
        assert state["enabled"] is False and state["disabledReason"] == "failing"
        assert state["failingSince"] is not None
        client.portal.call(close_dispatcher, platform_of(client))  # type: ignore[union-attr]


def test_manual_retry_resends_the_same_event_once(client: TestClient, receiver: Receiver) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    event_id = emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    (delivered,) = client.get("/api/webhooks/deliveries", headers=owner.auth).json()["data"][
        "items"
    ]

    response = client.post(f"/api/webhooks/deliveries/{delivered['id']}/retry", headers=owner.auth)
    assert response.status_code == 202
    retry = response.json()["data"]
    assert retry["status"] == "pending" and retry["trigger"] == "manual"
    assert retry["attempt"] == 2 and retry["eventId"] == event_id
    again = client.post(f"/api/webhooks/deliveries/{delivered['id']}/retry", headers=owner.auth)
    assert again.status_code == 409 and retry["id"] in again.json()["error"]["message"]

    drive(client, lambda: settled(client, owner.id))
    assert receiver.ids() == [event_id, event_id]
    assert receiver.requests[0].body == receiver.requests[1].body

    # A one-off: a failing manual retry is not put back on the schedule.
    receiver.respond = lambda received: Reply(500)
    client.post(f"/api/webhooks/deliveries/{delivered['id']}/retry", headers=owner.auth)
    drive(client, lambda: settled(client, owner.id))
    last = attempts(client, merchant_id=owner.id)[-1]
    assert last.trigger == "manual" and last.status == "failed" and last.next_attempt_at is None

    client.post(f"/api/webhooks/endpoints/{endpoint['id']}/disable", headers=owner.auth)
    refused = client.post(f"/api/webhooks/deliveries/{delivered['id']}/retry", headers=owner.auth)
    assert refused.status_code == 409 and "disabled" in refused.json()["error"]["message"]


def test_the_test_route_sends_now_and_returns_status_latency_and_snippet(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    receiver.respond = lambda received: Reply(200, body=b"pong " * 400)
    response = client.post(
        f"/api/webhooks/endpoints/{endpoint['id']}/test",
        headers={**owner.auth, "X-Request-Id": "req-test-123"},
    )
    assert response.status_code == 200
    result = response.json()["data"]
    assert result["status"] == "succeeded" and result["responseStatus"] == 200
    assert result["trigger"] == "test" and result["eventType"] == "webhook.test"
    assert result["latencyMs"] > 0
    assert result["responseSnippet"] == ("pong " * 400)[:1024]
    (received,) = receiver.requests
    assert received.json["data"]["endpointId"] == endpoint["id"]
    assert received.headers["x-request-id"] == "req-test-123"

    receiver.respond = lambda received: Reply(500, body=b"boom")
    failed = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/test", headers=owner.auth)
    result = failed.json()["data"]
    assert failed.status_code == 200
    assert result["status"] == "failed" and result["responseStatus"] == 500
    assert result["responseSnippet"] == "boom" and result["nextAttemptAt"] is None
    # Tests are diagnostics: no retries, no effect on the endpoint's health.
    assert _endpoint(client, endpoint["id"], owner.auth)["failingSince"] is None
    assert run_job(client) == 0

    receiver.down()
    unreachable = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/test", headers=owner.auth)
    result = unreachable.json()["data"]
    assert result["status"] == "failed" and result["responseStatus"] is None
    assert result["error"].startswith("could not connect")


def test_a_failed_test_send_is_logged_as_info_not_as_an_incident(
    client: TestClient, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    owner = new_merchant(client)
    endpoint = create_endpoint(client, owner, receiver.url)
    receiver.respond = lambda received: Reply(500, body=b"boom")

    with caplog.at_level(logging.INFO, logger="app.services.webhooks.dispatcher"):
        client.post(f"/api/webhooks/endpoints/{endpoint['id']}/test", headers=owner.auth)

    (record,) = [r for r in caplog.records if r.getMessage() == "webhook delivery failed"]
    # WebhookFailureRate does not count test sends, so its runbook's warnings leave them out.
    assert record.levelno == logging.INFO
    assert (record.merchantId, record.endpointId) == (owner.id, endpoint["id"])
    assert (record.eventType, record.attempt, record.status) == ("webhook.test", 1, 500)


def test_the_delivery_log_filters_and_pages_newest_first(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    first = create_endpoint(client, owner, receiver.url)
    second = create_endpoint(client, owner, receiver.url, eventTypes=["product.deleted"])
    created = emit(client, owner.id, "product.created", PRODUCT)
    deleted = emit(client, owner.id, "product.deleted", {"id": PRODUCT["id"]})
    receiver.respond = lambda received: Reply(
        500 if received.json["type"] == "product.deleted" else 204
    )
    drive(client, lambda: len(receiver.requests) >= 3)

    def ids(**params: str) -> list[str]:
        response = client.get("/api/webhooks/deliveries", headers=owner.auth, params=params)
        assert response.status_code == 200, response.text
        return [
            (d["endpointId"], d["eventId"], d["status"]) for d in response.json()["data"]["items"]
        ]

    assert set(ids(endpointId=second["id"])) <= {
        (second["id"], deleted, s) for s in ("failed", "pending", "sending")
    }
    assert ids(eventId=created) == [(first["id"], created, "succeeded")]
    assert ids(eventType="product.created", status="succeeded") == [
        (first["id"], created, "succeeded")
    ]
    assert all(status == "failed" for _, _, status in ids(status="failed"))

    everything = ids(limit="100")
    paged, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/webhooks/deliveries", headers=owner.auth, params=params).json()
        paged += [(d["endpointId"], d["eventId"], d["status"]) for d in page["data"]["items"]]
        cursor = page["data"]["nextCursor"]
        if cursor is None:
            break
    assert paged == everything
    newest = client.get("/api/webhooks/deliveries", headers=owner.auth).json()["data"]["items"]
    assert [d["id"] for d in newest] == sorted((d["id"] for d in newest), reverse=True)

    detail = client.get(f"/api/webhooks/deliveries/{newest[-1]['id']}", headers=owner.auth)
    assert detail.status_code == 200
    assert detail.json()["data"]["payload"]["type"] in {"product.created", "product.deleted"}
    bad = client.get("/api/webhooks/deliveries", headers=owner.auth, params={"status": "lost"})
    assert bad.status_code == 422


def test_the_ssrf_guard_runs_again_at_send_time(backend: Backend, receiver: Receiver) -> None:
    # Created while loopback was allowed (as if DNS pointed elsewhere then); delivered by a
    # worker that refuses private targets.
    with TestClient(create_app(make_settings(backend, **WEBHOOK_ENV))) as lenient:
        owner = new_merchant(lenient)
        create_endpoint(lenient, owner, receiver.url)
        emit(lenient, owner.id, "product.created", PRODUCT)
    strict_env = {**WEBHOOK_ENV, "ALLOW_PRIVATE_NETWORK_TARGETS": "false"}
    with TestClient(create_app(make_settings(backend, **strict_env))) as strict:
        drive(strict, lambda: attempts(strict, merchant_id=owner.id)[0].status == "failed")
        refused = attempts(strict, merchant_id=owner.id)[0]
        assert "SSRF guard" in (refused.error or "") and "loopback" in (refused.error or "")
        assert refused.response_status is None
        assert receiver.requests == []
        strict.portal.call(close_dispatcher, platform_of(strict))  # type: ignore[union-attr]


def test_the_request_id_of_the_causing_request_travels_with_the_event(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    sessions = platform_of(client).sessions

    async def emit_during_a_request() -> None:
        token = request_id_var.set("req_CAUSE")
        try:
            async with sessions() as session:
                await emit_event(
                    session, merchant_id=owner.id, event_type="product.created", data=PRODUCT
                )
                await session.commit()
        finally:
            request_id_var.reset(token)

    client.portal.call(emit_during_a_request)  # type: ignore[union-attr]
    drive(client, lambda: settled(client, owner.id))
    assert receiver.requests[0].headers["x-request-id"] == "req_CAUSE"


def test_deliveries_are_counted_in_the_metric(client: TestClient, receiver: Receiver) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    delivered = sample("webhook_deliveries_total", status="delivered")
    failed = sample("webhook_deliveries_total", status="failed")
    receiver.respond = _fail_first(1, Reply(502))
    emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    assert sample("webhook_deliveries_total", status="delivered") == delivered + 1
    assert sample("webhook_deliveries_total", status="failed") == failed + 1
    exposition = client.get("/metrics").text
    assert 'webhook_deliveries_total{status="delivered"}' in exposition


def test_events_older_than_the_retention_go_with_their_log_unless_still_queued(
    client: TestClient, receiver: Receiver
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    delivered = emit(client, owner.id, "product.created", PRODUCT)
    drive(client, lambda: settled(client, owner.id))
    receiver.down()
    queued = emit(client, owner.id, "product.updated", PRODUCT)
    fresh = emit(client, owner.id, "product.deleted", {"id": PRODUCT["id"]})
    platform = platform_of(client)
    old = utcnow() - timedelta(days=platform.settings.webhook_retention_days, minutes=1)

    async def age_and_prune() -> int:
        async with platform.sessions() as session:
            await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_([delivered, queued]))
                .values(created_at=old)
            )
            await session.commit()
        return await prune_webhook_log(platform)

    assert client.portal.call(age_and_prune) >= 1  # type: ignore[union-attr]
    remaining = {a.event_id for a in attempts(client, merchant_id=owner.id)}
    assert delivered not in remaining
    assert {queued, fresh} <= remaining  # still queued, or young
