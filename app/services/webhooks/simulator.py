"""The webhook simulator: send any event type, as edited by the merchant, to one endpoint now,
and show exactly what went over the wire (seed Tasks 2.3, 4.4; the portal's webhooks page).

The sample payload is the event type's documented example (validated by its schema) with the
current time; the merchant may edit it, and it is validated again by the same models the outbox
uses, so a simulated event is one a real receiver could get. It is signed with the endpoint's
secrets and sent by the delivery sender through the SSRF guard, like any attempt; httpx's event
hooks record the request as sent (every header, the signature included) and the response as
received. A simulation is not an event: nothing is stored, nothing retried, and the delivery
log stays the record of real traffic.
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError

from app.db.models import WebhookEndpoint, utcnow
from app.ids import new_id
from app.services.webhooks.endpoints import signing_secrets
from app.services.webhooks.events import EVENT_TYPES, event_data, payload_body
from app.services.webhooks.sender import USER_AGENT, Delivery, send

__all__ = [
    "CapturedRequest",
    "CapturedResponse",
    "InvalidPayload",
    "Payload",
    "Simulation",
    "parse_payload",
    "sample_payload",
    "simulate",
]

_FIELDS = {"type", "timestamp", "data"}
_MAX_ERRORS = 5  # a payload with many mistakes: the first few are enough to start fixing


class InvalidPayload(ValueError):
    """The edited payload does not match the event type's schema; the message says where."""


@dataclass(frozen=True, slots=True)
class Payload:
    event_type: str
    timestamp: datetime
    data: dict[str, Any]  # in wire form (camelCase), as the outbox stores it


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str


@dataclass(frozen=True, slots=True)
class CapturedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body_excerpt: str  # the first KB, as the delivery log keeps it


@dataclass(frozen=True, slots=True)
class Simulation:
    succeeded: bool
    request: CapturedRequest | None  # None: refused before anything went out
    response: CapturedResponse | None  # None: no answer (refused, unreachable, timed out)
    latency_ms: float | None
    error: str | None


def sample_payload(event_type: str, *, now: datetime, endpoint_id: str | None = None) -> str:
    """The example of `event_type`, stamped now, as indented JSON to edit."""
    event = EVENT_TYPES.get(event_type)
    if event is None:
        raise InvalidPayload(f"unknown event type {event_type!r}")
    data = dict(event.example)
    if endpoint_id is not None and "endpointId" in data:
        data["endpointId"] = endpoint_id  # the one place an example names the receiver
    body = {"type": event_type, "timestamp": _stamp(now), "data": event_data(event_type, data)}
    return json.dumps(body, indent=2, ensure_ascii=False)


def parse_payload(event_type: str, text: str) -> Payload:
    """The payload as edited, or InvalidPayload naming each field that breaks the schema."""
    event = EVENT_TYPES.get(event_type)
    if event is None:
        raise InvalidPayload(f"unknown event type {event_type!r}")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidPayload(
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(body, dict):
        raise InvalidPayload('the payload is a JSON object: {"type", "timestamp", "data"}')
    problems = [f"{name}: not part of the payload" for name in sorted(set(body) - _FIELDS)]
    problems += [f"{name}: required" for name in sorted(_FIELDS - set(body))]
    if "type" in body and body["type"] != event_type:
        problems.append(f"type: must be {event_type!r} (pick another event type to send it)")
    timestamp = _timestamp(body.get("timestamp"), problems)
    data = body.get("data")
    if "data" in body and not isinstance(data, dict):
        problems.append("data: must be an object")
    elif isinstance(data, dict):
        try:
            event.model.model_validate(data)
        except ValidationError as exc:
            problems += [
                "data." + ".".join(str(p) for p in error["loc"]) + f": {error['msg']}"
                for error in exc.errors()
            ]
    if problems:
        more = len(problems) - _MAX_ERRORS
        shown = problems[:_MAX_ERRORS] + ([f"and {more} more"] if more > 0 else [])
        raise InvalidPayload("; ".join(shown))
    assert timestamp is not None and isinstance(data, dict)
    return Payload(event_type, timestamp, event_data(event_type, data))


def _timestamp(value: object, problems: list[str]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        problems.append("timestamp: must be an ISO 8601 date-time, e.g. 2026-11-27T10:00:00Z")
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def simulate(
    endpoint: WebhookEndpoint, payload: Payload, *, deadline: float, allow_private: bool
) -> Simulation:
    """Sign and send `payload` to `endpoint` once, even when the endpoint is disabled (as the
    API's test route does: it is how a fix is checked before enabling it)."""
    now = utcnow()
    delivery = Delivery(
        attempt_id="simulation",
        claim="simulation",
        merchant_id=endpoint.merchant_id,
        event_id=new_id("evt"),
        event_type=payload.event_type,
        endpoint_id=endpoint.id,
        attempt=1,
        trigger="test",
        url=endpoint.url,
        secrets=signing_secrets(
            endpoint.secret, endpoint.previous_secret, endpoint.previous_secret_expires_at, now
        ),
        payload=payload_body(payload.event_type, payload.data, payload.timestamp),
        request_id=None,
        endpoint_enabled=True,
    )
    sent: list[CapturedRequest] = []
    answered: list[httpx.Response] = []

    async def on_request(request: httpx.Request) -> None:
        sent.append(
            CapturedRequest(
                method=request.method,
                url=str(request.url),
                headers=tuple(request.headers.items()),
                body=request.content.decode(),
            )
        )

    async def on_response(response: httpx.Response) -> None:
        answered.append(response)

    async with httpx.AsyncClient(
        timeout=deadline,
        headers={"user-agent": USER_AGENT},
        trust_env=False,
        event_hooks={"request": [on_request], "response": [on_response]},
    ) as client:
        outcome = await send(
            client,
            delivery,
            deadline=deadline,
            allow_private=allow_private,
            gate=asyncio.Semaphore(),
        )
    response = None
    if answered and outcome.response_status is not None:
        response = CapturedResponse(
            status=answered[-1].status_code,
            headers=tuple(answered[-1].headers.items()),
            body_excerpt=outcome.snippet or "",
        )
    return Simulation(
        succeeded=outcome.succeeded,
        request=sent[-1] if sent else None,
        response=response,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
    )
