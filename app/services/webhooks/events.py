"""The event types merchants subscribe to (DESIGN §10): payload models, schemas and examples.

A payload follows Standard Webhooks: `{"type": ..., "timestamp": ..., "data": {...}}`. Features
emit `data` through the outbox, which validates it here, so what is sent always matches what
`GET /api/webhooks/event-types` and docs/WEBHOOK_INTEGRATION.md promise. Data models allow
extra fields: adding a field is not a breaking change, and receivers are told to ignore
fields they do not know.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


class InvalidEvent(ValueError):
    """An event type that does not exist, or data that does not match its schema (a bug in
    the emitting feature, raised before anything is written)."""


class EventData(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class SyncCounts(EventData):
    created: int = Field(0, ge=0, description="Products added to the catalog.")
    updated: int = Field(0, ge=0, description="Existing products that changed.")
    deleted: int = Field(0, ge=0, description="Products removed (full syncs only).")
    unchanged: int = Field(0, ge=0, description="Rows identical to the stored product.")
    invalid: int = Field(0, ge=0, description="Rows rejected; see the run for the reasons.")


class SyncCompleted(EventData):
    run_id: str = Field(description="The sync run (`run_...`); GET /sync/runs/{runId}.")
    source: str = Field(description="`upload`, `feed` or `webhook`.")
    mode: str | None = Field(None, description="`incremental` or `full`.")
    counts: SyncCounts
    started_at: datetime | None = None
    finished_at: datetime | None = None


class SyncFailed(EventData):
    run_id: str = Field(description="The sync run (`run_...`); GET /sync/runs/{runId}.")
    source: str = Field(description="`upload`, `feed` or `webhook`.")
    mode: str | None = Field(None, description="`incremental` or `full`.")
    error: str = Field(description="Why the run failed; the catalog is unchanged.")
    counts: SyncCounts = Field(default_factory=SyncCounts)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ProductData(EventData):
    id: str = Field(description="Our product id (`prd_...`).")
    external_id: str | None = Field(None, description="The id or SKU in your own platform.")
    title: str | None = None
    price: Decimal | None = Field(None, description='A decimal string, e.g. "19.90".')
    currency: str | None = Field(None, description="ISO 4217, e.g. EUR.")
    url: str | None = None
    image_url: str | None = None
    availability: str | None = Field(None, description="`in_stock`, `out_of_stock`, ...")
    brand: str | None = None
    category: str | None = None


class ProductDeleted(EventData):
    id: str = Field(description="Our product id (`prd_...`).")
    external_id: str | None = Field(None, description="The id or SKU in your own platform.")


class ChatSessionCreated(EventData):
    session_id: str = Field(description="The chat session (`ses_...`).")
    locale: str | None = None
    origin: str | None = Field(None, description="The shop page origin the widget ran on.")
    created_at: datetime | None = None


class WebhookTest(EventData):
    endpoint_id: str = Field(description="The endpoint that was tested (`whe_...`).")
    message: str


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    model: type[EventData]
    example: dict[str, Any]

    def schema(self) -> dict[str, Any]:
        """JSON Schema (2020-12) of the whole payload, self-contained."""
        data = self.model.model_json_schema(mode="serialization")
        definitions = data.pop("$defs", {})
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.name,
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"const": self.name},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": data,
            },
        }
        if definitions:
            schema["$defs"] = definitions
        return schema


_SYNC_COUNTS = {"created": 12, "updated": 240, "deleted": 0, "unchanged": 9748, "invalid": 3}
_SYNC_EXAMPLE: dict[str, Any] = {
    "runId": "run_01JDQ2Z8X4M5N6P7Q8R9S0T1V2",
    "source": "feed",
    "mode": "incremental",
    "counts": _SYNC_COUNTS,
    "startedAt": "2026-11-27T10:00:00Z",
    "finishedAt": "2026-11-27T10:00:42Z",
}
_PRODUCT_EXAMPLE: dict[str, Any] = {
    "id": "prd_01JDQ2Z8X4M5N6P7Q8R9S0T1V2",
    "externalId": "SKU-1042",
    "title": "Trail running shoe",
    "price": "89.90",
    "currency": "EUR",
    "url": "https://shop.example.com/products/trail-running-shoe",
    "imageUrl": "https://shop.example.com/images/trail-running-shoe.jpg",
    "availability": "in_stock",
    "brand": "Acme",
    "category": "Shoes",
}

EVENT_TYPES: dict[str, EventType] = {
    event.name: event
    for event in (
        EventType(
            "sync.completed",
            "A catalog sync run finished and its valid rows were applied, in one transaction. "
            "One event per run, never one per row.",
            SyncCompleted,
            _SYNC_EXAMPLE,
        ),
        EventType(
            "sync.failed",
            "A catalog sync run failed; nothing was applied (runs are all or nothing).",
            SyncFailed,
            {
                **_SYNC_EXAMPLE,
                "error": "41% of rows are invalid (threshold 10%)",
                "counts": {**_SYNC_COUNTS, "invalid": 4100},
            },
        ),
        EventType(
            "product.created",
            "A single product was created (e.g. by an inbound platform webhook).",
            ProductData,
            _PRODUCT_EXAMPLE,
        ),
        EventType(
            "product.updated",
            "A single product changed; `data` is the product as it is now.",
            ProductData,
            {**_PRODUCT_EXAMPLE, "price": "79.90"},
        ),
        EventType(
            "product.deleted",
            "A single product was deleted.",
            ProductDeleted,
            {"id": _PRODUCT_EXAMPLE["id"], "externalId": _PRODUCT_EXAMPLE["externalId"]},
        ),
        EventType(
            "chat.session.created",
            "A shopper opened a chat session in the widget.",
            ChatSessionCreated,
            {
                "sessionId": "ses_01JDQ2Z8X4M5N6P7Q8R9S0T1V2",
                "locale": "en",
                "origin": "https://shop.example.com",
                "createdAt": "2026-11-27T10:00:00Z",
            },
        ),
        EventType(
            "webhook.test",
            "Sent only by POST /api/webhooks/endpoints/{id}/test, to that endpoint.",
            WebhookTest,
            {"endpointId": "whe_01JDQ2Z8X4M5N6P7Q8R9S0T1V2", "message": "Hello from RAG Assistant"},
        ),
    )
}


EventTypeName = Literal[
    "sync.completed",
    "sync.failed",
    "product.created",
    "product.updated",
    "product.deleted",
    "chat.session.created",
    "webhook.test",
]
assert list(get_args(EventTypeName)) == list(EVENT_TYPES), "keep EventTypeName in step"


def event_data(event_type: str, data: dict[str, Any] | EventData) -> dict[str, Any]:
    """`data` validated against its event type and in wire form (camelCase, ISO dates)."""
    event = EVENT_TYPES.get(event_type)
    if event is None:
        raise InvalidEvent(f"unknown webhook event type {event_type!r}")
    try:
        parsed = event.model.model_validate(
            data.model_dump(by_alias=True) if isinstance(data, EventData) else data
        )
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {event_type}: {exc}") from None
    return parsed.model_dump(mode="json", by_alias=True)


def payload_body(event_type: str, data: dict[str, Any], timestamp: datetime) -> str:
    """The body every attempt of the event sends, byte for byte (compact UTF-8 JSON)."""
    stamp = timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(
        {"type": event_type, "timestamp": stamp, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )
