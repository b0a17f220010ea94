"""One parser per catalog format. Each streams `RawProduct`s (with row numbers) from an
`OpenedFile` and raises `FileError` for problems that make the whole file unreadable."""

from collections.abc import Iterator, Mapping
from typing import Protocol, get_args

from app.services.catalog.records import RawProduct
from app.services.catalog.source import OpenedFile
from app.services.catalog.terms import Format

FORMATS: tuple[Format, ...] = get_args(Format)


class Parser(Protocol):
    # The column that holds the product id, named as in the file (for duplicate-id errors).
    key_column: str

    def __iter__(self) -> Iterator[RawProduct]: ...


def parser_for(format: str, opened: OpenedFile, field_mapping: Mapping[str, str | None]) -> Parser:
    """The parser of a detected or requested format (never `auto`)."""
    from app.services.catalog.formats import delimited, gmc_xml, json_lines, shopify, woocommerce

    if format in {"csv", "tsv"}:
        return delimited.DelimitedParser(
            opened, field_mapping, delimiter="\t" if format == "tsv" else None
        )
    if format == "shopify":
        return shopify.ShopifyParser(opened)
    if format == "woocommerce":
        return woocommerce.WooCommerceParser(opened)
    if format == "json":
        return json_lines.JsonParser(opened, field_mapping)
    if format == "ndjson":
        return json_lines.NdjsonParser(opened, field_mapping)
    if format == "gmc":
        return gmc_xml.GmcXmlParser(opened, field_mapping)
    raise ValueError(f"unknown format {format!r}")
