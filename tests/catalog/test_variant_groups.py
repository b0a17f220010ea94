"""One shopper-facing product per variant group, whatever the format (DESIGN §8): the same
hoodie in three colours, written as each platform exports it, with a mug between its rows
where the format allows; and an unchanged re-import writes nothing."""

import json

import pytest
from starlette.testclient import TestClient

from tests.catalog.conftest import all_products, by_external_id, catalog_rows, upload
from tests.conftest import new_merchant

IMG = "https://shop.example.com/img"
# (sku, colour, regular price, sale price, in stock)
VARIANTS = [
    ("HD-RED", "Red", "45.00", "42.00", True),
    ("HD-GREEN", "Green", "45.00", "", True),
    ("HD-BLUE", "Blue", "45.00", "", False),
]
MUG = ("MUG", "Mug", "12.00")


def _woocommerce() -> tuple[bytes, str]:
    header = (
        "ID,Type,SKU,Name,Published,Visibility in catalog,Description,In stock?,Stock,"
        "Sale price,Regular price,Categories,Images,Parent,Attribute 1 name,Attribute 1 value(s)"
    )
    rows = [
        '10,variable,HOODIE,Hoodie,1,visible,A warm hoodie,1,,,,Clothing,,,Color,"Red, Green, Blue"'
    ]
    variations = [
        f"{11 + n},variation,{sku},Hoodie - {colour},1,visible,,{int(stock)},,{sale},{price},,"
        f"{IMG}/{sku}.jpg,HOODIE,Color,{colour}"
        for n, (sku, colour, price, sale, stock) in enumerate(VARIANTS)
    ]
    mug = f"20,simple,{MUG[0]},{MUG[1]},1,visible,,1,,,{MUG[2]},Kitchen,,,,"
    return "\n".join([header, *rows, variations[0], mug, *variations[1:]]).encode(), "HOODIE"


def _shopify() -> tuple[bytes, str]:
    header = (
        "Handle,Title,Body (HTML),Vendor,Published,Option1 Name,Option1 Value,Variant SKU,"
        "Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy,Variant Price,"
        "Variant Compare At Price,Variant Image,Status"
    )
    lines = [header]
    for n, (sku, colour, price, sale, stock) in enumerate(VARIANTS):
        product = "hoodie,Hoodie,A warm hoodie,Acme,TRUE,Color" if n == 0 else "hoodie,,,,,"
        now, was = (sale, price) if sale else (price, "")
        lines.append(
            f"{product},{colour},{sku},shopify,{int(stock)},deny,{now},{was},"
            f"{IMG}/{sku}.jpg,{'active' if n == 0 else ''}"
        )
    lines.append(f"mug,{MUG[1]},,Acme,TRUE,Title,Default Title,{MUG[0]},,,deny,{MUG[2]},,,active")
    return "\n".join(lines).encode(), "hoodie"


def _flat_items() -> list[dict[str, str]]:
    items = [
        {
            "id": sku,
            "item_group_id": "HOODIE",
            "title": f"Hoodie - {colour}",
            "description": "A warm hoodie",
            "price": f"{price} USD",
            "sale_price": f"{sale} USD" if sale else "",
            "availability": "in stock" if stock else "out of stock",
            "color": colour,
            "gender": "unisex",  # shared by all: no choice, so no option
            "link": f"https://shop.example.com/p/hoodie?variant={sku}",
            "image_link": f"{IMG}/{sku}.jpg",
        }
        for sku, colour, price, sale, stock in VARIANTS
    ]
    mug = {"id": MUG[0], "title": MUG[1], "price": f"{MUG[2]} USD", "availability": "in stock"}
    return [items[0], mug, *items[1:]]


def _gmc_xml() -> tuple[bytes, str]:
    def item(fields: dict[str, str]) -> str:
        return "<item>" + "".join(f"<g:{k}>{v}</g:{k}>" for k, v in fields.items() if v) + "</item>"

    body = "".join(item(fields) for fields in _flat_items())
    xml = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0">'
        f"<channel><title>Shop</title>{body}</channel></rss>"
    )
    return xml.encode(), "HOODIE"


def _gmc_tsv() -> tuple[bytes, str]:
    columns = list(_flat_items()[0])
    lines = ["\t".join(columns)]
    lines += ["\t".join(item.get(c, "") for c in columns) for item in _flat_items()]
    return "\n".join(lines).encode(), "HOODIE"


def _csv_with_group_column() -> tuple[bytes, str]:
    columns = ["sku", "parent_sku", "name", "price", "sale_price", "availability", "Colour"]
    lines = [",".join(columns)]
    for item in _flat_items():
        values = [item["id"], item.get("item_group_id", ""), item["title"], item["price"]]
        values += [item.get("sale_price", ""), item["availability"], item.get("color", "")]
        lines.append(",".join(values))
    return "\n".join(lines).encode(), "HOODIE"


def _json_nested() -> tuple[bytes, str]:
    hoodie = {
        "id": "HOODIE",
        "title": "Hoodie",
        "description": "A warm hoodie",
        "variants": [
            {
                "sku": sku,
                "price": sale or price,
                "compareAtPrice": price if sale else None,
                "availability": "in stock" if stock else "out of stock",
                "options": {"Color": colour},
                "url": f"https://shop.example.com/p/hoodie?variant={sku}",
                "imageUrl": f"{IMG}/{sku}.jpg",
            }
            for sku, colour, price, sale, stock in VARIANTS
        ],
    }
    mug = {"id": MUG[0], "title": MUG[1], "price": MUG[2]}
    return json.dumps({"products": [hoodie, mug]}).encode(), "HOODIE"


def _json_flat(key: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = [
        {
            "sku": sku,
            key: "HOODIE",
            "title": f"Hoodie - {colour}",
            "price": price,
            "salePrice": sale or None,
            "inStock": stock,
            "options": {"Color": colour},
            "url": f"https://shop.example.com/p/hoodie?variant={sku}",
            "imageUrl": f"{IMG}/{sku}.jpg",
        }
        for sku, colour, price, sale, stock in VARIANTS
    ]
    return [items[0], {"sku": MUG[0], "title": MUG[1], "price": MUG[2]}, *items[1:]]


def _json_item_group_id() -> tuple[bytes, str]:
    return json.dumps(_json_flat("itemGroupId")).encode(), "HOODIE"


def _ndjson_parent_id() -> tuple[bytes, str]:
    return "\n".join(json.dumps(item) for item in _json_flat("parentId")).encode(), "HOODIE"


FORMATS = {
    "woocommerce": (_woocommerce, "text/csv", "woocommerce"),
    "shopify": (_shopify, "text/csv", "shopify"),
    "gmc-xml": (_gmc_xml, "application/xml", "gmc"),
    "gmc-tsv": (_gmc_tsv, "text/tab-separated-values", "tsv"),
    "csv-parent-sku": (_csv_with_group_column, "text/csv", "csv"),
    "json-nested": (_json_nested, "application/json", "json"),
    "json-itemGroupId": (_json_item_group_id, "application/json", "json"),
    "ndjson-parentId": (_ndjson_parent_id, "application/x-ndjson", "ndjson"),
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_format_gives_one_product_per_group_with_its_variants(
    client: TestClient, name: str
) -> None:
    build, content_type, detected = FORMATS[name]
    content, group = build()
    merchant = new_merchant(client)
    run = upload(client, merchant, content, content_type=content_type)
    assert run["status"] == "succeeded" and run["format"] == detected, run
    assert (run["counts"]["rows"], run["counts"]["invalid"]) == (2, 0)
    products = by_external_id(all_products(client, merchant))
    assert set(products) == {group, MUG[0].lower() if name == "shopify" else MUG[0]}
    hoodie = products[group]
    assert hoodie["title"] == "Hoodie"
    assert (hoodie["price"], hoodie["compareAtPrice"], hoodie["maxPrice"]) == (
        "42.00",
        "45.00",
        "45.00",
    )
    assert hoodie["availability"] == "in_stock"
    variants = hoodie["variants"]
    assert [v["id"] for v in variants] == ["HD-RED", "HD-GREEN", "HD-BLUE"]
    assert [v["options"] for v in variants] == [
        {"Color": "Red"},
        {"Color": "Green"},
        {"Color": "Blue"},
    ]
    assert [(v["price"], v["compareAtPrice"]) for v in variants] == [
        ("42.00", "45.00"),
        ("45.00", None),
        ("45.00", None),
    ]
    assert [v["availability"] for v in variants] == ["in_stock", "in_stock", "out_of_stock"]
    if name != "csv-parent-sku":  # that file has no image column
        assert [v["imageUrl"] for v in variants] == [f"{IMG}/{sku}.jpg" for sku, *_ in VARIANTS]
    if name in {"gmc-xml", "gmc-tsv", "json-nested", "json-itemGroupId", "ndjson-parentId"}:
        assert variants[2]["url"] == "https://shop.example.com/p/hoodie?variant=HD-BLUE"
    mug = next(product for key, product in products.items() if key != group)
    assert (mug["title"], mug["price"], mug["maxPrice"]) == ("Mug", "12.00", None)

    # The same file again: nothing written (the content hash covers the variants).
    before = catalog_rows(client, merchant)
    again = upload(client, merchant, content, content_type=content_type)
    assert (again["counts"]["updated"], again["counts"]["created"]) == (0, 0)
    assert again["counts"]["unchanged"] == 2
    assert catalog_rows(client, merchant) == before


def test_every_variant_out_of_stock_makes_the_product_out_of_stock(client: TestClient) -> None:
    merchant = new_merchant(client)
    items = [
        {"sku": f"S-{n}", "parentId": "SOCK", "title": f"Sock {n}", "price": "5", "quantity": 0}
        for n in range(2)
    ]
    run = upload(client, merchant, json.dumps(items).encode(), content_type="application/json")
    assert run["status"] == "succeeded", run
    [sock] = all_products(client, merchant)
    assert (sock["externalId"], sock["title"], sock["availability"]) == (
        "SOCK",
        "Sock",
        "out_of_stock",
    )
    assert sock["maxPrice"] is None  # both 5: one price, no range


def test_json_drafts_and_unpublished_products_are_hidden_from_shoppers(
    client: TestClient,
) -> None:
    merchant = new_merchant(client)
    items = [
        {"sku": "J-1", "title": "Shown", "price": "5", "status": "active"},
        {"sku": "J-2", "title": "Draft", "price": "5", "status": "draft"},
        {"sku": "J-3", "title": "Unpublished", "price": "5", "published": False},
        {"sku": "J-4", "title": "Invisible", "price": "5", "visible": "false"},
    ]
    run = upload(client, merchant, json.dumps(items).encode(), content_type="application/json")
    assert run["status"] == "succeeded", run
    products = by_external_id(all_products(client, merchant))
    assert {key: p["visibleToShoppers"] for key, p in products.items()} == {
        "J-1": True,
        "J-2": False,
        "J-3": False,
        "J-4": False,
    }
    # The keys say how the shop shows a product; they are not product attributes.
    assert all(p["attributes"] == {} for p in products.values())
