"""WooCommerce's product export CSV (Products → Export).

Simple and external products are one row each. A variable product's row is followed by its
variation rows (that is how WooCommerce's exporter writes them, parent first): they become the
product's variants. A variation whose parent is not the row before its siblings becomes a
product of its own, grouped by its parent. Drafts, private products and grouped products
(collections without a price) are skipped.
"""

from collections import OrderedDict
from collections.abc import Iterator

from app.services.catalog.formats.delimited import NamedCells, ragged, read_rows
from app.services.catalog.records import RawProduct, RawVariant, Values
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
_INHERITED = ("description", "brand", "category", "tags")
_REMEMBERED_PARENTS = 1000


class WooCommerceParser:
    def __init__(self, opened: OpenedFile) -> None:
        self.opened = opened
        self.key_column = "SKU"

    def __iter__(self) -> Iterator[RawProduct]:
        headers, records = read_rows(self.opened, ",")
        cell = NamedCells(headers)
        pending: RawProduct | None = None  # a variable product collecting its variations
        pending_refs: set[str] = set()
        # Recent variable products, for orphan variations to inherit their description from.
        parents: OrderedDict[str, RawProduct] = OrderedDict()
        for row, cells in records:
            cell.cells = cells
            kind = cell("type").split(",")[0].strip().lower()
            if kind == "grouped" or cell("published") in {"0", "-1"}:
                continue
            product = _product(row, cell)
            error = ragged(row, cells, len(headers))
            if error:
                product.errors.append(error)
            if kind == "variation":
                parent_ref = cell("parent")
                if pending is not None and parent_ref in pending_refs:
                    pending.variants.append(_variant(product))
                    pending.errors.extend(product.errors)
                    continue
                parent = parents.get(parent_ref)
                for field in _INHERITED:
                    if parent is not None and field in parent.values:
                        product.values.setdefault(field, parent.values[field])
                if parent_ref:
                    product.values.setdefault("groupId", (cell.named("parent"), parent_ref))
                yield product
                continue
            if pending is not None:
                yield pending
                pending = None
            if kind == "variable":
                pending = product
                pending_refs = {ref for ref in (cell("sku"), f"id:{cell('id')}") if ref}
                for ref in pending_refs:
                    parents[ref] = product
                    parents.move_to_end(ref)
                while len(parents) > _REMEMBERED_PARENTS:
                    parents.popitem(last=False)
                continue
            yield product
        if pending is not None:
            yield pending


def _product(row: int, cell: NamedCells) -> RawProduct:
    sku, woo_id = cell("sku"), cell("id")
    values: Values = {}
    if sku or woo_id:
        values["id"] = (cell.named("sku" if sku else "id"), sku or f"id:{woo_id}")
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
    images = [url.strip() for url in cell("images").split(",") if url.strip()]
    return RawProduct(
        row=row, values=values, images=images, attributes=attributes, source_id=woo_id or None
    )


def _variant(variation: RawProduct) -> RawVariant:
    values = dict(variation.values)
    if variation.images:
        values["imageUrl"] = ("Images", variation.images[0])
    return RawVariant(row=variation.row, values=values, options=variation.attributes)
