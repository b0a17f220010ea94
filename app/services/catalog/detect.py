"""Which format a catalog file is, from its first bytes, helped by its name and content type.

The content decides; names and types only break ties (JSON vs NDJSON), because merchants'
tools send `application/octet-stream` or `text/plain` for everything.
"""

import json
from decimal import Decimal

from app.services.catalog.formats.delimited import sniff_delimiter
from app.services.catalog.formats.shopify import SIGNATURE as SHOPIFY
from app.services.catalog.formats.woocommerce import SIGNATURE as WOOCOMMERCE
from app.services.catalog.source import FileError

_NDJSON_HINTS = ("ndjson", "jsonl", "json-seq", "x-json-stream")


def detect_format(head: str, *, content_type: str | None, filename: str | None) -> str:
    """One of csv, tsv, shopify, woocommerce, json, ndjson, gmc."""
    text = head.lstrip("\ufeff \t\r\n")
    hints = f"{content_type or ''} {filename or ''}".lower()
    if text.startswith("<"):
        return "gmc"
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        if any(hint in hints for hint in _NDJSON_HINTS):
            return "ndjson"
        return "json" if _single_object(text) else "ndjson"
    first_line = text.split("\n", 1)[0]
    delimiter = sniff_delimiter(first_line)
    headers = {cell.strip().strip('"').lower() for cell in first_line.split(delimiter)}
    if headers >= SHOPIFY:
        return "shopify"
    if headers >= WOOCOMMERCE:
        return "woocommerce"
    if not text:
        raise FileError("empty_file", "the file is empty")
    return "tsv" if delimiter == "\t" else "csv"


def _single_object(text: str) -> bool:
    """A file that starts with an object is NDJSON unless that object is the whole first line
    of a `{"products": [...]}` document, or spans several lines."""
    first_line = text.split("\n", 1)[0]
    try:
        value = json.loads(first_line, parse_float=Decimal)
    except (ValueError, RecursionError):
        return True  # an object spread over lines: a pretty-printed JSON document
    return isinstance(value, dict) and "products" in value
