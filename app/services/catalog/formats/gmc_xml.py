"""Google Merchant Center feeds in XML: RSS 2.0 `<item>`s or Atom `<entry>`s with the `g:`
namespace (`g:id`, `g:price` "15.00 USD", `g:availability`, `g:image_link`...).

Parsed with defusedxml, so DTDs and entities (the "billion laughs") are refused outright, and
incrementally: each item is read, handed on and removed from the tree.
"""

from collections.abc import Iterator, Mapping
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from app.services.catalog.grouping import group_variants
from app.services.catalog.mapping import plan_keys
from app.services.catalog.records import RawProduct
from app.services.catalog.source import FileError, OpenedFile

GOOGLE = "http://base.google.com/ns/1.0"
_ITEMS = {"item", "entry"}
_REPEATED = {"additional_image_link"}


def _name(tag: str) -> str:
    """`{http://base.google.com/ns/1.0}price` → `g:price`; other namespaces are dropped."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return f"g:{local}" if namespace == GOOGLE else local
    return tag


def _fields(item: Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for child in item:
        name = _name(child.tag)
        if len(child):  # nested groups such as g:shipping are not product fields
            continue
        text = (child.text or "").strip()
        if name == "link" and not text:
            text = child.get("href", "").strip()  # Atom: <link href="..."/>
        if not text:
            continue
        key = name.removeprefix("g:")
        if key in _REPEATED and name in fields:
            fields[name] += "," + text
        else:
            fields.setdefault(name, text)
    return fields


class GmcXmlParser:
    def __init__(self, opened: OpenedFile, field_mapping: Mapping[str, str | None]) -> None:
        self.opened = opened
        self.field_mapping = field_mapping
        self.key_column = "g:id"

    def __iter__(self) -> Iterator[RawProduct]:
        return group_variants(self._items)

    def _items(self) -> Iterator[RawProduct]:
        stack: list[Element] = []
        row = 0
        try:
            events = iterparse(self.opened.binary(), events=("start", "end"), forbid_dtd=True)
            for event, element in events:
                if event == "start":
                    stack.append(element)
                    continue
                stack.pop()
                if _name(element.tag) not in _ITEMS:
                    continue
                row += 1
                fields = _fields(element)
                # Drop the item from the tree: memory stays flat however long the feed is.
                if stack:
                    stack[-1].remove(element)
                plan = plan_keys(tuple(fields), tuple(self.field_mapping.items()))
                cells = list(fields.values())
                yield RawProduct(
                    row=row, values=plan.values(cells), attributes=plan.attributes_of(cells)
                )
        except DefusedXmlException as exc:
            raise FileError(
                "forbidden_xml",
                f"XML with a DTD or entities is refused (entity expansion attacks): {exc}",
            ) from None
        except ParseError as exc:
            raise FileError("invalid_xml", f"the XML is malformed: {exc}") from None
        if row == 0:
            raise FileError("invalid_xml", "no <item> or <entry> elements: not a GMC feed")
