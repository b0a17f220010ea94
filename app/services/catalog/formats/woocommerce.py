"""WooCommerce's product export CSV (Products → Export).

Simple, external and downloadable/virtual products are one row each. A `variable` product is
one row without a price, and each of its `variation` rows names it in `Parent` (its SKU, or
`id:<ID>`): grouping makes them one product whose variants are the variations (their attributes
are the options), priced from them; the rows need not be together. `grouped` products are
skipped: a page listing other products, which are in the export (and the catalog) themselves.
Drafts, private products and `Visibility in catalog: hidden` are kept from shoppers.
"""

from collections.abc import Iterator

from app.services.catalog.formats.delimited import NamedCells, ragged, read_rows
from app.services.catalog.grouping import group_variants
from app.services.catalog.records import RawProduct, Values
from app.services.catalog.source import OpenedFile

SIGNATURE = {"type", "sku", "regular price"}
_FIELDS = {
    "title": "name",
    "description": "description",
    "price": "regular price",
    "salePrice": "sale price",
    "quantity": "stock",
    "tags": "tags",
    "url": "external url",
    "brand": "brands",
}
# `Published`: 1 published, 0 draft, -1 private (and WordPress's own status names, which some
# plugins write). Blank counts as published: the column is optional.
_UNPUBLISHED = {"0", "-1", "draft", "private", "pending", "future", "trash"}


class WooCommerceParser:
    def __init__(self, opened: OpenedFile) -> None:
        self.opened = opened
        self.key_column = "SKU"

    def __iter__(self) -> Iterator[RawProduct]:
        return group_variants(self._rows)

    def _rows(self) -> Iterator[RawProduct]:
        headers, records = read_rows(self.opened, ",")
        cell = NamedCells(headers)
        for row, cells in records:
            cell.cells = cells
            kind = cell("type").split(",")[0].strip().lower()
            if kind == "grouped":
                continue
            product = _product(row, cell)
            error = ragged(row, cells, len(headers))
            if error:
                product.errors.append(error)
            # `search` (shown in search results only) stays: a shopper's question is a search.
            product.visible = cell("published").lower() not in _UNPUBLISHED and (
                cell("visibility in catalog").lower() != "hidden"
            )
            if kind == "variation":
                product.values["groupId"] = (cell.named("parent"), cell("parent"))
                product.options, product.attributes = product.attributes, {}
            elif kind == "variable":
                product.parent_of = tuple(
                    ref for ref in (cell("sku"), f"id:{cell('id')}" if cell("id") else "") if ref
                )
            yield product


def _product(row: int, cell: NamedCells) -> RawProduct:
    sku, woo_id = cell("sku"), cell("id")
    values: Values = {}
    if sku or woo_id:
        values["id"] = (cell.named("sku" if sku else "id"), sku or f"id:{woo_id}")
    if sku:
        values["sku"] = (cell.named("sku"), sku)
    values.update(cell.pick(_FIELDS))
    if "description" not in values and cell("short description"):
        values["description"] = (cell.named("short description"), cell("short description"))
    # "Clothing > Hoodies, Clothing": the first path is the most specific one listed.
    categories = cell("categories")
    if categories:
        first = categories.replace("\\,", "\x00").split(",")[0].replace("\x00", ",").strip()
        values["category"] = (cell.named("categories"), first)
    in_stock = cell("in stock?").lower()
    if in_stock:
        backorders = cell("backorders allowed?").lower() in {"1", "notify", "yes"}
        availability = {
            "1": "in_stock",
            "backorder": "backorder",
            "0": "backorder" if backorders else "out_of_stock",
        }.get(in_stock, in_stock)
        values["availability"] = (cell.named("in stock?"), availability)
    attributes: dict[str, str] = {}
    for number in range(1, 21):
        name = cell(f"attribute {number} name")
        if not name:
            break
        attributes[name] = cell(f"attribute {number} value(s)")
    if cell("button text"):
        # External products: the shop's label for its link to the seller ("Buy on ...").
        attributes[cell.named("button text")] = cell("button text")
    images = [url.strip() for url in cell("images").split(",") if url.strip()]
    return RawProduct(
        row=row, values=values, images=images, attributes=attributes, source_id=woo_id or None
    )
