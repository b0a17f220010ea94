"""GET /products: full-text search, filters, cursor pagination; GET /products/{id}."""

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from tests.catalog.conftest import all_products, upload
from tests.conftest import Backend, MerchantKeys, make_settings, new_merchant

CATALOG = [
    {
        "sku": "S-1",
        "title": "Trail Running Shoes",
        "price": "89.90",
        "brand": "Summit",
        "category": "Apparel > Shoes",
        "availability": "in_stock",
        "description": "Grippy and light.",
    },
    {
        "sku": "S-2",
        "title": "Road Running Shoes",
        "price": "119.00",
        "brand": "SUMMIT",
        "category": "Apparel > Shoes",
        "availability": "out_of_stock",
    },
    {
        "sku": "J-1",
        "title": "Rain Jacket",
        "price": "19.99",
        "brand": "Northwind",
        "category": "Apparel > Jackets",
        "description": "Packs small; great for running in rain.",
    },
    {
        "sku": "K-1",
        "title": "Espresso Machine",
        "price": "19.98",
        "brand": "Brewster",
        "category": "Home > Kitchen",
        "availability": "preorder",
    },
    {
        "sku": "K-2",
        "title": "Kettle",
        "price": "20.00",
        "brand": "Brewster",
        "category": "Home > Kitchen",
    },
    {
        "sku": "A-1",
        "title": "Apparel gift card",
        "price": "50",
        "brand": "Northwind",
        "category": "Apparelgifts",
    },
]


@pytest.fixture
def shop(client: TestClient) -> MerchantKeys:
    merchant = new_merchant(client)
    run = upload(client, merchant, json.dumps(CATALOG).encode(), content_type="application/json")
    assert run["status"] == "succeeded", run
    return merchant


def _skus(client: TestClient, merchant: MerchantKeys, **params: object) -> list[str]:
    return [p["externalId"] for p in all_products(client, merchant, **params)]


def test_search_matches_word_prefixes_and_ranks_titles_first(
    client: TestClient, shop: MerchantKeys
) -> None:
    # "runn" finds running; the jacket mentions running only in its description.
    found = _skus(client, shop, q="runn")
    assert set(found) == {"S-1", "S-2", "J-1"} and found[-1] == "J-1"
    assert set(_skus(client, shop, q="running shoe")) == {"S-1", "S-2"}  # every word must match
    assert _skus(client, shop, q="SUMMIT trail") == ["S-1"]  # brand and title, any case
    assert _skus(client, shop, q="k-2") == ["K-2"]  # the merchant's own id is searchable
    assert set(_skus(client, shop, q="kitchen")) == {"K-1", "K-2"}  # category words too
    assert _skus(client, shop, q="submarine") == []


@pytest.mark.parametrize(
    "q", ['"', "'; DROP TABLE products; --", "NEAR(a b)", "*", "a:* & !b", "  ", "ü", "(((", "OR"]
)
def test_search_input_never_reaches_the_query_syntax(
    client: TestClient, shop: MerchantKeys, q: str
) -> None:
    response = client.get(f"/api/merchants/{shop.id}/products", headers=shop.auth, params={"q": q})
    assert response.status_code == 200, response.text


def test_filters(client: TestClient, shop: MerchantKeys) -> None:
    assert _skus(client, shop, availability="out_of_stock") == ["S-2"]
    assert set(_skus(client, shop, brand="summit")) == {"S-1", "S-2"}
    # A category matches itself and the paths below it, not names that merely start alike.
    assert set(_skus(client, shop, category="apparel")) == {"S-1", "S-2", "J-1"}
    assert set(_skus(client, shop, category="Apparel > Shoes")) == {"S-1", "S-2"}
    # Exact decimal bounds, both inclusive.
    assert set(_skus(client, shop, minPrice="19.99", maxPrice="20.00")) == {"J-1", "K-2"}
    assert set(_skus(client, shop, maxPrice="19.98")) == {"K-1"}
    assert _skus(client, shop, q="shoes", availability="in_stock", maxPrice="100") == ["S-1"]


def test_bad_filters_are_422(client: TestClient, shop: MerchantKeys) -> None:
    url = f"/api/merchants/{shop.id}/products"
    for params in ({"minPrice": "-1"}, {"minPrice": "abc"}, {"availability": "sometimes"}):
        response = client.get(url, headers=shop.auth, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["details"][0]["field"] == next(iter(params))


def test_pagination_by_cursor_with_and_without_search(
    client: TestClient, shop: MerchantKeys
) -> None:
    url = f"/api/merchants/{shop.id}/products"
    for params in ({}, {"q": "apparel"}, {"q": "r"}):
        seen: list[str] = []
        cursor = None
        while True:
            query = {"limit": 2, **params} | ({"cursor": cursor} if cursor else {})
            page = client.get(url, headers=shop.auth, params=query).json()["data"]
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == len(all_products(client, shop, **params))
    # A cursor of one kind of listing is refused by the other.
    first = client.get(url, headers=shop.auth, params={"limit": 2}).json()["data"]["nextCursor"]
    wrong = client.get(url, headers=shop.auth, params={"q": "apparel", "cursor": first})
    assert wrong.status_code == 422
    assert client.get(url, headers=shop.auth, params={"cursor": "garbage"}).status_code == 422


def test_get_one_product_and_404(client: TestClient, shop: MerchantKeys) -> None:
    listed = all_products(client, shop)
    kettle = next(p for p in listed if p["externalId"] == "K-2")
    url = f"/api/merchants/{shop.id}/products"
    one = client.get(f"{url}/{kettle['id']}", headers=shop.auth)
    assert one.status_code == 200 and one.json()["data"] == kettle
    missing = client.get(f"{url}/prd_00000000000000000000000000", headers=shop.auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_sync_flag_off_stops_sync_but_not_catalog_reads(backend: Backend, tmp_path: Path) -> None:
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"product_sync_enabled": True}))
    settings = make_settings(backend, FLAGS_SOURCE=f"file:{flags}", FLAGS_CACHE_SECONDS="0")
    with TestClient(create_app(settings)) as client:
        merchant = new_merchant(client)
        upload(client, merchant, b"sku,title,price\nF-1,Flagged,1\n")
        flags.write_text(json.dumps({"product_sync_enabled": False}))
        url = f"/api/merchants/{merchant.id}"
        refused = client.post(
            f"{url}/products/upload",
            headers={**merchant.auth, "Content-Type": "text/csv"},
            content=b"sku,title,price\nF-2,Nope,1\n",
        )
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "feature_disabled"
        assert client.get(f"{url}/sync/status", headers=merchant.auth).status_code == 503
        assert [p["externalId"] for p in all_products(client, merchant)] == ["F-1"]
