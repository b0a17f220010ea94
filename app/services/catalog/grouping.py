"""Variants of one product, whatever the format: rows that name a group become one product.

Flat formats list each variant as its own row: WooCommerce's variations name their variable
product in `Parent`, Google Merchant Center items share an `item_group_id`, flat JSON objects a
`parentId` or `itemGroupId`. Shoppers should see one product with its variants (a hoodie, in
three colours, from 42 to 45), not one product per colour.

Exporters do not keep a group's rows together (WooCommerce writes products in id order, so a
variation added later comes rows after its parent), so a file with groups is read twice: the first
pass hands on the rows outside any group and counts each group's rows, the second holds a
group's rows only until its last one has arrived. Memory grows with the groups whose rows lie
far apart, never with the file; a file without groups is read once, as before.
"""

from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from app.services.catalog.mapping import normalize_header
from app.services.catalog.records import RawProduct, RawVariant, RowError, Values

# Google's variant-distinguishing attributes; the same names in CSV columns and JSON keys.
OPTION_NAMES = {
    "color": "Color",
    "colour": "Color",
    "size": "Size",
    "material": "Material",
    "pattern": "Pattern",
    "age_group": "Age group",
    "gender": "Gender",
}
# What a product inherits from its first variant when the file has no parent row for it.
_INHERITED = ("description", "brand", "category", "url", "currency", "tags", "mpn", "condition")
_TRIM = " -\u2013\u2014,:;/|(["  # with en and em dashes


def _text(values: Values, field: str) -> str | None:
    found = values.get(field)
    if found is None or found[1] is None:
        return None
    return str(found[1]).strip() or None


def _group_ref(raw: RawProduct) -> str | None:
    return None if raw.parent_of else _text(raw.values, "groupId")


def group_variants(read: Callable[[], Iterable[RawProduct]]) -> Iterator[RawProduct]:
    """The products of `read()` with each group's rows merged into one product. Rows outside
    any group come out as they are read; `read` is called a second time (it must read the
    file from the start again) only when the file has groups."""
    aliases: dict[str, str] = {}
    refs: Counter[str] = Counter()
    for raw in read():
        if raw.parent_of and (own := _text(raw.values, "id")):
            refs[own] += 1
            for alias in raw.parent_of:
                aliases[alias] = own
        elif named := _group_ref(raw):
            refs[named] += 1
        else:
            yield raw
    if not refs:
        return
    sizes: Counter[str] = Counter()
    for named, count in refs.items():
        sizes[aliases.get(named, named)] += count
    del refs
    waiting: dict[str, list[RawProduct]] = {}
    for raw in read():
        ref = _text(raw.values, "id") if raw.parent_of else _group_ref(raw)
        if ref is None:
            continue  # out already
        key = aliases.get(ref, ref)
        rows = waiting.setdefault(key, [])
        rows.append(raw)
        if len(rows) >= sizes[key]:
            del waiting[key]
            yield from _merge(key, rows)
    for key, rows in waiting.items():  # only if the second read differed from the first
        yield from _merge(key, rows)


def _merge(key: str, rows: list[RawProduct]) -> Iterator[RawProduct]:
    parents = [raw for raw in rows if raw.parent_of]
    members = [raw for raw in rows if not raw.parent_of]
    yield from parents[1:]  # a repeated parent id: reported as a duplicate, like any other
    if parents:
        product = parents[0]
        if not members:
            product.errors.append(
                RowError(product.row, None, "a variable product without its variations")
            )
            yield product
            return
    else:
        product = _from_members(key, members)
    offered = [raw for raw in members if raw.visible]
    # Disabled variations are not for sale; a group with none left stays with the merchant.
    product.visible = product.visible and bool(offered)
    varying = _varying_options(members)
    product.variants = [
        variant for raw in offered or members for variant in _variants(raw, varying)
    ]
    for raw in members:
        product.errors.extend(raw.errors)
    yield product


def _from_members(key: str, members: list[RawProduct]) -> RawProduct:
    """A product for a group the file has no parent row for: its id is the group's, its title
    what its variants' titles share ("Hoodie" of "Hoodie - Red" and "Hoodie - Blue")."""
    first = members[0]
    column = first.values["groupId"][0]
    values: Values = {"id": (column, key), "groupId": (column, key)}
    titles = [_text(raw.values, "title") or "" for raw in members]
    values["title"] = (first.values.get("title", ("title", None))[0], _shared_title(titles))
    for field in _INHERITED:
        if field in first.values:
            values[field] = first.values[field]
    images = [url for raw in members for url in _images(raw)]
    attributes = {
        name: value for name, value in first.attributes.items() if _option_name(name) is None
    }
    return RawProduct(
        row=first.row, values=values, images=images, attributes=attributes, visible=True
    )


def _shared_title(titles: list[str]) -> str:
    words = [title.split() for title in titles if title]
    if not words:
        return ""
    shared = words[0]
    for other in words[1:]:
        common = 0
        while common < min(len(shared), len(other)) and shared[common] == other[common]:
            common += 1
        shared = shared[:common]
    title = " ".join(shared).rstrip(_TRIM)
    # Nothing (or a stub) in common: the first variant's own title says more than a fragment.
    return title if len(title) >= 3 else " ".join(words[0])


def _images(raw: RawProduct) -> list[str]:
    main = _text(raw.values, "imageUrl")
    return ([main] if main else []) + raw.images


def _option_name(column: str) -> str | None:
    return OPTION_NAMES.get(normalize_header(column))


def _column_options(raw: RawProduct) -> dict[str, str]:
    options: dict[str, str] = {}
    for column, value in raw.attributes.items():
        name = _option_name(column)
        if name and value:
            options.setdefault(name, value)
    return options


def _varying_options(members: list[RawProduct]) -> set[str] | None:
    """Of the options read from columns, those whose values differ across the group: what
    tells its variants apart (a `gender` every variant shares is not a choice). None: keep
    them all (a group of one)."""
    if len(members) < 2:
        return None
    seen: dict[str, set[str]] = {}
    for raw in members:
        for name, value in _column_options(raw).items():
            seen.setdefault(name, set()).add(value)
    return {name for name, values in seen.items() if len(values) > 1}


def _variants(raw: RawProduct, varying: set[str] | None) -> list[RawVariant]:
    if raw.variants:  # a member with variants of its own (a nested JSON product)
        return raw.variants
    values = dict(raw.values)
    if raw.images and "imageUrl" not in values:
        values["imageUrl"] = ("image", raw.images[0])
    if "sku" not in values and "sku" in values.get("id", ("",))[0].lower():
        values["sku"] = values["id"]  # the id column is a SKU column (sku, variant_sku...)
    options = {name: value for name, value in raw.options.items() if value}
    if not options:
        options = {
            name: value
            for name, value in _column_options(raw).items()
            if varying is None or name in varying
        }
    return [RawVariant(row=raw.row, values=values, options=options)]
