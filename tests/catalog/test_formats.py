"""Every catalog format, from realistic files, through the upload endpoint (DESIGN §8)."""

import gzip
import json

import pytest
from starlette.testclient import TestClient

from tests.catalog.conftest import all_products, by_external_id, fixture, upload
from tests.conftest import new_merchant


def _import(client: TestClient, name: str, **params: object) -> tuple[dict, dict]:
    merchant = new_merchant(client)
    run = upload(client, merchant, fixture(name), filename=name, **params)
    return run, by_external_id(all_products(client, merchant))


def test_shopify_export_groups_variants_and_images_by_handle(client: TestClient) -> None:
    merchant = new_merchant(client)
    run = upload(client, merchant, fixture("shopify_export.csv"))
    products = by_external_id(all_products(client, merchant))
    assert run["status"] == "succeeded" and run["format"] == "shopify"
    # Four products from nine rows; the draft beanie is the merchant's only.
    assert run["counts"]["rows"] == 4 and set(products) == {
        "classic-hoodie",
        "trail-runner-2",
        "gift-card",
        "winter-beanie",
    }
    assert [p["externalId"] for p in all_products(client, merchant, visibleToShoppers=False)] == [
        "winter-beanie"
    ]
    hoodie = products["classic-hoodie"]
    assert hoodie["title"] == "Classic Organic Hoodie"
    assert hoodie["brand"] == "Northwind Apparel"
    assert hoodie["description"].startswith("A heavyweight hoodie made from 100% organic cotton.")
    assert "<" not in hoodie["description"] and "Kangaroo pocket" in hoodie["description"]
    assert hoodie["category"] == "Apparel & Accessories > Clothing > Activewear"
    assert hoodie["tags"] == ["organic", "cotton", "winter"]
    # The cheapest variant sets the product's price; one variant in stock is enough.
    assert (hoodie["price"], hoodie["maxPrice"], hoodie["currency"], hoodie["availability"]) == (
        "54.00",
        "59.00",
        "USD",
        "in_stock",
    )
    assert [v["sku"] for v in hoodie["variants"]] == [
        "NW-HOOD-GRN-S",
        "NW-HOOD-GRN-M",
        "NW-HOOD-CHR-S",
    ]
    green_m = hoodie["variants"][1]
    assert green_m["options"] == {"Color": "Forest Green", "Size": "M"}
    assert (green_m["price"], green_m["compareAtPrice"]) == ("59.00", "69.00")
    assert green_m["availability"] == "out_of_stock" and green_m["quantity"] == 0
    assert len(hoodie["images"]) == 4 and hoodie["imageUrl"].endswith("hoodie-green-front.jpg")
    # Inventory policy `continue`: sold on backorder when out of stock.
    assert products["trail-runner-2"]["availability"] == "backorder"
    assert products["trail-runner-2"]["title"] == "Trail Runner 2 — Waterproof"
    assert "&amp;" not in products["trail-runner-2"]["description"]
    # Untracked inventory is always available; "Default Title" is no option.
    gift = products["gift-card"]
    assert gift["availability"] == "in_stock" and gift["variants"][0]["options"] == {}
    assert gift["maxPrice"] is None  # one price, no range


def test_woocommerce_export_merges_variations_into_their_parent(client: TestClient) -> None:
    run, products = _import(client, "woocommerce_export.csv")
    assert run["status"] == "succeeded" and run["format"] == "woocommerce"
    # The grouped bundle (no price) is skipped; the private product kept from shoppers.
    assert set(products) == {"WOO-MUG-01", "WOO-TEE", "WOO-BOOK", "WOO-DRAFT"}
    assert not products["WOO-DRAFT"]["visibleToShoppers"]
    mug = products["WOO-MUG-01"]
    assert mug["title"] == 'Ceramic Mug "Morning"'
    assert (mug["price"], mug["availability"], mug["brand"]) == ("14.50", "in_stock", "Fieldhouse")
    assert mug["category"] == "Home > Kitchen"
    assert mug["description"] == "Hand-glazed stoneware mug.\n\nDishwasher safe."
    tee = products["WOO-TEE"]
    assert [v["sku"] for v in tee["variants"]] == ["WOO-TEE-BLUE", "WOO-TEE-RED"]
    red = tee["variants"][1]
    # On sale: the sale price is the price, the regular one the compare-at price.
    assert (red["price"], red["compareAtPrice"], red["availability"]) == (
        "15.00",
        "18.00",
        "out_of_stock",
    )
    assert red["options"] == {"Color": "Red"}
    assert (tee["price"], tee["maxPrice"], tee["availability"]) == ("15.00", "18.00", "in_stock")
    assert len(tee["images"]) == 2
    assert products["WOO-BOOK"]["url"] == "https://amazon.example.com/field-guide"


def test_gmc_xml_feed_with_g_namespace(client: TestClient) -> None:
    run, products = _import(client, "gmc_feed.xml", content_type="application/xml")
    assert run["status"] == "succeeded" and run["format"] == "gmc"
    tent = products["BW-TENT-2P"]
    assert tent["title"] == "Zelt „Alpenglühen“ für 2 Personen"
    assert (tent["price"], tent["compareAtPrice"], tent["currency"]) == ("199.90", "249.00", "EUR")
    assert tent["description"] == "Leichtes Kuppelzelt & wasserdicht (3000 mm Wassersäule)."
    assert tent["gtin"] == "4006381333931" and tent["category"] == "Camping > Zelte"
    assert len(tent["images"]) == 3
    # An item of a group is a variant of the group's product, even alone in the feed.
    bag = products["BW-BAG"]
    assert (bag["price"], bag["availability"], bag["groupId"]) == (
        "179.00",
        "out_of_stock",
        "BW-BAG",
    )
    assert bag["title"] == "Schlafsack Daunen M"
    assert bag["description"] == "Daunenschlafsack bis -5 °C."
    assert [(v["id"], v["options"]) for v in bag["variants"]] == [("BW-BAG-M", {"Size": "M"})]
    assert bag["attributes"] == {}
    assert products["BW-STOVE"]["availability"] == "preorder"


def test_gmc_tsv_feed(client: TestClient) -> None:
    run, products = _import(client, "gmc_feed.tsv", format="gmc")
    assert run["status"] == "succeeded" and run["format"] == "tsv"
    headphones = products["GT-001"]
    assert (headphones["price"], headphones["currency"]) == ("199.00", "USD")
    assert headphones["url"] == "https://audio.example.com/p/gt-001"
    assert products["GT-002"]["availability"] == "out_of_stock"


def test_json_document_with_flat_and_shopify_shaped_products(client: TestClient) -> None:
    run, products = _import(client, "catalog.json", content_type="application/json")
    assert run["status"] == "succeeded" and run["format"] == "json"
    lamp = products["JS-1"]
    assert lamp["price"] == "49.99" and lamp["attributes"] == {"color": "black"}
    assert (products["JS-2"]["price"], products["JS-2"]["compareAtPrice"]) == ("79.00", "89.00")
    ipod = products["ipod-nano"]
    assert ipod["brand"] == "Apple" and ipod["price"] == "199.00"
    assert [v["options"] for v in ipod["variants"]] == [{"Color": "Pink"}, {"Color": "Red"}]
    assert ipod["variants"][1]["availability"] == "out_of_stock"
    assert ipod["tags"] == ["Emotive", "Flash Memory", "MP3", "Music"]


def test_json_array_and_prices_stay_exact(client: TestClient) -> None:
    merchant = new_merchant(client)
    items = [
        {"sku": "A", "title": "Fine", "price": 19.999},
        {"sku": "B", "title": "Yen", "price": 1500, "currency": "JPY"},
        {"sku": "C", "title": "Dinar", "price": "1.250", "currency": "KWD"},
        {"sku": "D", "title": "Big", "price": "12345678901234.5678"},
    ]
    run = upload(client, merchant, json.dumps(items).encode(), content_type="application/json")
    assert run["status"] == "succeeded", run
    products = by_external_id(all_products(client, merchant))
    assert products["A"]["price"] == "19.999"
    assert products["B"]["price"] == "1500"
    assert products["C"]["price"] == "1.250"
    assert products["D"]["price"] == "12345678901234.5678"


def test_ndjson(client: TestClient) -> None:
    run, products = _import(client, "catalog.ndjson", content_type="application/x-ndjson")
    assert run["status"] == "succeeded" and run["format"] == "ndjson"
    assert products["ND-1"]["brand"] == "Caffè Nero" and products["ND-1"]["tags"] == [
        "coffee",
        "beans",
    ]
    assert products["ND-2"]["availability"] == "out_of_stock"
    assert (products["ND-3"]["price"], products["ND-3"]["currency"]) == ("129.50", "EUR")


def test_semicolons_quoted_newlines_unicode_and_decimal_commas(client: TestClient) -> None:
    run, products = _import(client, "unicode_semicolon.csv")
    assert run["status"] == "succeeded" and run["counts"]["created"] == 3
    assert products["EU-1"]["description"] == 'Mild roast;\nnotes of "caramel" and nuts'
    assert products["EU-1"]["price"] == "12.90"
    assert products["EU-2"]["title"] == "Tee — grün 🍵" and products["EU-2"]["price"] == "1299.00"
    assert products["EU-3"]["title"] == "Ñandú Plüsch" and products["EU-3"]["price"] == "9.50"


def test_windows_1252_with_bom_less_bytes_is_decoded(client: TestClient) -> None:
    merchant = new_merchant(client)
    title = "Crème brûlée \u2013 \u201cSpécial\u201d"  # en dash and curly quotes: cp1252 bytes
    content = f"sku,name,price\nW-1,{title},4.50\n".encode("cp1252")
    run = upload(client, merchant, content)
    assert run["status"] == "succeeded"
    assert all_products(client, merchant)[0]["title"] == title


def test_utf8_bom_and_header_aliases(client: TestClient) -> None:
    merchant = new_merchant(client)
    content = (
        "\ufeffProduct ID,Product Name,Regular Price,Sale Price,Stock Status,Image Link,"
        "Manufacturer\n"
        "X-1,Kettle,40,35,In Stock,https://img.example.com/k.jpg,Brewster\n"
    ).encode()
    run = upload(client, merchant, content)
    assert run["status"] == "succeeded", run
    product = all_products(client, merchant)[0]
    assert product["externalId"] == "X-1" and product["title"] == "Kettle"
    assert (product["price"], product["compareAtPrice"]) == ("35.00", "40.00")
    assert product["brand"] == "Brewster" and product["imageUrl"] == "https://img.example.com/k.jpg"


def test_field_mapping_from_the_config_renames_columns(client: TestClient) -> None:
    merchant = new_merchant(client)
    config = {
        "fieldMapping": {
            "Artikelnummer": "id",
            "Bezeichnung": "title",
            "Preis": "price",
            "Intern": None,
        },
        "defaultCurrency": "EUR",
        "productUrlTemplate": "https://shop.example.de/artikel/{id}",
    }
    saved = client.put(
        f"/api/merchants/{merchant.id}/sync/config", headers=merchant.auth, json=config
    )
    assert saved.status_code == 200, saved.text
    content = b"Artikelnummer;Bezeichnung;Preis;Intern;Farbe\nA 1;Stuhl;89,00;geheim;rot\n"
    run = upload(client, merchant, content)
    assert run["status"] == "succeeded", run
    product = all_products(client, merchant)[0]
    assert (product["externalId"], product["title"], product["price"]) == ("A 1", "Stuhl", "89.00")
    assert product["currency"] == "EUR"
    assert product["url"] == "https://shop.example.de/artikel/A%201"
    assert product["attributes"] == {"Farbe": "rot"}  # ignored column gone, unknown one kept


def test_format_override_beats_detection(client: TestClient) -> None:
    merchant = new_merchant(client)
    content = b"id\ttitle\tprice\nT-1\tTabbed, with a comma\t5\n"
    run = upload(client, merchant, content, format="tsv")
    assert run["status"] == "succeeded" and run["format"] == "tsv"
    assert all_products(client, merchant)[0]["title"] == "Tabbed, with a comma"
    # Forced to the wrong format: a clear failure, not a guess.
    wrong = upload(client, merchant, content, format="json")
    assert wrong["status"] == "failed" and wrong["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("multipart", [True, False], ids=["multipart", "raw"])
def test_gzip_upload_multipart_or_raw(client: TestClient, multipart: bool) -> None:
    merchant = new_merchant(client)
    content = gzip.compress(fixture("catalog.ndjson"))
    run = upload(
        client,
        merchant,
        content,
        content_type="application/gzip",
        filename="catalog.ndjson.gz",
        multipart=multipart,
    )
    assert run["status"] == "succeeded" and run["format"] == "ndjson"
    assert run["filename"] == "catalog.ndjson.gz"
    assert len(all_products(client, merchant)) == 3
