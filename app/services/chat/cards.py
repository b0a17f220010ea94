"""Product cards as a reply carries them: the found product, plus its price range and the
choices its variants offer ("Color: Blue, Green, Red"), so one card stands for the hoodie in
every colour instead of one card per colour.

Retrieval reads what ranking needs; the variants of the few products it found are read here,
in one query by primary key.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Product
from app.services.catalog.values import format_price
from app.services.chat.retrieval import FoundProduct

# A card is stored with its message; a product with more variants lists the first ones (its
# options still name every choice).
MAX_CARD_VARIANTS = 100


def option_values(variants: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """Each option's values in the order the variants first offer them."""
    options: dict[str, list[str]] = {}
    for variant in variants:
        for name, value in (variant.get("options") or {}).items():
            values = options.setdefault(name, [])
            if value not in values:
                values.append(value)
    return options


async def product_cards(
    session: AsyncSession, merchant_id: str, products: Sequence[FoundProduct]
) -> list[dict[str, Any]]:
    if not products:
        return []
    rows = await session.execute(
        select(Product.id, Product.max_price, Product.variants).where(
            Product.merchant_id == merchant_id, Product.id.in_([p.id for p in products])
        )
    )
    extra = {product_id: (max_price, variants) for product_id, max_price, variants in rows}
    cards = []
    for product in products:
        max_price, variants = extra.get(product.id, (None, []))
        variants = variants or []
        cards.append(
            product.card()
            | {
                "maxPrice": format_price(max_price, product.currency)
                if max_price is not None
                else None,
                "options": option_values(variants),
                "variants": variants[:MAX_CARD_VARIANTS],
            }
        )
    return cards
