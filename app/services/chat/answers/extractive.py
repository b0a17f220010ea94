"""The offline answer: a reply assembled from the retrieved products only.

It never states anything the catalog does not: product names, prices and availability come
straight from the rows found, and when nothing was found it says so and suggests what to ask.
The widget links each product name to the product's page (the cards carry the URLs).
"""

import re
from collections.abc import AsyncIterator

from app.services.chat.answers.base import AnswerRequest
from app.services.chat.retrieval import FoundProduct, Retrieval

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
_AVAILABILITY = {
    "in_stock": "in stock",
    "out_of_stock": "currently out of stock",
    "backorder": "on backorder",
    "preorder": "available for pre-order",
}
_PIECE = re.compile(r"\S+\s*|\s+")
EXAMPLE = "rain jackets under $100"


def money(product: FoundProduct) -> str:
    symbol = _SYMBOLS.get(product.currency)
    return f"{symbol}{product.price_text}" if symbol else f"{product.price_text} {product.currency}"


def _constraints(retrieval: Retrieval, *, ordering: bool = True) -> str:
    """What the shopper asked for, as applied: " from Nike under $50"."""
    hints = retrieval.hints
    parts = []
    if hints.brand and "brand" not in retrieval.relaxed:
        parts.append(f" from {hints.brand}")
    if hints.price_label:
        parts.append(f" {hints.price_label}")
    if hints.in_stock_only:
        parts.append(" that are in stock")
    if ordering and hints.sort == "price_asc":
        parts.append(", cheapest first,")
    elif ordering and hints.sort == "price_desc":
        parts.append(", most expensive first,")
    return "".join(parts)


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def compose(request: AnswerRequest) -> str:
    retrieval = request.retrieval
    hints = retrieval.hints
    products = retrieval.products
    if not products and hints.greeting:
        return (
            f"Hi! I'm the {request.merchant_name} shopping assistant. Ask me about our products "
            f"— for example “{_example(request)}”."
        )
    if not products:
        return _nothing_found(request)
    count = len(products)
    things = _plural(count, "product", "products")
    if "brand" in retrieval.relaxed:
        intro = (
            f"I couldn't find that from {hints.brand}, but here {_plural(count, 'is', 'are')} "
            f"{count} similar {things}{_constraints(retrieval)}:"
        )
    elif "terms" in retrieval.relaxed:
        intro = (
            f"I couldn't find an exact match, but here {_plural(count, 'is', 'are')} {count} "
            f"{things}{_constraints(retrieval)} you might like:"
        )
    else:
        intro = (
            f"Here {_plural(count, 'is', 'are')} {count} {things}{_constraints(retrieval)} "
            f"that {_plural(count, 'matches', 'match')} your question:"
        )
    lines = [intro]
    for position, product in enumerate(products, start=1):
        named = product.brand and product.brand not in product.title
        brand = f" by {product.brand}" if named else ""
        availability = _AVAILABILITY.get(product.availability, product.availability)
        lines.append(f"{position}. {product.title}{brand} — {money(product)} ({availability})")
    if all(product.availability != "in_stock" for product in products):
        lines.append("None of these is in stock right now, so check back soon.")
    lines.append("Tap a product to see its details.")
    return "\n".join(lines)


def _nothing_found(request: AnswerRequest) -> str:
    retrieval = request.retrieval
    wanted = _constraints(retrieval, ordering=False)
    question = request.question.strip().rstrip("?!. ")
    if len(question) > 80:
        question = question[:77].rstrip() + "…"
    opening = f"Sorry, I couldn't find any products matching “{question}”{wanted}."
    if request.suggestions:
        listed = ", ".join(request.suggestions[:4])
        return f"{opening} We carry things like {listed}; try asking about one of those."
    return f"{opening} Try a product type, a brand or a price range, like “{EXAMPLE}”."


def _example(request: AnswerRequest) -> str:
    if request.suggestions:
        return f"{request.suggestions[0].lower()} under $100"
    return EXAMPLE


def pieces(text: str) -> list[str]:
    """The reply cut into word-sized pieces, each with its trailing space, for streaming."""
    return _PIECE.findall(text)


class ExtractiveProvider:
    name = "extractive"

    async def complete(self, request: AnswerRequest) -> str:
        return compose(request)

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str]:
        for piece in pieces(compose(request)):
            yield piece
