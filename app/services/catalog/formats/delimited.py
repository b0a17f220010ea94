"""Generic delimited files: CSV, TSV, semicolon- or pipe-separated, GMC's TSV feed.

The delimiter is sniffed from the header line; columns are matched by alias or `fieldMapping`;
quoted fields may span lines. Shopify and WooCommerce exports reuse `read_rows`.
"""

import csv
import itertools
from collections.abc import Iterator, Mapping

from app.services.catalog.grouping import group_variants
from app.services.catalog.mapping import plan_columns
from app.services.catalog.records import RawProduct, RowError, Values
from app.services.catalog.source import MAX_LINE, FileError, OpenedFile

# Process-wide, and only ever raised: a field may be as long as a line may be.
csv.field_size_limit(MAX_LINE)
_DELIMITERS = (",", ";", "\t", "|")
_REQUIRED = {"id": "an id (id, sku...)", "title": "a title (title, name...)"}


def sniff_delimiter(header_line: str) -> str:
    """The candidate the header line uses most; a comma when it uses none (one column)."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in _DELIMITERS}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def read_rows(
    opened: OpenedFile, delimiter: str | None = None
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and then (row number, cells) per record; the header is row 1."""
    lines = opened.lines()
    first = next(lines, None)
    if first is None:
        raise FileError("empty_file", "the file is empty")
    reader = csv.reader(
        itertools.chain([first], lines), delimiter=delimiter or sniff_delimiter(first)
    )
    try:
        headers = next(reader)
    except csv.Error as exc:
        raise FileError("invalid_csv", f"the header row cannot be read: {exc}") from None
    if not any(header.strip() for header in headers):
        raise FileError("invalid_csv", "the first row must name the columns")

    def records() -> Iterator[tuple[int, list[str]]]:
        row = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileError("invalid_csv", f"row {row + 1}: {exc}") from None
            row += 1
            if cells and any(cell.strip() for cell in cells):
                yield row, cells

    return headers, records()


def ragged(row: int, cells: list[str], width: int) -> RowError | None:
    """A row with more or fewer cells than the header: usually broken quoting upstream."""
    if len(cells) == width or (len(cells) > width and not any(c.strip() for c in cells[width:])):
        return None
    return RowError(row, None, f"expected {width} values as in the header, found {len(cells)}")


class DelimitedParser:
    def __init__(
        self,
        opened: OpenedFile,
        field_mapping: Mapping[str, str | None],
        *,
        delimiter: str | None = None,
    ) -> None:
        self.opened = opened
        self.field_mapping = field_mapping
        self.delimiter = delimiter
        self.key_column = "id"

    def __iter__(self) -> Iterator[RawProduct]:
        return group_variants(self._rows)

    def _rows(self) -> Iterator[RawProduct]:
        headers, records = read_rows(self.opened, self.delimiter)
        plan = plan_columns(headers, self.field_mapping)
        missing = [text for field, text in _REQUIRED.items() if not plan.has(field)]
        if not (plan.has("price") or plan.has("salePrice")):
            missing.append("a price (price, sale_price...)")
        if missing:
            shown = ", ".join(header.strip() for header in headers[:12])
            raise FileError(
                "missing_columns",
                f"no column for {', '.join(missing)} among [{shown}]; rename the columns or "
                "map them with the sync config's fieldMapping",
            )
        self.key_column = dict(plan.fields)["id"][0][1]
        width = len(headers)
        for row, cells in records:
            error = ragged(row, cells, width)
            yield RawProduct(
                row=row,
                values=plan.values(cells),
                attributes=plan.attributes_of(cells),
                errors=[error] if error else [],
            )


class NamedCells:
    """A row's cells by lower-cased header name, for exports with fixed headers."""

    __slots__ = ("cells", "headers", "position")

    def __init__(self, headers: list[str]) -> None:
        self.headers = {header.strip().lower(): header.strip() for header in headers}
        self.position = {header.strip().lower(): i for i, header in enumerate(headers)}
        self.cells: list[str] = []

    def __call__(self, name: str) -> str:
        index = self.position.get(name)
        return self.cells[index].strip() if index is not None and index < len(self.cells) else ""

    def named(self, name: str) -> str:
        return self.headers.get(name, name)

    def pick(self, fields: dict[str, str]) -> Values:
        return {
            field: (self.named(name), self(name)) for field, name in fields.items() if self(name)
        }
