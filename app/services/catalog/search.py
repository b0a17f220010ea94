"""Product queries: full-text search, filters and cursor pagination over one merchant's catalog.

Search uses the index kept with each write: SQLite FTS5 (bm25 rank) or PostgreSQL's generated
tsvector (ts_rank). Words match as prefixes ("shoe" finds "shoes"), all words must match.
Plain lists page by id (keyset); ranked results page by position.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, column, func, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Product
from app.parsing import natural_or_none

MAX_TERMS = 10
_WORD = re.compile(r"[^\W_]+")
_FTS = table("products_fts", column("rowid"))
_AFTER, _OFFSET = "after:", "offset:"


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductFilter:
    q: str | None = None
    availability: str | None = None
    brand: str | None = None
    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    visible_to_shoppers: bool | None = None


def search_terms(q: str | None) -> list[str]:
    """The words of a query, lower-cased: letters and digits only, so nothing a user types
    can reach the query syntax of FTS5 or tsquery."""
    return [word[:64] for word in _WORD.findall((q or "").lower())][:MAX_TERMS]


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(merchant_id: str, wanted: ProductFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Product.merchant_id == merchant_id]
    if wanted.availability:
        conditions.append(Product.availability == wanted.availability)
    if wanted.brand:
        conditions.append(func.lower(Product.brand) == wanted.brand.strip().lower())
    if wanted.category:
        category = wanted.category.strip().lower()
        # "Apparel" also finds the products of "Apparel > Shoes".
        conditions.append(
            or_(
                func.lower(Product.category) == category,
                func.lower(Product.category).like(_escape_like(category) + " >%", escape="\\"),
            )
        )
    # A product with a price range matches when any of its variants' prices could.
    if wanted.min_price is not None:
        conditions.append(func.coalesce(Product.max_price, Product.price) >= wanted.min_price)
    if wanted.max_price is not None:
        conditions.append(Product.price <= wanted.max_price)
    if wanted.visible_to_shoppers is not None:
        conditions.append(Product.visible_to_shoppers.is_(wanted.visible_to_shoppers))
    return conditions


# The query's words as PostgreSQL's own parser splits them (as it split the indexed text:
# "K-2" is 'k' and '-2' there), each as a quoted prefix: user input never becomes syntax.
_PG_QUERY = (
    "to_tsquery('simple', (SELECT string_agg(quote_literal(word) || ':*', ' & ') "
    "FROM unnest(tsvector_to_array(to_tsvector('simple', :q))) AS word))"
)


def _ranked(query: Select[Any], q: str, terms: list[str], dialect: str) -> Select[Any]:
    if dialect == "postgresql":
        matches = text(f"products.search @@ {_PG_QUERY}").bindparams(q=q)
        rank = text(f"ts_rank(products.search, {_PG_QUERY}) DESC").bindparams(q=q)
        return query.where(matches).order_by(rank, Product.id)
    match = " ".join(f'"{term}"*' for term in terms)
    # Weights per column (title, external_id, brand, category, description): a word in the
    # title counts for more than one deep in the description.
    return (
        query.join(_FTS, _FTS.c.rowid == Product.pk)
        .where(text("products_fts MATCH :match").bindparams(match=match))
        .order_by(text("bm25(products_fts, 10.0, 8.0, 4.0, 4.0, 1.0)"), Product.id)
    )


async def list_products(
    session: AsyncSession,
    merchant_id: str,
    wanted: ProductFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Product], str | None]:
    """One page and the cursor of the next (None at the end)."""
    query = select(Product).where(*_filters(merchant_id, wanted))
    terms = search_terms(wanted.q)
    if terms:
        offset = _offset(cursor)
        query = _ranked(query, wanted.q or "", terms, session.get_bind().dialect.name).offset(
            offset
        )
        rows = list((await session.scalars(query.limit(limit + 1))).all())
        more = len(rows) > limit
        return rows[:limit], f"{_OFFSET}{offset + limit}" if more else None
    if cursor is not None:
        if not cursor.startswith(_AFTER):
            raise BadCursor("this cursor belongs to another query")
        query = query.where(Product.id > cursor.removeprefix(_AFTER))
    rows = list((await session.scalars(query.order_by(Product.id).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, f"{_AFTER}{rows[-1].id}" if more else None


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    offset = natural_or_none(cursor.removeprefix(_OFFSET), max_digits=6)
    if not cursor.startswith(_OFFSET) or offset is None or offset > 100_000:
        raise BadCursor("this cursor belongs to another query")
    return offset


async def get_product(session: AsyncSession, merchant_id: str, product_id: str) -> Product | None:
    return await session.scalar(
        select(Product).where(Product.merchant_id == merchant_id, Product.id == product_id)
    )


async def catalog_counts(session: AsyncSession, merchant_id: str) -> dict[str, int]:
    """Products per availability, for the sync status."""
    rows = await session.execute(
        select(Product.availability, func.count())
        .where(Product.merchant_id == merchant_id)
        .group_by(Product.availability)
    )
    return {availability: int(count) for availability, count in rows.all()}
