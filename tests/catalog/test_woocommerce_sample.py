"""WooCommerce's own sample export (sample-data/sample_products.csv, in its exact shape):
variable products with variations rows apart, grouped, external, downloadable/virtual,
hidden, search-only, draft and private rows; imported, listed and asked about (DESIGN §8, §9)."""

from typing import Any

from starlette.testclient import TestClient

from tests.catalog.conftest import (
    all_products,
    by_external_id,
    catalog_rows,
    fixture,
    run_detail,
    upload,
)
from tests.chat.conftest import ask, ask_streaming, start_session, widget_headers
from tests.conftest import MerchantKeys, new_merchant

SAMPLE = "woocommerce_sample_products.csv"
HIDDEN = {"woo-hoodie-with-pocket", "woo-hoodie-prototype", "woo-staff-hoodie"}


def _shop(client: TestClient) -> tuple[MerchantKeys, dict[str, Any]]:
    merchant = new_merchant(client, domains=["shop.example.com"])
    run = upload(client, merchant, fixture(SAMPLE), filename="wc-product-export.csv")
    assert run["status"] == "succeeded" and run["format"] == "woocommerce", run
    return merchant, run


def test_variable_products_are_one_product_each_with_their_variations(
    client: TestClient,
) -> None:
    merchant, run = _shop(client)
    # 21 rows: 11 simple/external/virtual + 2 variable products; variations are variants, the
    # grouped collection is skipped, and nothing is invalid: variable parents carry no price
    # by design, and nobody is told "price is required" for them.
    assert run["counts"]["rows"] == 13 and run["counts"]["invalid"] == 0
    assert run["errorSample"] == []
    products = by_external_id(all_products(client, merchant))
    assert not any(product["title"].startswith("Hoodie - ") for product in products.values())
    assert "logo-collection" not in products

    hoodie = products["woo-hoodie"]
    assert hoodie["title"] == "Hoodie"
    assert hoodie["description"] == "A warm fleece-lined hoodie with a roomy hood and ribbed cuffs."
    assert hoodie["category"] == "Clothing > Hoodies"
    # The lowest variant price (red, on sale) and the highest.
    assert (hoodie["price"], hoodie["compareAtPrice"], hoodie["maxPrice"]) == (
        "42.00",
        "45.00",
        "45.00",
    )
    assert hoodie["availability"] == "in_stock"  # blue/no is out of stock, the others are not
    # The last variation names its parent by id (`id:45`) and comes after other products.
    assert [(v["sku"], v["options"]) for v in hoodie["variants"]] == [
        ("woo-hoodie-red", {"Color": "Red", "Logo": "No"}),
        ("woo-hoodie-green", {"Color": "Green", "Logo": "No"}),
        ("woo-hoodie-blue", {"Color": "Blue", "Logo": "No"}),
        ("woo-hoodie-blue-logo", {"Color": "Blue", "Logo": "Yes"}),
    ]
    red, _, blue, _ = hoodie["variants"]
    assert (red["price"], red["compareAtPrice"], red["availability"]) == (
        "42.00",
        "45.00",
        "in_stock",
    )
    assert red["imageUrl"].endswith("/hoodie.jpg") and red["title"] == "Hoodie - Red, No"
    assert blue["availability"] == "out_of_stock"

    tee = products["woo-vneck-tee"]
    assert (tee["price"], tee["maxPrice"]) == ("15.00", "20.00")
    # "Any size" (a blank attribute value) is no option; the disabled yellow one is not sold.
    assert [v["options"] for v in tee["variants"]] == [
        {"Color": "Red"},
        {"Color": "Green"},
        {"Color": "Blue"},
    ]

    # A single price: no range.
    assert (products["woo-beanie"]["price"], products["woo-beanie"]["maxPrice"]) == ("18.00", None)
    # External: bought from the seller's page, the button's words kept.
    pennant = products["wp-pennant"]
    assert pennant["url"] == "https://swag.example.org/product/pennant/"
    assert pennant["attributes"]["Button text"] == "Buy on the swag store!"
    # Downloadable: the product is in; its (paid) download files never are.
    assert products["woo-album"]["price"] == "15.00"
    listing = client.get(f"/api/merchants/{merchant.id}/products?limit=100", headers=merchant.auth)
    assert "files.example.com" not in listing.text


def test_hidden_and_unpublished_products_are_the_merchants_only(client: TestClient) -> None:
    merchant, _ = _shop(client)
    products = by_external_id(all_products(client, merchant))
    assert {key for key, p in products.items() if not p["visibleToShoppers"]} == HIDDEN
    # `search` visibility: shown when searched, and a shopper's question is a search.
    assert products["woo-cap"]["visibleToShoppers"] is True
    hidden = all_products(client, merchant, visibleToShoppers="false")
    assert {product["externalId"] for product in hidden} == HIDDEN
    shown = all_products(client, merchant, visibleToShoppers="true", q="hoodie")
    assert {product["externalId"] for product in shown} == {
        "woo-hoodie",
        "woo-hoodie-with-logo",
        "woo-hoodie-with-zipper",
    }
    # A price range meets a price filter when any variant could: the hoodie costs 42 to 45.
    for bounds in ({"minPrice": "44"}, {"maxPrice": "43"}):
        found = all_products(client, merchant, q="hoodie", **bounds)
        assert "woo-hoodie" in {product["externalId"] for product in found}, bounds
    over = all_products(client, merchant, q="hoodie", minPrice="46")
    assert "woo-hoodie" not in {product["externalId"] for product in over}


def test_shoppers_asking_for_hoodies_get_one_hoodie_card_with_options(
    client: TestClient,
) -> None:
    merchant, _ = _shop(client)
    session = start_session(client, merchant)
    reply = ask(client, merchant, session["id"], "Do you have hoodies?")["reply"]
    cards = reply["products"]
    titles = [card["title"] for card in cards]
    assert titles.count("Hoodie") == 1, titles
    assert not any(" - " in title for title in titles)  # no variation as a product
    assert not {"Hoodie with Pocket", "Hoodie Prototype", "Staff Hoodie"} & set(titles)
    assert "Pocket" not in reply["content"] and "Prototype" not in reply["content"]
    hoodie = next(card for card in cards if card["title"] == "Hoodie")
    assert (hoodie["price"], hoodie["maxPrice"]) == ("42.00", "45.00")
    assert hoodie["options"] == {"Color": ["Red", "Green", "Blue"], "Logo": ["No", "Yes"]}
    assert [variant["sku"] for variant in hoodie["variants"]] == [
        "woo-hoodie-red",
        "woo-hoodie-green",
        "woo-hoodie-blue",
        "woo-hoodie-blue-logo",
    ]
    # The history keeps the cards as they were shown.
    history = client.get(
        f"/api/chat/sessions/{session['id']}/messages", headers=widget_headers(merchant)
    )
    assert history.status_code == 200, history.text
    stored = history.json()["data"]["items"][-1]["products"]
    assert stored == cards
    # Streamed, the cards are the same.
    events = dict(ask_streaming(client, merchant, session["id"], "Do you have hoodies?"))
    assert events["products"]["products"] == cards
    # Asked for the hidden one by name: still never offered.
    pocket = ask(client, merchant, session["id"], "hoodie with pocket")["reply"]["products"]
    assert "Hoodie with Pocket" not in [card["title"] for card in pocket]


def test_reimporting_the_unchanged_export_changes_nothing(client: TestClient) -> None:
    merchant, _ = _shop(client)
    before = catalog_rows(client, merchant)
    again = upload(client, merchant, fixture(SAMPLE))
    assert again["status"] == "succeeded"
    counts = again["counts"]
    assert (counts["rows"], counts["unchanged"], counts["invalid"]) == (13, 13, 0)
    assert (counts["created"], counts["updated"], counts["deleted"]) == (0, 0, 0)
    assert catalog_rows(client, merchant) == before
    # One variation renamed: only its product is rewritten.
    changed = fixture(SAMPLE).replace(b'"Hoodie - Green, No"', b'"Hoodie - Green, No!"')
    third = upload(client, merchant, changed)
    assert (third["counts"]["updated"], third["counts"]["unchanged"]) == (1, 12)


def test_a_variable_product_without_variations_is_reported_plainly(client: TestClient) -> None:
    merchant = new_merchant(client)
    config = client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"errorThreshold": 0.5},
    )
    assert config.status_code == 200, config.text
    # The export without its variation rows (as a "parents only" filter would write it).
    lines = fixture(SAMPLE).split(b"\n")
    kept = [line for line in lines if b",variation," not in line]
    run = upload(client, merchant, b"\n".join(kept))
    assert run["status"] == "succeeded" and run["counts"]["invalid"] == 2
    errors = run_detail(client, merchant, run["id"])["errors"]
    assert [(error["row"], error["reason"]) for error in errors] == [
        (2, "a variable product without its variations"),
        (3, "a variable product without its variations"),
    ]
