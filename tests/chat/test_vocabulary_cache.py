"""A catalog change is seen by the next question at once, not after the vocabulary cache's
minute: syncs and inbound webhooks forget the merchant's cached vocabulary."""

import json

from starlette.testclient import TestClient

from tests.catalog.conftest import upload
from tests.conftest import new_merchant


def _suggestions(client: TestClient, merchant) -> list[str]:
    response = client.get("/api/widget/config", headers=merchant.widget_auth)
    assert response.status_code == 200, response.text
    return response.json()["data"]["suggestions"]


def _kites(count: int, category: str) -> bytes:
    products = [
        {"id": f"KITE-{n}", "title": f"Stunt kite {n}", "price": "49.00", "category": category}
        for n in range(count)
    ]
    return json.dumps(products).encode()


def test_a_sync_that_changes_the_catalog_is_suggested_at_once(client: TestClient):
    merchant = new_merchant(client)
    assert _suggestions(client, merchant) == []  # the empty catalog is now cached

    run = upload(client, merchant, _kites(3, "Outdoor > Kites"), content_type="application/json")
    assert run["status"] == "succeeded"

    assert _suggestions(client, merchant) == ["Kites"]


def test_a_full_sync_that_removes_a_category_stops_suggesting_it(client: TestClient):
    merchant = new_merchant(client)
    upload(client, merchant, _kites(3, "Outdoor > Kites"), content_type="application/json")
    assert _suggestions(client, merchant) == ["Kites"]

    run = upload(
        client,
        merchant,
        _kites(3, "Toys > Yo-yos"),
        content_type="application/json",
        mode="full",
    )
    assert run["status"] == "succeeded"

    assert _suggestions(client, merchant) == ["Yo-yos"]
