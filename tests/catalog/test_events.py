"""Catalog changes reach merchants as outgoing webhook events, written in the same transaction
as the change: one `sync.completed`/`sync.failed` per run, `product.*` per single change."""

import json
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from app.db.models import WebhookEvent
from tests.catalog.conftest import csv_catalog, db, upload
from tests.catalog.test_inbound_webhooks import STANDARD_SECRET, _merchant_with_secret, _standard
from tests.conftest import MerchantKeys, new_merchant


def _events(client: TestClient, merchant: MerchantKeys) -> list[tuple[str, dict[str, Any]]]:
    async def read(session: Any) -> list[tuple[str, str]]:
        rows = await session.execute(
            select(WebhookEvent.type, WebhookEvent.payload)
            .where(WebhookEvent.merchant_id == merchant.id)
            .order_by(WebhookEvent.id)
        )
        return list(rows.all())

    return [(kind, json.loads(payload)["data"]) for kind, payload in db(client, read)]


def test_a_successful_upload_emits_one_sync_completed_with_the_counts(client: TestClient) -> None:
    merchant = new_merchant(client)
    run = upload(client, merchant, csv_catalog(25))
    events = _events(client, merchant)
    assert [kind for kind, _ in events] == ["sync.completed"]  # one per run, never per row
    data = events[0][1]
    assert data["runId"] == run["id"] and data["source"] == "upload"
    assert data["counts"]["created"] == 25 and data["counts"]["invalid"] == 0
    assert data["finishedAt"]


def test_a_failed_run_emits_sync_failed_with_the_reason(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(10))
    run = upload(client, merchant, csv_catalog(1), mode="full")  # would delete 90%: refused
    assert run["status"] == "failed"
    kinds = [kind for kind, _ in _events(client, merchant)]
    assert kinds == ["sync.completed", "sync.failed"]
    failed = _events(client, merchant)[1][1]
    assert failed["runId"] == run["id"] and failed["error"]


def test_single_product_changes_emit_product_events(client: TestClient) -> None:
    merchant = _merchant_with_secret(client, STANDARD_SECRET)
    product = {"sku": "EV-1", "title": "Event Lamp", "price": "30.00"}
    _standard(client, merchant, {"type": "product.created", "data": product})
    _standard(client, merchant, {"type": "product.updated", "data": product})  # unchanged
    _standard(client, merchant, {"type": "product.updated", "data": {**product, "price": "25"}})
    _standard(client, merchant, {"type": "product.deleted", "data": {"sku": "EV-1"}})
    events = _events(client, merchant)
    assert [kind for kind, _ in events] == ["product.created", "product.updated", "product.deleted"]
    assert events[0][1]["externalId"] == "EV-1" and events[0][1]["price"] == "30.00"
    assert events[1][1]["price"] == "25.00"
    assert events[2][1] == {"id": events[0][1]["id"], "externalId": "EV-1"}
