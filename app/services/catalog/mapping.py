"""Which column holds which field: header aliases, then the merchant's `fieldMapping`.

Generic files name their columns every which way (`name`/`title`, `sku`/`id`, `image_link`...).
A `ColumnPlan` is worked out once per header and then reads each row by position.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from app.services.catalog.records import Values

# In order of preference: when a file has both `id` and `sku`, `id` is the key and each row
# falls back to the next candidate column only when the preferred one is blank.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "external_id",
        "sku",
        "product_id",
        "item_id",
        "offer_id",
        "variant_sku",
        "article_number",
        "item_number",
        "handle",
    ),
    "title": ("title", "name", "product_name", "product_title", "item_name"),
    "description": (
        "description",
        "body_html",
        "body",
        "long_description",
        "product_description",
        "details",
        "short_description",
    ),
    "price": ("price", "regular_price", "list_price", "base_price", "unit_price", "amount"),
    "salePrice": ("sale_price", "special_price", "offer_price", "discount_price"),
    "compareAtPrice": ("compare_at_price", "was_price", "original_price", "msrp"),
    "currency": ("currency", "currency_code"),
    "availability": ("availability", "stock_status", "in_stock", "instock"),
    "quantity": (
        "quantity",
        "qty",
        "stock",
        "stock_quantity",
        "inventory",
        "inventory_quantity",
    ),
    "brand": ("brand", "vendor", "manufacturer", "make"),
    "category": (
        "category",
        "categories",
        "product_category",
        "product_type",
        "google_product_category",
    ),
    "url": ("url", "link", "product_url", "product_link", "permalink", "page_url"),
    "imageUrl": ("image_url", "image_link", "image", "image_src", "picture", "main_image"),
    "additionalImageUrls": (
        "additional_image_link",
        "additional_image_urls",
        "additional_images",
        "images",
    ),
    "tags": ("tags", "keywords", "labels"),
    "gtin": ("gtin", "ean", "upc", "barcode", "isbn"),
    "mpn": ("mpn",),
    "condition": ("condition",),
    "groupId": ("item_group_id", "group_id", "parent_id", "parent_sku"),
}
_FIELD_OF = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_NORMALIZE = re.compile(r"[^0-9a-z:]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def normalize_header(header: str) -> str:
    """`Image Link`, `image-link`, `g:image_link`, `imageLink` → `image_link`."""
    name = _CAMEL.sub("_", header.strip().lstrip("\ufeff"))
    name = _NORMALIZE.sub("_", name.lower()).strip("_")
    return name.removeprefix("g:")


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    # canonical field -> candidate (position, column name) in order of preference
    fields: tuple[tuple[str, tuple[tuple[int, str], ...]], ...]
    # unmapped columns, kept as product attributes
    attributes: tuple[tuple[int, str], ...]

    def has(self, field: str) -> bool:
        return any(name == field for name, _ in self.fields)

    def values(self, cells: Sequence[object]) -> Values:
        found: Values = {}
        size = len(cells)
        for name, candidates in self.fields:
            for position, column in candidates:
                if position < size:
                    cell = cells[position]
                    if cell is not None and (not isinstance(cell, str) or cell.strip()):
                        found[name] = (column, cell)
                        break
            else:
                # Blank everywhere: still say which column, for "id is required" errors.
                found[name] = (candidates[0][1], None)
        return found

    def attributes_of(self, cells: Sequence[object]) -> dict[str, str]:
        size = len(cells)
        return {
            column: str(cells[position]).strip()
            for position, column in self.attributes
            if position < size
            and cells[position] not in (None, "")
            and not isinstance(cells[position], dict | list)
        }


def plan_columns(headers: Sequence[str], field_mapping: Mapping[str, str | None]) -> ColumnPlan:
    """Map each header to a field: the merchant's mapping first, then the aliases."""
    by_field: dict[str, list[tuple[int, str]]] = {}
    attributes: list[tuple[int, str]] = []
    mapping_exact = dict(field_mapping)
    mapping_loose = {normalize_header(column): field for column, field in field_mapping.items()}
    aliased: list[tuple[int, int, str, str]] = []  # (preference, position, column, field)
    for position, header in enumerate(headers):
        if header in mapping_exact or normalize_header(header) in mapping_loose:
            field = mapping_exact.get(header, mapping_loose.get(normalize_header(header)))
            if field is not None:  # None: the merchant asked to ignore this column
                by_field.setdefault(field, []).append((position, header))
            continue
        name = normalize_header(header)
        field = _FIELD_OF.get(name)
        if field is None:
            if name:
                attributes.append((position, header.strip()))
            continue
        aliased.append((ALIASES[field].index(name), position, header, field))
    for _, position, header, field in sorted(aliased):
        by_field.setdefault(field, []).append((position, header))
    return ColumnPlan(
        fields=tuple((name, tuple(candidates)) for name, candidates in by_field.items()),
        attributes=tuple(attributes),
    )


@lru_cache(maxsize=256)
def plan_keys(keys: tuple[str, ...], mapping: tuple[tuple[str, str | None], ...]) -> ColumnPlan:
    """The plan for a JSON object's keys; objects of one file mostly share them, hence cached."""
    return plan_columns(keys, dict(mapping))
