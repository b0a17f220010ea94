"""The product record every format is parsed into, and the rules that make one valid.

Parsers produce `RawProduct`s: the raw values under canonical field names, each with the
column it came from, so that an invalid value is reported as (row, column, reason). The builder
applies one set of rules to all formats.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args
from urllib.parse import quote

from app.colours import product_colours
from app.services.catalog import values as v
from app.services.catalog.terms import DEFAULT_CURRENCY

# Canonical fields: what `fieldMapping` may map a column to, and what the docs list.
FieldName = Literal[
    "id",
    "title",
    "description",
    "price",
    "salePrice",
    "compareAtPrice",
    "currency",
    "availability",
    "quantity",
    "brand",
    "category",
    "url",
    "imageUrl",
    "additionalImageUrls",
    "tags",
    "gtin",
    "mpn",
    "condition",
    "groupId",
]
# What each field means (the OpenAPI description of `fieldMapping`).
FIELDS: dict[FieldName, str] = {
    "id": "Your id for the product (SKU, handle, item id). Required, unique in the file.",
    "title": "Product name. Required.",
    "description": "Plain text or HTML (reduced to text).",
    "price": "Regular price, e.g. 19.99, 19,99 or 19.99 USD. Required.",
    "salePrice": "Discounted price; becomes the price, the regular price the compare-at price.",
    "compareAtPrice": "The 'was' price shown struck through.",
    "currency": "ISO 4217 code; default: the config's defaultCurrency.",
    "availability": "in_stock, out_of_stock, preorder or backorder (common spellings too).",
    "quantity": "Stock count; sets availability when no availability is given.",
    "brand": "Brand or vendor.",
    "category": "Category path, e.g. Apparel > Shoes.",
    "url": "Product page URL; default: the config's productUrlTemplate.",
    "imageUrl": "Main image URL.",
    "additionalImageUrls": "More image URLs, comma-separated.",
    "tags": "Comma-separated tags.",
    "gtin": "GTIN / EAN / UPC / barcode.",
    "mpn": "Manufacturer part number.",
    "condition": "new, refurbished or used.",
    "groupId": "Groups variants of one product (GMC item_group_id).",
}
assert set(FIELDS) == set(get_args(FieldName)), "describe every field, and only those"
LIMITS = {"id": 255, "title": 500, "description": 65_535, "brand": 200, "category": 500}
_SHORT = 255
MAX_ATTRIBUTES = 50


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


Values = dict[str, tuple[str, Any]]  # canonical field -> (column as named in the file, raw value)


@dataclass(slots=True)
class RawVariant:
    row: int
    values: Values  # canonical fields, plus `sku` when the source names one
    options: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RawProduct:
    row: int
    values: Values
    variants: list[RawVariant] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    source_id: str | None = None
    errors: list[RowError] = field(default_factory=list)  # found by the format parser itself
    visible: bool = True  # False: hidden or unpublished in the shop
    # A variant row's option values when its format names them (WooCommerce's attributes);
    # otherwise grouping reads them from its color/size/... columns.
    options: dict[str, str] = field(default_factory=dict)
    # A parent row (WooCommerce's variable product): the references its variations name it by.
    # Rows that name a group (values["groupId"]) become variants of one product; see grouping.
    parent_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rules:
    """Per-merchant defaults the records need (from the sync config)."""

    default_currency: str = DEFAULT_CURRENCY
    product_url_template: str | None = None


@dataclass(slots=True)
class ProductRecord:
    external_id: str
    title: str
    description: str | None
    brand: str | None
    category: str | None
    price: Decimal
    compare_at_price: Decimal | None
    max_price: Decimal | None
    currency: str
    availability: str
    url: str | None
    image_url: str | None
    source_id: str | None
    data: dict[str, Any]
    variants: list[dict[str, Any]] = field(default_factory=list)
    visible_to_shoppers: bool = True
    colours: str = ""  # app.colours.product_colours: derived from the fields above


class _Row:
    """Reads one raw product's values, collecting an error per bad column."""

    __slots__ = ("errors", "row", "values")

    def __init__(self, row: int, values: Values, errors: list[RowError]) -> None:
        self.row = row
        self.values = values
        self.errors = errors

    def get(self, name: str, parse: Any, *args: Any) -> Any:
        found = self.values.get(name)
        if found is None:
            return None
        raw = found[1]
        if raw is None or (raw.__class__ is str and not raw.strip()):
            return None
        try:
            return parse(raw, *args)
        except ValueError as exc:
            self.errors.append(RowError(self.row, found[0], str(exc)))
            return None

    def text(self, name: str, limit: int = _SHORT, html: bool = False) -> str | None:
        text: str | None = self.get(name, v.clean_text, limit, html)
        return text

    def required(self, name: str, value: Any) -> Any:
        if value is None and not any(e.column == self._column(name) for e in self.errors):
            self.errors.append(RowError(self.row, self._column(name), f"{name} is required"))
        return value

    def _column(self, name: str) -> str:
        found = self.values.get(name)
        return found[0] if found else name


def _prices(row: _Row, currency: str | None) -> tuple[Decimal | None, Decimal | None, str | None]:
    """(price, compare-at price, currency named in the prices) for one product or variant."""
    regular = row.get("price", v.parse_price)
    sale = row.get("salePrice", v.parse_price)
    compare = row.get("compareAtPrice", v.parse_price)
    named = {found[1] for found in (regular, sale, compare) if found and found[1]}
    if currency is None and len(named) > 1:
        row.errors.append(RowError(row.row, row._column("price"), "prices in different currencies"))
    price = compare_at = None
    if regular is not None:
        price = regular[0]
    if sale is not None and (price is None or sale[0] < price):
        compare_at, price = price, sale[0]
    if compare is not None and price is not None and compare[0] > price:
        compare_at = compare[0]
    return price, compare_at, next(iter(named)) if len(named) == 1 else None


def _availability(row: _Row) -> str | None:
    availability: str | None = row.get("availability", v.parse_availability)
    if availability is None:
        quantity = row.get("quantity", v.parse_quantity)
        if quantity is not None:
            availability = "in_stock" if quantity > 0 else "out_of_stock"
    return availability


def _variant(raw: RawVariant, errors: list[RowError], currency: str | None) -> dict[str, Any]:
    row = _Row(raw.row, raw.values, errors)
    price, compare_at, named = _prices(row, currency)
    return {
        "row": raw.row,
        "id": row.text("id"),
        "sku": row.text("sku"),
        "title": row.text("title", LIMITS["title"]),
        "price": row.required("price", price),
        "compare_at_price": compare_at,
        "currency": named,
        "availability": _availability(row) or "in_stock",
        "quantity": row.get("quantity", v.parse_quantity),
        "gtin": row.text("gtin"),
        "url": row.get("url", v.parse_url),
        "image_url": row.get("imageUrl", v.parse_url),
        "options": {name[:100]: value[:255] for name, value in raw.options.items() if value},
    }


def _rank(availability: str) -> int:
    return v.AVAILABILITY.index(availability)


def build_record(raw: RawProduct, rules: Rules) -> tuple[ProductRecord | None, list[RowError]]:
    """The valid record, or None and every reason it is not."""
    if any(error.column is None for error in raw.errors):
        # Not an object, not JSON, ragged: its values are not where they claim to be, so
        # per-column complaints would only be noise.
        return None, list(raw.errors)
    errors = list(raw.errors)
    row = _Row(raw.row, raw.values, errors)
    external_id = row.required("id", row.text("id", LIMITS["id"]))
    title = row.required("title", row.text("title", LIMITS["title"]))
    currency = row.get("currency", v.parse_currency)
    variants = [_variant(variant, errors, currency) for variant in raw.variants]
    max_price = None
    if variants:
        # One product, priced from its variants: a parent's own price (WooCommerce's variable
        # products have none) and stock do not count; in stock when any variant is.
        priced = [item for item in variants if item["price"] is not None]
        cheapest = min(priced, key=lambda item: item["price"], default=None)
        price = cheapest["price"] if cheapest else None
        compare_at = cheapest["compare_at_price"] if cheapest else None
        dearest = max((item["price"] for item in priced), default=None)
        max_price = dearest if price is not None and dearest != price else None
        named = {item["currency"] for item in variants if item["currency"]}
        availability = min((item["availability"] for item in variants), key=_rank)
    else:
        price, compare_at, named_one = _prices(row, currency)
        named = {named_one} if named_one else set()
        availability = _availability(row) or "in_stock"
        row.required("price", price)
    if currency is None and len(named) > 1:
        errors.append(RowError(raw.row, row._column("price"), "prices in different currencies"))
    currency = currency or (next(iter(named)) if named else rules.default_currency)
    description = row.text("description", LIMITS["description"], True)
    brand = row.text("brand", LIMITS["brand"])
    category = row.text("category", LIMITS["category"])
    url = row.get("url", v.parse_url)
    image_url = row.get("imageUrl", v.parse_url)
    extra_images = row.get("additionalImageUrls", v.parse_list) or []
    tags = row.get("tags", v.parse_list) or []
    gtin, mpn = row.text("gtin"), row.text("mpn")
    condition, group_id = row.text("condition"), row.text("groupId")
    if errors:
        return None, errors
    assert external_id is not None and title is not None and price is not None
    images = _unique_urls(image_url, raw.images, extra_images)
    if url is None and rules.product_url_template:
        url = rules.product_url_template.replace("{id}", quote(external_id, safe=""))
    data: dict[str, Any] = {}
    if len(images) > 1:
        data["images"] = images
    for key, value in (
        ("tags", tags),
        ("gtin", gtin),
        ("mpn", mpn),
        ("condition", condition),
        ("groupId", group_id),
    ):
        if value:
            data[key] = value
    attributes = {
        key[:100]: text[:1000]
        for key, text in list(raw.attributes.items())[:MAX_ATTRIBUTES]
        if text
    }
    if attributes:
        data["attributes"] = attributes
    entries = [variant_entry(item, currency) for item in variants]
    record = ProductRecord(
        external_id=external_id,
        title=title,
        description=description,
        brand=brand,
        category=category,
        price=price,
        compare_at_price=compare_at,
        max_price=max_price,
        currency=currency,
        availability=availability,
        url=url,
        image_url=images[0] if images else None,
        source_id=raw.source_id,
        data=data,
        variants=entries,
        visible_to_shoppers=raw.visible,
        colours=product_colours(title, description, data, entries),
    )
    return record, []


def _unique_urls(first: str | None, *more: list[str]) -> list[str]:
    """The main image (already checked) and the others, minus duplicates and broken links."""
    if not any(more):
        return [first] if first else []
    seen: dict[str, None] = {first: None} if first else {}
    for candidates in more:
        for candidate in candidates:
            try:
                url = v.parse_url(candidate)
            except ValueError:
                continue  # a broken image link is not worth rejecting the product for
            if url:
                seen[url] = None
    return list(seen)[:20]


def variant_entry(item: dict[str, Any], currency: str) -> dict[str, Any]:
    """A variant as `Product.variants` stores it, whatever the format: every key always
    present (None when unknown), prices as exact text in the product's currency."""
    return {
        "id": item["id"] or item["sku"],
        "sku": item["sku"],
        "title": item["title"] or " / ".join(item["options"].values()) or None,
        "options": item["options"],
        "price": v.format_price(item["price"], currency),
        "compareAtPrice": (
            v.format_price(item["compare_at_price"], currency)
            if item["compare_at_price"] is not None
            else None
        ),
        "availability": item["availability"],
        "quantity": item["quantity"],
        "gtin": item["gtin"],
        "url": item["url"],
        "imageUrl": item["image_url"],
    }
