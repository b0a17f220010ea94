"""Filters a shopper states in passing: "under $50", "Nike", "running shoes", "in red",
"in stock".

Only obvious phrasings are taken as filters; everything else stays a search word. A brand or
category is recognised only when it is one of the merchant's own (see `vocabulary`), so a
question's words never turn into a filter the catalog cannot satisfy by construction. A colour
word in any of the shoppers' languages ("red", "rote", "rouge", "rojo") becomes a colour filter
(app.colours), and the search looks for the rest of the words.
"""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.colours import asked_colour
from app.services.catalog.values import MAX_PRICE
from app.services.chat import text
from app.services.chat.vocabulary import Vocabulary

_CURRENCY_WORDS = r"usd|eur|gbp|dollars?|euros?|pounds?|bucks"
_SYMBOL = r"[$€£¥]"
# ASCII digits only ([0-9], not \d, which matches any script's digits). The grouped form is
# unbounded ("1,000,000,000,..."): `_number` drops an amount no catalog price can reach.
_NUMBER = r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?|[0-9]{1,7}(?:[.,][0-9]{1,2})?"
# A number followed by a unit is a size or a weight, not a price ("under 2 kg").
_NOT_UNIT = (
    r"(?!\s*(?:kg|g|lbs?|oz|cm|mm|m|km|in|inch|inches|ft|l|ml|w|watts?|mah|gb|tb|mb|hours?|"
    r"h|mins?|minutes?|years?|yo|months?|people|persons?|pieces?|pcs|x|%)\b)"
)


def _amount(n: int) -> str:
    return (
        # (?!...) after the number: never a piece of a longer number ("1" of "15").
        rf"(?P<sym{n}>{_SYMBOL})?\s*(?P<num{n}>{_NUMBER})(?![0-9]|[.,][0-9])"
        rf"(?:\s*(?P<cur{n}>{_SYMBOL}|(?:{_CURRENCY_WORDS})\b))?{_NOT_UNIT}"
    )


_BETWEEN = re.compile(rf"\bbetween\s+{_amount(1)}\s+(?:and|-|\u2013|to)\s+{_amount(2)}")
_SPAN = re.compile(rf"(?:\bfrom\s+)?{_amount(1)}\s*(?:-|\u2013|\bto\b)\s*{_amount(2)}")
_MAX = re.compile(
    r"(?:\bunder|\bbelow|\bless than|\bcheaper than|\bno more than|\bnot more than|\bat most"
    r"|\bup to|\bmax(?:imum)?|\bwithin|\bbudget(?:\s+(?:of|is))?|<|\bnot over|\bnot above"
    # German, French, Spanish: the shopper's language is not always the catalog's.
    r"|\bunter|\bweniger als|\bbis|\bmoins de|\ben dessous de|\bmenos de|\bpor debajo de"
    r"|\bhasta)"
    rf"\s*{_amount(1)}"
)
_MIN = re.compile(
    r"(?:\bover|\babove|\bmore than|\bat least|\bmin(?:imum)?|\bstarting (?:at|from)|>"
    r"|\büber|\bmehr als|\bplus de|\bmás de)"
    rf"\s*{_amount(1)}"
)
_AROUND = re.compile(
    rf"(?:\baround|\babout|\broughly|\bapproximately|\bapprox\.?|~)\s*{_amount(1)}"
)
_CHEAP = re.compile(
    r"\b(?:cheapest|lowest[- ]priced?|least expensive|most affordable|cheap|affordable"
    r"|inexpensive|budget)\b"
)
_EXPENSIVE = re.compile(r"\b(?:most expensive|priciest|highest[- ]priced?)\b")
_IN_STOCK = re.compile(
    r"\b(?:in[- ]stock|available (?:now|today|right now)|ready to ship|ships? (?:now|today))\b"
)
_GREETING_WORDS = text.word_set(
    "hi hello hey hiya howdy yo good morning afternoon evening thanks thank you there ok okay"
    " cheers bye goodbye"
)
# Within ±20% of "around $50".
_AROUND_SPREAD = Decimal("0.2")
# MAX_PRICE's 14 digits, a decimal point and two decimals.
_MAX_AMOUNT_CHARACTERS = 17


@dataclass(frozen=True, slots=True)
class Hints:
    terms: tuple[str, ...] = ()  # content words left for the full-text search
    # The main noun phrase's content words ("family camping tent" of "family camping tent
    # for 4 people"); its last word is the head noun, what the shopper wants.
    phrase: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    price_label: str | None = None  # as the shopper will read it back: "under $50"
    brand: str | None = None  # exactly as stored in the catalog
    category_label: str | None = None  # the category segment recognised, e.g. "Running Shoes"
    categories: tuple[str, ...] = ()  # the full category paths that contain it
    colours: tuple[str, ...] = ()  # canonical (app.colours): any of them will do
    in_stock_only: bool = False
    sort: str = "relevance"  # relevance | price_asc | price_desc
    greeting: bool = False
    # The question with misspelt words corrected (see `spelling`); None when nothing was.
    corrected: str | None = None


def _number(raw: str) -> Decimal | None:
    """The amount, or None when it is not one or exceeds any price: the shopper's words stay
    a question, never a filter the database cannot hold."""
    cleaned = raw.replace(" ", "")
    if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?", cleaned):
        cleaned = cleaned.replace(",", "")
    else:
        cleaned = cleaned.replace(",", ".")
    if len(cleaned) > _MAX_AMOUNT_CHARACTERS:
        return None
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None
    return amount if amount <= MAX_PRICE else None


_SYMBOLS = {
    **{symbol: symbol for symbol in "$€£¥"},
    **dict.fromkeys(("usd", "dollar", "dollars", "bucks"), "$"),
    **dict.fromkeys(("eur", "euro", "euros"), "€"),
    **dict.fromkeys(("gbp", "pound", "pounds"), "£"),
}


def _symbol(match: re.Match[str], *ns: int) -> str:
    """The currency the shopper wrote, as a symbol for the reply ("" if none)."""
    for n in ns:
        found = (match.group(f"sym{n}") or match.group(f"cur{n}") or "").lower()
        if found:
            return _SYMBOLS.get(found, "")
    return ""


def _has_currency(match: re.Match[str], *ns: int) -> bool:
    return any(match.group(f"sym{n}") or match.group(f"cur{n}") for n in ns)


def _money(symbol: str, amount: Decimal) -> str:
    shown = f"{amount:,.2f}".removesuffix(".00")
    return f"{symbol}{shown}" if symbol else shown


@dataclass(slots=True)
class _Price:
    low: Decimal | None = None
    high: Decimal | None = None
    label: str | None = None


def _parse_price(question: str) -> tuple[_Price, str]:
    """The price range stated in `question`, and the question with that phrase removed."""
    found = _BETWEEN.search(question)
    if found is None:
        span = _SPAN.search(question)
        # "2-3 person tent" is not a price: a bare span needs a currency to count.
        if span is not None and _has_currency(span, 1, 2):
            found = span
    if found is not None:
        low, high = _number(found["num1"]), _number(found["num2"])
        if low is not None and high is not None:
            low, high = min(low, high), max(low, high)
            symbol = _symbol(found, 1, 2)
            label = f"between {_money(symbol, low)} and {_money(symbol, high)}"
            return _Price(low, high, label), _cut(question, found)
    for pattern, kind in ((_MAX, "max"), (_MIN, "min"), (_AROUND, "around")):
        found = pattern.search(question)
        if found is None:
            continue
        amount = _number(found["num1"])
        if amount is None:
            continue
        symbol = _symbol(found, 1)
        if kind == "max":
            return _Price(None, amount, f"under {_money(symbol, amount)}"), _cut(question, found)
        if kind == "min":
            return _Price(amount, None, f"over {_money(symbol, amount)}"), _cut(question, found)
        spread = (amount * _AROUND_SPREAD).quantize(Decimal("0.01"))
        return (
            _Price(amount - spread, amount + spread, f"around {_money(symbol, amount)}"),
            _cut(question, found),
        )
    return _Price(), question


def _cut(question: str, match: re.Match[str]) -> str:
    return f"{question[: match.start()]} {question[match.end() :]}"


# Words that end the question's main noun phrase: "bottle for backpacking" is about a bottle.
_PHRASE_ENDS = text.word_set(
    "for with without that which who to from in on under by near at about like so because"
    " while when if"
)


def _main_phrase(tokens: list[str]) -> list[str]:
    """The content words of the first noun phrase with any content (its last is the head)."""
    phrase: list[str] = []
    for token in tokens:
        if token in _PHRASE_ENDS:
            if text.content_words(phrase):
                break
            phrase = []
            continue
        phrase.append(token)
    return text.content_words(phrase)


# A colour after one of these describes how something is, not the product wanted: "my lawn is
# turning brown", "the deck is green and dirty", "die Blätter werden gelb".
_STATE_WORDS = text.word_set(
    "is are was were be been looks look looking turns turning turned gets getting got goes"
    " going gone went became becoming stays staying ist sind wird werden wurde est sont devient"
    " deviennent es son está están pone ponen"
)


def _colours(tokens: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """The colours asked for (canonical) and the other tokens. Called after the brand is
    taken: "Black Diamond headlamp" names a brand, not a colour."""
    colours: list[str] = []
    rest: list[str] = []
    for position, token in enumerate(tokens):
        colour = asked_colour(token)
        if colour is None or (position and tokens[position - 1] in _STATE_WORDS):
            rest.append(token)
        elif colour not in colours:
            colours.append(colour)
    return tuple(colours), rest


def parse_hints(question: str, vocabulary: Vocabulary) -> Hints:
    corrected = vocabulary.speller.correct(question)
    lowered = corrected.lower()
    price, rest = _parse_price(lowered)
    sort = "relevance"
    if _EXPENSIVE.search(rest):
        sort, rest = "price_desc", _EXPENSIVE.sub(" ", rest)
    elif _CHEAP.search(rest):
        sort, rest = "price_asc", _CHEAP.sub(" ", rest)
    in_stock = bool(_IN_STOCK.search(rest))
    rest = _IN_STOCK.sub(" ", rest)

    tokens = text.words(rest)
    brand, tokens = vocabulary.find_brand(tokens)
    colours, tokens = _colours(tokens)
    content = text.content_words(tokens)
    phrase = _main_phrase(tokens) or content
    category = vocabulary.find_category(phrase)
    greeting = (
        bool(text.words(lowered))
        and all(w in _GREETING_WORDS for w in text.words(lowered))
        and price.label is None
    )
    return Hints(
        terms=tuple(content),
        phrase=tuple(phrase),
        price_min=price.low,
        price_max=price.high,
        price_label=price.label,
        brand=brand,
        category_label=category.label if category else None,
        categories=category.paths if category else (),
        colours=colours,
        in_stock_only=in_stock,
        sort=sort,
        greeting=greeting,
        corrected=corrected if corrected != question else None,
    )
