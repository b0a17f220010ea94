"""The offline answer: a short reply about the retrieved products, in the shopper's language.

It never states anything the catalog does not. The product cards sent with it carry names,
prices, availability and links, so the text only says what was looked for (and with which
filters, in which order) instead of repeating them; when nothing fits it says the shop does
not seem to carry it and suggests what it does carry.
"""

import re
from collections.abc import AsyncIterator

from app.services.chat.answers.base import AnswerRequest
from app.services.chat.answers.phrases import PHRASES, Phrases
from app.services.chat.language import detect_language
from app.services.chat.retrieval import FoundProduct, Retrieval

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}
_PIECE = re.compile(r"\S+\s*|\s+")
# The reply echoes what was looked for ("for “waterproof hiking boots”"), briefly.
MAX_ECHOED_WORDS = 6


def money(product: FoundProduct) -> str:
    symbol = _SYMBOLS.get(product.currency)
    return f"{symbol}{product.price_text}" if symbol else f"{product.price_text} {product.currency}"


def _price(label: str, phrases: Phrases) -> str:
    """The question's price range (hints say it in English: "under $50") in the reply's
    language."""
    between = re.fullmatch(r"between (.+) and (.+)", label)
    if between:
        return phrases.between.format(low=between[1], high=between[2])
    kind, _, amount = label.partition(" ")
    template = {"under": phrases.under, "over": phrases.over, "around": phrases.around}
    return template.get(kind, " " + label).format(amount=amount)


def _colour(colours: tuple[str, ...], phrases: Phrases) -> str:
    return " / ".join(phrases.colour_names[colour] for colour in colours)


def _constraints(retrieval: Retrieval, phrases: Phrases, *, ordering: bool = True) -> str:
    """What the shopper asked for, as applied: " from Nike under $50"."""
    hints = retrieval.hints
    parts = []
    if hints.brand and "brand" not in retrieval.relaxed:
        parts.append(phrases.brand.format(brand=hints.brand))
    if hints.colours and "colour" not in retrieval.relaxed:
        parts.append(phrases.colour.format(colour=_colour(hints.colours, phrases)))
    if hints.price_label:
        parts.append(_price(hints.price_label, phrases))
    if hints.in_stock_only:
        parts.append(phrases.in_stock)
    if ordering and hints.sort == "price_asc":
        parts.append(phrases.cheapest_first)
    elif ordering and hints.sort == "price_desc":
        parts.append(phrases.dearest_first)
    return "".join(parts)


def compose(request: AnswerRequest) -> str:
    """A short reply in the shopper's language; the product cards carry the products."""
    retrieval = request.retrieval
    hints = retrieval.hints
    products = retrieval.products
    phrases = PHRASES[detect_language(request.question, request.locale)]
    if not products and hints.greeting:
        return phrases.greeting.format(
            shop=request.merchant_name, example=_example(request, phrases)
        )
    if not products:
        return _nothing_found(request, phrases)
    filters = _constraints(retrieval, phrases)
    if hints.brand and "brand" in retrieval.relaxed:
        text = phrases.brand_relaxed.format(brand=hints.brand, filters=filters)
    elif hints.colours and "colour" in retrieval.relaxed:
        colour = _colour(hints.colours, phrases)
        text = phrases.colour_relaxed.format(colour=colour, filters=filters)
    elif "terms" in retrieval.relaxed:
        text = phrases.terms_relaxed.format(filters=filters)
    else:
        phrase = " ".join(hints.phrase[:MAX_ECHOED_WORDS])
        what = phrases.what.format(phrase=phrase) if phrase else ""
        found = phrases.found_one if len(products) == 1 else phrases.found_many
        text = found.format(count=len(products), what=what, filters=filters)
    if all(product.availability != "in_stock" for product in products):
        text += " " + phrases.none_in_stock
    return text


def _nothing_found(request: AnswerRequest, phrases: Phrases) -> str:
    retrieval = request.retrieval
    wanted = _constraints(retrieval, phrases, ordering=False)
    question = " ".join(retrieval.hints.phrase) or request.question.strip().rstrip("?!. ")
    if len(question) > 80:
        question = question[:77].rstrip() + "…"
    if question:
        opening = phrases.not_carried.format(question=question, filters=wanted)
    else:
        opening = phrases.nothing_matches.format(filters=wanted)
    if request.suggestions:
        listed = ", ".join(request.suggestions[:4])
        return f"{opening} {phrases.suggest.format(categories=listed)}"
    return f"{opening} {phrases.suggest_example.format(example=phrases.example)}"


def _example(request: AnswerRequest, phrases: Phrases) -> str:
    if request.suggestions and phrases is PHRASES["en"]:
        return f"{request.suggestions[0].lower()} under $100"
    return phrases.example


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
