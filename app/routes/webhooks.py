"""Outgoing webhooks (DESIGN §10): endpoints, event types, the delivery log, retries, tests."""

import json
from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from app.db.models import WebhookAttempt, WebhookEndpoint, utcnow
from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel, Page, PageQuery, split_page
from app.http.routing import Call, Endpoint
from app.services.netguard import UnsafeTarget
from app.services.webhooks import attempts as log_service
from app.services.webhooks import endpoints as service
from app.services.webhooks.dispatcher import dispatcher_for
from app.services.webhooks.events import EVENT_TYPES, EventTypeName
from app.services.webhooks.queue import load_deliveries


class EndpointOut(ApiModel):
    id: str
    url: str
    description: str
    event_types: list[str] = Field(description="Subscribed event types; empty means all.")
    enabled: bool
    disabled_reason: Literal["manual", "gone", "failing"] | None = Field(
        description="`manual` (you disabled it), `gone` (it answered 410) or `failing` "
        "(no success for 5 days)."
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(description="First failure since the last success.")
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret signs too (after a rotation)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "EndpointOut":
        return cls.model_validate(endpoint, from_attributes=True)


class EndpointPage(Page[EndpointOut]):
    pass


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="`whsec_...`: shown only in this response; store it now.")


# No whitespace or control characters in a URL; no NUL in stored text (the API refuses it).
_URL = r"^[^\s\x00-\x1f\x7f]+$"
_TEXT = r"^[^\x00]*$"


class _EndpointFields(ApiInput):
    @field_validator("event_types", check_fields=False)
    @classmethod
    def _deduplicated(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else sorted(set(value))


class CreateEndpoint(_EndpointFields):
    url: str = Field(
        min_length=1, max_length=2048, pattern=_URL, description="http(s) URL receiving POSTs."
    )
    description: str = Field("", max_length=500, pattern=_TEXT)
    event_types: list[EventTypeName] = Field(
        default_factory=list,
        max_length=len(EVENT_TYPES),
        description="Event types to receive; empty means all (GET /api/webhooks/event-types).",
    )


class UpdateEndpoint(_EndpointFields):
    url: str | None = Field(None, min_length=1, max_length=2048, pattern=_URL)
    description: str | None = Field(None, max_length=500, pattern=_TEXT)
    event_types: list[EventTypeName] | None = Field(None, max_length=len(EVENT_TYPES))


class EventTypeOut(ApiModel):
    type: str
    description: str
    payload_schema: dict[str, Any] = Field(description="JSON Schema of the whole payload.")
    example: dict[str, Any] = Field(description="An example of `data`.")


class EventTypeList(ApiModel):
    items: list[EventTypeOut]


class DeliveryOut(ApiModel):
    id: str = Field(description="The attempt (`att_...`).")
    event_id: str = Field(description="Sent as `webhook-id`; the same on every attempt.")
    event_type: str
    endpoint_id: str
    attempt: int = Field(description="1 for the first send of this event to this endpoint.")
    trigger: Literal["event", "retry", "manual", "test"]
    status: Literal["pending", "sending", "succeeded", "failed"]
    scheduled_at: datetime
    attempted_at: datetime | None
    response_status: int | None
    latency_ms: float | None
    response_snippet: str | None = Field(description="The first 1 KiB of the response body.")
    error: str | None
    next_attempt_at: datetime | None = Field(
        description="When the automatic retry is due; null if none is scheduled."
    )
    created_at: datetime

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> "DeliveryOut":
        return cls.model_validate(attempt, from_attributes=True)


class DeliveryDetail(DeliveryOut):
    payload: dict[str, Any] = Field(description="The body sent, byte for byte, as JSON.")


class DeliveryPage(Page[DeliveryOut]):
    pass


_ID = r"^[A-Za-z0-9_]+$"


class DeliveryQuery(PageQuery):
    # Query parameters are camelCase on the wire like every other field.
    endpointId: str | None = Field(
        None, max_length=40, pattern=_ID, description="Only this endpoint."
    )
    eventId: str | None = Field(None, max_length=40, pattern=_ID, description="Only this event.")
    eventType: EventTypeName | None = Field(None, description="Only this event type.")
    status: Literal["pending", "sending", "succeeded", "failed"] | None = None


_EVENT_TYPES = EventTypeList(
    items=[
        EventTypeOut(
            type=event.name,
            description=event.description,
            payload_schema=event.schema(),
            example=event.example,
        )
        for event in EVENT_TYPES.values()
    ]
)


def _not_found() -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, "No such webhook endpoint.")


async def _checked_url(call: Call, url: str) -> str:
    try:
        await service.check_endpoint_url(
            url, allow_private=call.platform.settings.allow_private_network_targets
        )
    except UnsafeTarget as exc:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            f"This URL cannot receive webhooks: {exc}.",
            details=[{"field": "url", "in": "body", "message": str(exc)}],
        ) from None
    return url


async def list_webhook_event_types_handler(call: Call) -> EventTypeList:
    return _EVENT_TYPES


async def list_webhook_endpoints_handler(call: Call) -> EndpointPage:
    query: PageQuery = call.query
    async with call.platform.sessions() as session:
        rows = await service.list_endpoints(
            session, call.merchant_id, limit=query.limit + 1, after=query.cursor
        )
    page, next_cursor = split_page(rows, query.limit)
    return EndpointPage(items=[EndpointOut.of(row) for row in page], next_cursor=next_cursor)


async def create_webhook_endpoint_handler(call: Call) -> EndpointWithSecret:
    body: CreateEndpoint = call.body
    url = await _checked_url(call, body.url)
    async with call.platform.sessions() as session:
        try:
            endpoint = await service.create_endpoint(
                session,
                merchant_id=call.merchant_id,
                url=url,
                description=body.description,
                event_types=body.event_types,
            )
        except service.TooManyEndpoints as exc:
            raise ApiError(ErrorCode.CONFLICT, f"{exc}; delete one first.") from None
    return EndpointWithSecret(**EndpointOut.of(endpoint).model_dump(), secret=endpoint.secret)


async def get_webhook_endpoint_handler(call: Call) -> EndpointOut:
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
    if endpoint is None:
        raise _not_found()
    return EndpointOut.of(endpoint)


async def update_webhook_endpoint_handler(call: Call) -> EndpointOut:
    body: UpdateEndpoint = call.body
    url = await _checked_url(call, body.url) if body.url is not None else None
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        await service.update_endpoint(
            session,
            endpoint,
            url=url,
            description=body.description,
            event_types=body.event_types,
        )
    return EndpointOut.of(endpoint)


async def delete_webhook_endpoint_handler(call: Call) -> EndpointOut:
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        gone = EndpointOut.of(endpoint)
        await service.delete_endpoint(session, endpoint)
    return gone


async def enable_webhook_endpoint_handler(call: Call) -> EndpointOut:
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        await service.enable(session, endpoint)
    return EndpointOut.of(endpoint)


async def disable_webhook_endpoint_handler(call: Call) -> EndpointOut:
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        await service.disable(session, endpoint)
    return EndpointOut.of(endpoint)


async def rotate_webhook_secret_handler(call: Call) -> EndpointWithSecret:
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        secret = await service.rotate_secret(session, endpoint)
    return EndpointWithSecret(**EndpointOut.of(endpoint).model_dump(), secret=secret)


async def test_webhook_endpoint_handler(call: Call) -> DeliveryOut:
    dispatcher = dispatcher_for(call.platform)
    claim = dispatcher.new_claim()
    async with call.platform.sessions() as session:
        endpoint = await service.get_endpoint(session, call.merchant_id, call.path["endpointId"])
        if endpoint is None:
            raise _not_found()
        attempt, _ = await log_service.new_test_attempt(
            session,
            endpoint,
            claim=claim,
            lease_seconds=call.platform.settings.webhook_lease_seconds,
        )
        # A test goes out even to a disabled endpoint: it is how you check a fix first.
        (delivery,) = await load_deliveries(session, [attempt.id], claim=claim, now=utcnow())
    await dispatcher.deliver_now(replace(delivery, endpoint_enabled=True))
    async with call.platform.sessions() as session:
        found = await log_service.get_attempt(session, call.merchant_id, attempt.id)
    assert found is not None
    return DeliveryOut.of(found[0])


async def list_webhook_deliveries_handler(call: Call) -> DeliveryPage:
    query: DeliveryQuery = call.query
    async with call.platform.sessions() as session:
        rows = await log_service.list_attempts(
            session,
            call.merchant_id,
            limit=query.limit + 1,
            before=query.cursor,
            endpoint_id=query.endpointId,
            event_id=query.eventId,
            event_type=query.eventType,
            status=query.status,
        )
    page, next_cursor = split_page(rows, query.limit)
    return DeliveryPage(items=[DeliveryOut.of(row) for row in page], next_cursor=next_cursor)


async def get_webhook_delivery_handler(call: Call) -> DeliveryDetail:
    async with call.platform.sessions() as session:
        found = await log_service.get_attempt(session, call.merchant_id, call.path["deliveryId"])
    if found is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such delivery.")
    attempt, event = found
    return DeliveryDetail(**DeliveryOut.of(attempt).model_dump(), payload=json.loads(event.payload))


async def retry_webhook_delivery_handler(call: Call) -> DeliveryOut:
    async with call.platform.sessions() as session:
        found = await log_service.get_attempt(session, call.merchant_id, call.path["deliveryId"])
        if found is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such delivery.")
        try:
            retry = await log_service.retry_attempt(session, found[0])
        except log_service.RetryConflict as exc:
            raise ApiError(ErrorCode.CONFLICT, f"Cannot retry: {exc}.") from None
    return DeliveryOut.of(retry)


_ENDPOINT = "/api/webhooks/endpoints/{endpointId}"
_DELIVERY = "/api/webhooks/deliveries/{deliveryId}"


def _route(method: str, path: str, handler: Any, summary: str, **options: Any) -> Endpoint:
    write = method != "GET"
    return Endpoint(
        method=method,
        path=path,
        handler=handler,
        summary=summary,
        tag="webhooks",
        permission="webhooks:write" if write else "webhooks:read",
        **options,
    )


ROUTES = [
    _route(
        "GET",
        "/api/webhooks/event-types",
        list_webhook_event_types_handler,
        "List the event types with the JSON Schema of their payloads",
        response=EventTypeList,
    ),
    _route(
        "GET",
        "/api/webhooks/endpoints",
        list_webhook_endpoints_handler,
        "List webhook endpoints (never their secrets)",
        query=PageQuery,
        response=EndpointPage,
    ),
    _route(
        "POST",
        "/api/webhooks/endpoints",
        create_webhook_endpoint_handler,
        "Create a webhook endpoint; its signing secret is shown once",
        description="The URL is refused if it resolves to a private, loopback, link-local or "
        "cloud-metadata address; it is checked again before every delivery.",
        body=CreateEndpoint,
        response=EndpointWithSecret,
        status=201,
        errors=(ErrorCode.CONFLICT,),
    ),
    _route(
        "GET",
        _ENDPOINT,
        get_webhook_endpoint_handler,
        "Get a webhook endpoint",
        response=EndpointOut,
    ),
    _route(
        "PATCH",
        _ENDPOINT,
        update_webhook_endpoint_handler,
        "Change a webhook endpoint's URL, description or event types",
        body=UpdateEndpoint,
        response=EndpointOut,
    ),
    _route(
        "DELETE",
        _ENDPOINT,
        delete_webhook_endpoint_handler,
        "Delete a webhook endpoint with its queued deliveries and log",
        response=EndpointOut,
    ),
    _route(
        "POST",
        _ENDPOINT + "/enable",
        enable_webhook_endpoint_handler,
        "Enable a webhook endpoint (new events are delivered again)",
        response=EndpointOut,
    ),
    _route(
        "POST",
        _ENDPOINT + "/disable",
        disable_webhook_endpoint_handler,
        "Disable a webhook endpoint; its queued deliveries are cancelled",
        response=EndpointOut,
    ),
    _route(
        "POST",
        _ENDPOINT + "/rotate-secret",
        rotate_webhook_secret_handler,
        "Rotate the signing secret; the old one keeps signing for 24 h",
        response=EndpointWithSecret,
    ),
    _route(
        "POST",
        _ENDPOINT + "/test",
        test_webhook_endpoint_handler,
        "Send a webhook.test event now and return the attempt",
        description="The result (status, latency, response snippet) is the data of a 200 "
        "response whatever the receiver answered; it is also kept in the delivery log.",
        response=DeliveryOut,
    ),
    _route(
        "GET",
        "/api/webhooks/deliveries",
        list_webhook_deliveries_handler,
        "List delivery attempts, newest first",
        query=DeliveryQuery,
        response=DeliveryPage,
    ),
    _route(
        "GET",
        _DELIVERY,
        get_webhook_delivery_handler,
        "Get a delivery attempt with the payload it sent",
        response=DeliveryDetail,
    ),
    _route(
        "POST",
        _DELIVERY + "/retry",
        retry_webhook_delivery_handler,
        "Send the attempt's event to its endpoint again, now (same webhook-id)",
        response=DeliveryOut,
        status=202,
        errors=(ErrorCode.CONFLICT,),
    ),
]
