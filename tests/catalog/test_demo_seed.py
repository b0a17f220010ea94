"""The demo catalog is seeded by the importer's own rules: importing it again changes nothing."""

import json

from starlette.testclient import TestClient

from ops import demo_shop
from tests.catalog.conftest import all_products, by_external_id, upload
from tests.chat.conftest import SHOP, with_catalog


def test_importing_the_seeded_demo_catalog_again_rewrites_no_row(client: TestClient):
    merchant = with_catalog(client)
    before = by_external_id(all_products(client, merchant))
    feed = demo_shop.demo_feed(demo_shop.demo_catalog(), SHOP)

    run = upload(client, merchant, json.dumps(feed).encode(), content_type="application/json")

    assert run["status"] == "succeeded"
    counts = run["counts"]
    assert counts["unchanged"] == len(feed) == len(before)
    assert counts["created"] == counts["updated"] == counts["invalid"] == 0
    assert by_external_id(all_products(client, merchant)) == before
