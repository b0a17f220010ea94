"""JSON catalogs: an array of products, `{"products": [...]}`, or NDJSON (one per line).

Arrays are read element by element from the stream (`JSONDecoder.raw_decode` over a sliding
buffer), so a large file never sits in memory whole. Numbers are decoded as `Decimal`, keeping
prices exact. Objects may be flat (`{"sku", "title", "price"}`) or shaped like Shopify's API
(`handle`, `body_html`, `variants`, `images`); `object_to_raw` is shared with inbound webhooks.
"""

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, TextIO

from app.services.catalog.grouping import group_variants
from app.services.catalog.mapping import plan_keys
from app.services.catalog.records import RawProduct, RawVariant, RowError
from app.services.catalog.source import MAX_LINE, FileError, OpenedFile

_CHUNK = 64 * 1024
_WHITESPACE = " \t\r\n"
_VARIANT_KEYS = {
    "id": ("sku", "id"),
    "sku": ("sku",),
    "title": ("title", "name"),
    "price": ("price", "regular_price"),
    "salePrice": ("sale_price", "salePrice"),
    "compareAtPrice": ("compare_at_price", "compareAtPrice"),
    "quantity": ("inventory_quantity", "quantity", "stock", "stock_quantity"),
    "availability": ("availability", "available", "stock_status"),
    "gtin": ("barcode", "gtin"),
    "url": ("url", "link"),
    "imageUrl": ("image_url", "imageUrl", "image"),
}
# Shopify's statuses and WordPress's: products the shop does not show.
_HIDDEN_STATUS = {"draft", "archived", "private", "pending"}


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def object_to_raw(obj: Any, row: int, field_mapping: Mapping[str, str | None]) -> RawProduct:
    """A decoded JSON product as a RawProduct (errors on it when it is not an object)."""
    if not isinstance(obj, dict):
        return RawProduct(row=row, values={}, errors=[RowError(row, None, "expected an object")])
    flat = dict(obj)
    price = flat.get("price")
    if isinstance(price, dict):  # {"amount": "19.99", "currency": "EUR"}
        flat["price"] = price.get("amount", price.get("value"))
        flat.setdefault("currency", price.get("currency", price.get("currency_code")))
    source_id = None
    if flat.get("handle") not in (None, ""):
        # Shopify-shaped: the handle is the key (as in Shopify's CSV); the number is its id.
        source_id = str(flat.pop("id")).replace("\x00", "")[:64] if flat.get("id") else None
        flat["id"] = flat.pop("handle")
    variants = flat.pop("variants", None)
    images = flat.pop("images", None)
    image = flat.get("image")
    if isinstance(image, dict):
        flat["image"] = image.get("src")
    categories = flat.get("categories")
    if isinstance(categories, list) and categories:
        first = categories[0]
        flat["categories"] = first.get("name") if isinstance(first, dict) else first
    visible = _visible(flat)
    options = flat.pop("options") if isinstance(flat.get("options"), dict) else {}
    mapping = tuple(field_mapping.items())
    keys = tuple(key for key in flat if isinstance(key, str))
    plan = plan_keys(keys, mapping)
    cells = [flat[key] for key in keys]
    raw = RawProduct(
        row=row,
        values=plan.values(cells),
        attributes=plan.attributes_of(cells),
        source_id=source_id,
        visible=visible,
        options={str(k): str(v) for k, v in options.items() if v not in (None, "")},
    )
    if isinstance(images, list):
        raw.images = [
            str(item.get("src")) if isinstance(item, dict) else str(item) for item in images if item
        ][:20]
    if isinstance(variants, list):
        options = _option_names(obj)
        raw.variants = [_variant(item, row, options) for item in variants[:250]]
        bad = [item for item in variants if not isinstance(item, dict)]
        if bad:
            raw.errors.append(RowError(row, "variants", "each variant must be an object"))
    return raw


def _visible(flat: dict[str, Any]) -> bool:
    """`status: draft` (Shopify, WordPress), `published: false` or `visible: false` hide a
    product from shoppers; the keys are consumed, not kept as attributes."""
    status = flat.pop("status", None)
    published, visible = flat.pop("published", True), flat.pop("visible", True)
    return not (
        (isinstance(status, str) and status.strip().lower() in _HIDDEN_STATUS)
        or published in (False, 0, "false", "0")
        or visible in (False, 0, "false", "0")
    )


def _option_names(obj: dict[str, Any]) -> list[str]:
    options = obj.get("options")
    if not isinstance(options, list):
        return []
    return [str(item.get("name")) for item in options if isinstance(item, dict)]


def _variant(item: Any, row: int, option_names: list[str]) -> RawVariant:
    if not isinstance(item, dict):
        return RawVariant(row=row, values={})
    values = {}
    for field, keys in _VARIANT_KEYS.items():
        for key in keys:
            if item.get(key) not in (None, ""):
                values[field] = (f"variants.{key}", item[key])
                break
    if "inventory_management" in item and not item["inventory_management"]:
        # Shopify sells a variant whose stock it does not track whatever the count says.
        values["availability"] = ("variants.inventory_management", "in_stock")
    elif item.get("inventory_policy") == "continue" and "quantity" in values:
        quantity = values["quantity"][1]
        if isinstance(quantity, int) and quantity <= 0:
            values["availability"] = ("variants.inventory_policy", "backorder")
    image = values.get("imageUrl")
    if image and isinstance(image[1], dict):
        values["imageUrl"] = (image[0], image[1].get("src"))
    named = item.get("options")
    options = (
        {str(name): str(value) for name, value in named.items() if value not in (None, "")}
        if isinstance(named, dict)
        else {}
    )
    for number in (1, 2, 3):
        value = item.get(f"option{number}")
        name = option_names[number - 1] if number <= len(option_names) else f"Option {number}"
        if value and not (name == "Title" and value == "Default Title"):
            options[name] = str(value)
    return RawVariant(row=row, values=values, options=options)


class _Scanner:
    """A cursor over a text stream that decodes one JSON value at a time."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buffer = ""
        self.position = 0
        self.eof = False

    def _fill(self, at_least: int = _CHUNK) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(max(at_least, _CHUNK))
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return True

    def peek(self) -> str:
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in _WHITESPACE:
                self.position += 1
            if self.position < len(self.buffer):
                return self.buffer[self.position]
            if not self._fill():
                return ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = self.peek() or "the end of the file"
            raise FileError("invalid_json", f"expected {what}, found {found!r}")
        self.position += 1

    def value(self, where: str) -> Any:
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as exc:
                pending = len(self.buffer) - self.position
                # Incomplete (the value goes on past the buffer) or wrong: read on to find out,
                # up to the size one product may have.
                if pending < MAX_LINE and self._fill(at_least=pending):
                    continue
                if pending >= MAX_LINE:
                    raise FileError(
                        "invalid_json", f"{where} is larger than {MAX_LINE} characters"
                    ) from None
                raise FileError("invalid_json", f"{where}: {exc.msg}") from None
            except RecursionError:
                raise FileError("invalid_json", f"{where} is nested too deeply") from None
            except ValueError as exc:  # NaN, Infinity
                raise FileError("invalid_json", f"{where}: {exc}") from None
            # A number at the very end of the buffer may continue in the next chunk.
            at_end = end == len(self.buffer) and isinstance(value, int | Decimal)
            if at_end and not self.eof and self._fill():
                continue
            self.position = end
            return value


class JsonParser:
    def __init__(self, opened: OpenedFile, field_mapping: Mapping[str, str | None]) -> None:
        self.opened = opened
        self.field_mapping = field_mapping
        self.key_column = "id"

    def __iter__(self) -> Iterator[RawProduct]:
        return group_variants(self._products)

    def _products(self) -> Iterator[RawProduct]:
        try:
            scanner = _Scanner(self.opened.text())
            first = scanner.peek()
            if first == "{":
                self._seek_products(scanner)
            elif first != "[":
                raise FileError(
                    "invalid_json", 'expected a JSON array of products or {"products": [...]}'
                )
            yield from self._elements(scanner)
        except UnicodeDecodeError as exc:
            raise FileError("invalid_encoding", f"undecodable text: {exc.reason}") from None

    @staticmethod
    def _seek_products(scanner: _Scanner) -> None:
        """Move to the `products` array of the top-level object, skipping other keys."""
        scanner.expect("{", "{")
        while True:
            if scanner.peek() == "}":
                raise FileError("invalid_json", 'the object has no "products" array')
            key = scanner.value("a key")
            if not isinstance(key, str):
                raise FileError("invalid_json", "expected a string key")
            scanner.expect(":", "':'")
            if key == "products":
                if scanner.peek() != "[":
                    raise FileError("invalid_json", '"products" must be an array')
                return
            scanner.value(f'the value of "{key}"')
            if scanner.peek() == ",":
                scanner.position += 1

    def _elements(self, scanner: _Scanner) -> Iterator[RawProduct]:
        scanner.expect("[", "[")
        if scanner.peek() == "]":
            return
        row = 0
        while True:
            row += 1
            value = scanner.value(f"product {row}")
            yield object_to_raw(value, row, self.field_mapping)
            separator = scanner.peek()
            if separator == "]":
                return
            scanner.expect(",", f"',' or ']' after product {row}")


class NdjsonParser:
    """One JSON object per line; a bad line is that row's error, the rest still import."""

    def __init__(self, opened: OpenedFile, field_mapping: Mapping[str, str | None]) -> None:
        self.opened = opened
        self.field_mapping = field_mapping
        self.key_column = "id"

    def __iter__(self) -> Iterator[RawProduct]:
        return group_variants(self._products)

    def _products(self) -> Iterator[RawProduct]:
        for row, line in enumerate(self.opened.lines(), start=1):
            if not line.strip():
                continue
            reason: str | None
            try:
                value = _DECODER.decode(line)
            except RecursionError:
                value, reason = None, "nested too deeply"
            except ValueError as exc:
                value, reason = None, f"not valid JSON: {exc}"
            else:
                reason = None
            if reason is not None:
                yield RawProduct(row=row, values={}, errors=[RowError(row, None, reason)])
                continue
            yield object_to_raw(value, row, self.field_mapping)
