"""Find the merchant's products that best answer a question (DESIGN §9).

Uses the catalog's own search index, read-only: SQLite's FTS5 table `products_fts` (ranked
by bm25 with column weights) or PostgreSQL's generated `products.search` tsvector (GIN,
ranked by ts_rank_cd, cover density, with title > brand/category > description weights).

Attempts go from the strictest to the loosest. Each requires all of its words (AND: selective,
so fast on large catalogs): all the question's words, then its main noun phrase ("family
camping tent" of "family camping tent for 4 people"), then the head noun alone ("tent"). When
nothing matches, filters are relaxed (the inferred category, then the colour, then the brand)
and the reply says so. After those come products matching any of the words, and last the
filters alone. The first attempt that finds anything sets the filters; later attempts under
the same filters only top up a short list, so what the reply says about the list stays true.
Within an attempt: in stock before backorder/preorder before out of stock, then rank (or
price, for "the cheapest").
"""

import functools
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    bindparam,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.colours import pattern
from app.db.models import Product, stock_tier
from app.services.catalog.values import format_price
from app.services.chat.hints import Hints
from app.services.chat.text import Term, alternatives

DEFAULT_LIMIT = 4
# A long question's first words carry its subject; more terms only slow the OR tier down.
MAX_TERMS = 8
SNIPPET_CHARS = 300
# PostgreSQL ranks at most this many matching products per query (see `_ranked`).
POOL = 100
# bm25 weights for products_fts's columns: title, external_id, brand, category, description.
_BM25 = "bm25(products_fts, 10.0, 5.0, 6.0, 4.0, 1.0)"


@dataclass(frozen=True, slots=True)
class FoundProduct:
    id: str
    title: str
    price: Decimal
    currency: str
    url: str | None
    image_url: str | None
    availability: str
    brand: str | None
    category: str | None
    snippet: str | None  # the description's start: context for the LLM, never shown as a card
    key: int = 0  # products.pk: the row of the product's vector in the semantic index

    @property
    def price_text(self) -> str:
        return format_price(self.price, self.currency)

    def card(self) -> dict[str, Any]:
        """The product card as the API returns and stores it (camelCase)."""
        return {
            "id": self.id,
            "title": self.title,
            "price": self.price_text,
            "currency": self.currency,
            "url": self.url,
            "imageUrl": self.image_url,
            "availability": self.availability,
            "brand": self.brand,
        }


@dataclass(frozen=True, slots=True)
class Retrieval:
    products: tuple[FoundProduct, ...]
    hints: Hints
    # Filters dropped to find anything: category, colour, brand, terms.
    relaxed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Filters:
    price_min: Decimal | None
    price_max: Decimal | None
    brand: str | None
    categories: tuple[str, ...]
    colours: tuple[str, ...]
    in_stock_only: bool

    @property
    def narrowing(self) -> bool:
        """Filters that alone describe a useful list (a price alone does not)."""
        return bool(self.brand or self.categories)


@dataclass(frozen=True, slots=True)
class _Attempt:
    relaxed: tuple[str, ...]
    filters: _Filters
    groups: list[tuple[Term, ...]]  # each group must match (AND); its terms are alternatives
    every: bool = True  # False: any single term is enough (the last resort)
    all_words: bool = False  # the groups are every word of the question


@dataclass(frozen=True, slots=True)
class Lexical:
    products: tuple[FoundProduct, ...]
    relaxed: tuple[str, ...]
    # Found by all of a word set (not by any single word, nor by the filters alone).
    matched_words: bool
    # ... and that word set was all of the question's words (not its main phrase or noun).
    matched_all: bool = False


async def lexical(
    session: AsyncSession,
    merchant_id: str,
    hints: Hints,
    *,
    limit: int = DEFAULT_LIMIT,
    any_word: bool = True,
) -> Lexical:
    """The full-text search's products. `any_word=False` skips the loosest tier (products
    matching any one word), for a caller that has a better fallback (semantic search)."""
    if (await session.connection()).dialect.name == "postgresql":
        # Full-text matches are found through the GIN index. With prefix words the planner's
        # row estimates are rough, and a sequential scan over a large catalog (wide rows:
        # descriptions and their tsvector) takes many times longer than the index; this
        # transaction's searches must not gamble on it.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
    found: list[FoundProduct] = []
    relaxed: tuple[str, ...] | None = None
    matched_words = matched_all = False
    for attempt in _attempts(hints):
        if relaxed is not None and attempt.relaxed != relaxed:
            continue  # a top-up keeps the filters the first results were found with
        if not attempt.every and not any_word:
            continue
        seen = [product.id for product in found]
        more = await _search(session, merchant_id, attempt, hints.sort, limit - len(found), seen)
        if more:
            if relaxed is None:
                relaxed = attempt.relaxed
                matched_words = bool(attempt.groups) and attempt.every
                matched_all = matched_words and attempt.all_words
            found += more
            if len(found) >= limit:
                break
    return Lexical(tuple(found), relaxed or (), matched_words, matched_all)


async def by_keys(
    session: AsyncSession, merchant_id: str, hints: Hints, keys: list[int], *, relax: bool
) -> tuple[dict[int, FoundProduct], tuple[str, ...]]:
    """The products of `keys` that are the merchant's and pass the question's filters, and
    which filters were dropped (none). With `relax`, when none passes them all, the filters
    are relaxed in the same steps as the full-text search's, until some pass."""
    if not keys:
        return {}, ()
    steps = _relaxations(_full_filters(hints))
    for relaxed, filters in steps if relax else steps[:1]:
        params = _params(merchant_id, filters) | {"keys": keys}
        rows = await session.execute(_by_keys(_Shape.of(filters)), params)
        found = {product.key: product for product in map(_found, rows)}
        if found:
            return found, relaxed
    return {}, ()


def _word_sets(hints: Hints) -> list[list[tuple[Term, ...]]]:
    """All words, the main phrase, the head noun: distinct, strictest first."""
    sets: list[tuple[str, ...]] = []
    for words in (hints.terms[:MAX_TERMS], hints.phrase[:MAX_TERMS], hints.phrase[-1:]):
        if words and words not in sets:
            sets.append(words)
    return [[alternatives(word) for word in words] for words in sets]


def _full_filters(hints: Hints) -> _Filters:
    return _Filters(
        hints.price_min,
        hints.price_max,
        hints.brand,
        hints.categories,
        hints.colours,
        hints.in_stock_only,
    )


def _attempts(hints: Hints) -> list[_Attempt]:
    full = _full_filters(hints)
    word_sets = _word_sets(hints)
    if not word_sets:
        return [_Attempt((), full, [])]
    relaxations = _relaxations(full)
    # Words before filters: "Patagonia hiking boots" shows hiking boots of other brands (and
    # says so) rather than Patagonia's hiking pants.
    attempts = [
        _Attempt(relaxed, filters, groups, all_words=groups is word_sets[0])
        for groups in word_sets
        for relaxed, filters in relaxations
    ]
    if len(word_sets[0]) > 1:
        attempts += [
            _Attempt(relaxed, filters, word_sets[0], every=False)
            for relaxed, filters in relaxations
        ]
    if full.narrowing:
        attempts.append(_Attempt(("terms",), full, []))
    return attempts


def _relaxations(full: _Filters) -> list[tuple[tuple[str, ...], _Filters]]:
    """The filters from strictest to loosest, each with the names of those dropped (each step
    drops more). The inferred category goes first (the shopper did not name it), then the
    colour: "a red Nike hoodie", when Nike has none in red, shows Nike's hoodies (and says so).
    The names of a step are cumulative, so fewer names mean stricter filters."""
    steps: list[tuple[tuple[str, ...], _Filters]] = [((), full)]
    if full.categories:
        steps.append((("category",), replace(full, categories=())))
    if full.colours:
        steps.append((("category", "colour"), replace(full, categories=(), colours=())))
    if full.brand:
        loosest = replace(full, categories=(), colours=(), brand=None)
        steps.append((("category", "colour", "brand"), loosest))
    return steps


async def _search(
    session: AsyncSession,
    merchant_id: str,
    attempt: _Attempt,
    sort: str,
    limit: int,
    exclude: list[str],
) -> list[FoundProduct]:
    shape = _Shape.of(attempt.filters, exclude=bool(exclude))
    params = _params(merchant_id, attempt.filters) | {"limit": limit, "exclude": exclude}
    if not attempt.groups:
        if not _any_filter(attempt.filters):
            return []  # nothing to look for
        rows = await session.execute(_listing(shape, sort), params)
        return [_found(row) for row in rows]
    sqlite = session.get_bind().dialect.name == "sqlite"
    params["query"] = _query(attempt.groups, every=attempt.every, sqlite=sqlite)
    rows = await session.execute(_ranked(shape, sort, sqlite), params)
    return [_found(row) for row in rows]


def _any_filter(filters: _Filters) -> bool:
    return bool(
        filters.narrowing
        or filters.colours
        or filters.in_stock_only
        or filters.price_min is not None
        or filters.price_max is not None
    )


@dataclass(frozen=True, slots=True)
class _Shape:
    """Which filters a statement has, not their values. Statements are built once per shape
    (and sort) and run with the values as parameters: building one takes a few milliseconds
    of Python, more than most of these queries take in the database."""

    price_min: bool
    price_max: bool
    brand: bool
    categories: bool
    colours: int
    in_stock_only: bool
    exclude: bool = False

    @classmethod
    def of(cls, filters: _Filters, *, exclude: bool = False) -> "_Shape":
        return cls(
            filters.price_min is not None,
            filters.price_max is not None,
            filters.brand is not None,
            bool(filters.categories),
            len(filters.colours),
            filters.in_stock_only,
            exclude,
        )


def _params(merchant_id: str, filters: _Filters) -> dict[str, Any]:
    """The values of `_conditions`' parameters."""
    return {
        "merchant_id": merchant_id,
        "price_min": filters.price_min,
        "price_max": filters.price_max,
        "brand": filters.brand,
        "categories": list(filters.categories),
        **{f"colour_{n}": pattern(colour) for n, colour in enumerate(filters.colours)},
    }


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """Every product a shopper may be shown passes these: the one place for a rule such as
    "only products the merchant shows to shoppers" (full-text and semantic results alike)."""
    money = Product.price.type
    conditions: list[ColumnElement[bool]] = [
        Product.merchant_id == bindparam("merchant_id"),
        Product.visible_to_shoppers.is_(True),  # hidden or unpublished: the merchant's only
    ]
    if shape.price_min:
        # A product with variants reaches the bound when its dearest variant does.
        lowest = bindparam("price_min", type_=money)
        conditions.append(func.coalesce(Product.max_price, Product.price) >= lowest)
    if shape.price_max:
        conditions.append(Product.price <= bindparam("price_max", type_=money))
    if shape.brand:
        conditions.append(Product.brand == bindparam("brand"))
    if shape.categories:
        conditions.append(Product.category.in_(bindparam("categories", expanding=True)))
    if shape.colours:
        matches = (Product.colours.like(bindparam(f"colour_{n}")) for n in range(shape.colours))
        conditions.append(or_(*matches))
    if shape.in_stock_only:
        conditions.append(Product.availability == "in_stock")
    if shape.exclude:
        conditions.append(Product.id.not_in(bindparam("exclude", expanding=True)))
    return conditions


def _columns() -> tuple[Any, ...]:
    return (
        Product.id,
        Product.title,
        Product.price,
        Product.currency,
        Product.url,
        Product.image_url,
        Product.availability,
        Product.brand,
        Product.category,
        func.substr(Product.description, 1, SNIPPET_CHARS),
        Product.pk,
    )


def _order(sort: str, score: ColumnElement[Any] | None) -> list[Any]:
    order: list[Any] = [stock_tier()]
    if sort == "price_asc":
        order.append(Product.price.asc())
    elif sort == "price_desc":
        order.append(Product.price.desc())
    if score is not None:
        order.append(score.desc())
    return [*order, Product.pk]


@functools.lru_cache(maxsize=256)
def _by_keys(shape: _Shape) -> Any:
    keys = Product.pk.in_(bindparam("keys", expanding=True))
    return select(*_columns()).where(keys, *_conditions(shape))


@functools.lru_cache(maxsize=256)
def _listing(shape: _Shape, sort: str) -> Any:
    return (
        select(*_columns())
        .where(*_conditions(shape))
        .order_by(*_order(sort, None))
        .limit(bindparam("limit", type_=Integer))
    )


def _query(groups: list[tuple[Term, ...]], *, every: bool, sqlite: bool) -> str:
    """FTS5 or tsquery syntax. Terms hold only letters and digits (see text.words), and are
    quoted anyway."""
    if sqlite:

        def one(term: Term) -> str:
            return f'"{term.text}"' + ("*" if term.prefix else "")

        joiner, either = " AND ", " OR "
    else:

        def one(term: Term) -> str:
            return f"'{term.text}'" + (":*" if term.prefix else "")

        joiner, either = " & ", " | "
    if every:
        return joiner.join("(" + either.join(one(t) for t in group) + ")" for group in groups)
    return either.join(one(t) for group in groups for t in group)


@functools.lru_cache(maxsize=512)
def _ranked(shape: _Shape, sort: str, sqlite: bool) -> Any:
    conditions = _conditions(shape)
    query = bindparam("query", type_=String)
    limit = bindparam("limit", type_=Integer)
    if sqlite:
        fts = table("products_fts")
        score: ColumnElement[Any] = literal_column(f"-{_BM25}")
        return (
            select(*_columns())
            .select_from(Product)
            .join(fts, literal_column("products_fts.rowid") == Product.pk)
            .where(literal_column("products_fts").op("MATCH")(query), *conditions)
            .order_by(*_order(sort, score))
            .limit(limit)
        )
    tsquery = func.to_tsquery(literal_column("'simple'"), query)
    search: ColumnElement[Any] = literal_column("products.search")
    # Rank a bounded pool of matches: a common word in a large catalog matches thousands of
    # rows, and ranking them all costs more than the whole reply may take. The pool reads
    # matches from the GIN index's bitmap and stops at POOL rows, ranking each as it is read
    # (one visit per row); for a cheapest/dearest question it takes the POOL cheapest
    # (dearest) instead. Within the pool, in stock still comes first. The cost: when a
    # question matches more than POOL products, better-ranked ones beyond the pool are not
    # considered, though every one of them contains all the words asked for.
    # Price order needs no rank (it would only break ties of equal prices): not computing it
    # for every match keeps "the cheapest ..." as fast as a ranked question.
    score = func.ts_rank_cd(search, tsquery) if sort == "relevance" else literal(0.0)
    pool = select(
        *(column.label(f"c{n}") for n, column in enumerate(_columns())),
        score.label("score"),
        stock_tier().label("tier"),
        Product.pk.label("pk"),
    ).where(search.op("@@")(tsquery), *conditions)
    if sort == "price_asc":
        pool = pool.order_by(Product.price.asc())
    elif sort == "price_desc":
        pool = pool.order_by(Product.price.desc())
    ranked = pool.limit(POOL).subquery("pool")
    order: list[Any] = [ranked.c.tier]
    if sort == "price_asc":
        order.append(ranked.c.c2.asc())  # c2: Product.price in _columns()
    elif sort == "price_desc":
        order.append(ranked.c.c2.desc())
    return (
        select(*(ranked.c[f"c{n}"] for n in range(len(_columns()))))
        .order_by(*order, ranked.c.score.desc(), ranked.c.pk)
        .limit(limit)
    )


def _found(row: Any) -> FoundProduct:
    return FoundProduct(
        id=row[0],
        title=row[1],
        price=row[2],
        currency=row[3],
        url=row[4],
        image_url=row[5],
        availability=row[6],
        brand=row[7],
        category=row[8],
        snippet=row[9],
        key=row[10],
    )
