"""Shopify's product export CSV.

Rows are grouped by `Handle`: the first row of a handle carries the product (title, body,
vendor, option names) and its first variant; the following rows add variants (option values,
SKU, price) and images. A product is keyed by its handle, as Shopify's URLs and webhooks are.
Drafts, archived and unpublished products are imported but kept from shoppers.
"""

from collections.abc import Iterator

from app.services.catalog.formats.delimited import NamedCells, ragged, read_rows
from app.services.catalog.records import RawProduct, RawVariant
from app.services.catalog.source import OpenedFile
from app.services.catalog.values import parse_quantity

# The headers that make a file a Shopify export.
SIGNATURE = {"handle", "variant price"}
_PRODUCT = {"title": "title", "description": "body (html)", "brand": "vendor", "tags": "tags"}
_CATEGORY = ("product category", "type")
_VARIANT = {
    "id": "variant sku",
    "price": "variant price",
    "compareAtPrice": "variant compare at price",
    "gtin": "variant barcode",
    "imageUrl": "variant image",
}
_HIDDEN_STATUS = {"draft", "archived"}


class ShopifyParser:
    def __init__(self, opened: OpenedFile) -> None:
        self.opened = opened
        self.key_column = "Handle"

    def __iter__(self) -> Iterator[RawProduct]:
        headers, records = read_rows(self.opened, ",")
        cell = NamedCells(headers)
        current: RawProduct | None = None
        option_names: list[str] = []
        for row, cells in records:
            cell.cells = cells
            handle = cell("handle")
            if current is None or handle != current.values["id"][1]:
                if current is not None:
                    yield current
                current = _product(row, cell)
                current.visible = cell("status").lower() not in _HIDDEN_STATUS and (
                    cell("published").lower() != "false"
                )
                option_names = [cell(f"option{n} name") for n in (1, 2, 3)]
            error = ragged(row, cells, len(headers))
            if error:
                current.errors.append(error)
            if cell("variant price") or cell("variant sku") or cell("option1 value"):
                current.variants.append(_variant(row, cell, option_names))
            if cell("image src"):
                current.images.append(cell("image src"))
        if current is not None:
            yield current


def _product(row: int, cell: NamedCells) -> RawProduct:
    values = {"id": (cell.named("handle"), cell("handle")), **cell.pick(_PRODUCT)}
    for name in _CATEGORY:
        if cell(name):
            values["category"] = (cell.named(name), cell(name))
            break
    return RawProduct(row=row, values=values)


def _variant(row: int, cell: NamedCells, option_names: list[str]) -> RawVariant:
    values = cell.pick(_VARIANT)
    if "id" in values:
        values["sku"] = values["id"]
    quantity = cell("variant inventory qty")
    qty_column = cell.named("variant inventory qty")
    if quantity:
        values["quantity"] = (qty_column, quantity)
    if not cell("variant inventory tracker"):
        # Shopify sells a variant whose stock it does not track whatever the count says.
        values["availability"] = (qty_column, "in_stock")
    elif quantity:
        try:
            in_stock = parse_quantity(quantity) > 0
        except ValueError:
            in_stock = None  # the record builder reports the bad quantity
        if in_stock is not None:
            backorder = cell("variant inventory policy").lower() == "continue"
            availability = "in_stock" if in_stock else "backorder" if backorder else "out_of_stock"
            values["availability"] = (qty_column, availability)
    options = {}
    for number, name in enumerate(option_names, start=1):
        value = cell(f"option{number} value")
        if value and not (name == "Title" and value == "Default Title"):
            options[name or f"Option {number}"] = value
    return RawVariant(row=row, values=values, options=options)
