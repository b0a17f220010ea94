"""Single values as catalogs write them: prices, availability, text, URLs, lists.

Every parser returns the normalized value or raises `ValueError` with a reason a merchant can
act on; the record builder attaches the row and column.
"""

import html
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from app.parsing import ascii_digits

AVAILABILITY = ("in_stock", "out_of_stock", "preorder", "backorder")
_AVAILABILITY_WORDS = {
    **dict.fromkeys(("instock", "available", "yes", "true", "1", "y"), "in_stock"),
    **dict.fromkeys(
        ("outofstock", "soldout", "unavailable", "no", "false", "0", "n", "discontinued"),
        "out_of_stock",
    ),
    "preorder": "preorder",
    "backorder": "backorder",
    "onbackorder": "backorder",
}
_SEPARATORS = re.compile(r"[\s_\-.]+")

# Symbols that name one currency only ("$" does not: USD, CAD, AUD... use the default).
_SYMBOLS = {"€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY"}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRICE_TEXT = re.compile(
    r"^\s*([A-Za-z]{3})?\s*([^0-9A-Za-z\s.,+-]*)\s*([-+]?[0-9.,\s']+)\s*([A-Za-z]{3})?\s*$"
)
# Minor units of currencies that do not use two decimals (ISO 4217); everything else uses 2.
MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
MAX_PRICE = Decimal("99999999999999")  # NUMERIC(18, 4): 14 integer digits
PRICE_DECIMALS = 4

_URL = re.compile(r"https?://[^/?#\s]+", re.I)  # a scheme we fetch and a host
_PLAIN_PRICE = re.compile(r"[0-9]{1,14}(?:\.[0-9]{1,4})?")
# ASCII digits, an optional exponent ("1e3", as spreadsheets write): never Unicode digits.
_QUANTITY = re.compile(r"[-+]?[0-9]{1,30}(?:\.[0-9]{0,30})?(?:[eE][-+]?[0-9]{1,3})?")
MAX_QUANTITY = 10**15
_TAG = re.compile(r"<[^>]*>")
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|section)\b[^>]*>", re.I)
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if not _CURRENCY.match(code):
        raise ValueError(f"'{text}' is not a three-letter currency code such as USD or EUR")
    return code


def parse_price(value: Any) -> tuple[Decimal, str | None]:
    """`19.99`, `19,99`, `1.299,00`, `$1,299.00`, `15.00 USD`, `EUR 15` → (amount, currency)."""
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _check_amount(Decimal(value)), None
    if isinstance(value, float):
        # JSON is parsed with Decimal for floats, so a float here came from elsewhere.
        return _check_amount(Decimal(repr(value))), None
    if not isinstance(value, str):
        raise ValueError("expected a price such as 19.99")
    text = value.strip()
    if _PLAIN_PRICE.fullmatch(text):  # the common case, and the fast one
        return Decimal(text), None
    for symbol, code in _SYMBOLS.items():
        if symbol in text:
            text = text.replace(symbol, f" {code} ")
    text = text.replace("$", " ").strip()
    match = _PRICE_TEXT.match(text)
    if not match or match[2]:
        raise ValueError(f"'{value}' is not a price such as 19.99 or 19.99 USD")
    before, number, after = match[1], match[3], match[4]
    if before and after and before.upper() != after.upper():
        raise ValueError(f"'{value}' names two currencies")
    code = before or after
    return _check_amount(_decimal(number, value)), parse_currency(code) if code else None


def _decimal(number: str, original: str) -> Decimal:
    digits = number.replace(" ", "").replace("'", "")
    comma, dot = digits.rfind(","), digits.rfind(".")
    if comma >= 0 and dot >= 0:
        # Both: the last one is the decimal separator, the other groups thousands.
        thousands, decimal = (".", ",") if comma > dot else (",", ".")
        digits = digits.replace(thousands, "").replace(decimal, ".")
    elif comma >= 0:
        # "19,99" is a decimal comma; "1,299" (exactly three digits after) groups thousands.
        head, _, tail = digits.rpartition(",")
        head = head.replace(",", "")
        grouping = len(tail) == 3 and ascii_digits(head) and head.lstrip("0") != ""
        digits = digits.replace(",", "") if grouping else digits.replace(",", ".")
    elif digits.count(".") > 1:
        digits = digits.replace(".", "")  # "1.299.000" groups thousands
    try:
        return Decimal(digits)
    except InvalidOperation:
        raise ValueError(f"'{original}' is not a price such as 19.99") from None


def _check_amount(amount: Decimal) -> Decimal:
    if not amount.is_finite():
        raise ValueError("a price must be a finite number")
    if amount < 0:
        raise ValueError(f"a price cannot be negative ({amount})")
    if amount > MAX_PRICE:
        raise ValueError(f"a price cannot exceed {MAX_PRICE}")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PRICE_DECIMALS:
        normalized = amount.normalize()
        # Finite (checked above), so the exponent is a number, not "n" or "F".
        if int(normalized.as_tuple().exponent) < -PRICE_DECIMALS:
            raise ValueError(f"a price has at most {PRICE_DECIMALS} decimals ({amount})")
        amount = normalized
    return amount


def format_price(amount: Decimal, currency: str) -> str:
    """The exact amount with at least the currency's usual decimals: 19.9 USD → "19.90"."""
    places = MINOR_UNITS.get(currency, 2)
    exponent = amount.normalize().as_tuple().exponent
    decimals = max(places, -exponent if isinstance(exponent, int) else 0)
    return f"{amount:.{decimals}f}"


def parse_availability(value: Any) -> str:
    if isinstance(value, bool):
        return "in_stock" if value else "out_of_stock"
    text = _SEPARATORS.sub("", str(value).strip().lower())
    found = _AVAILABILITY_WORDS.get(text)
    if found is None:
        raise ValueError(
            f"'{value}' is not an availability; use in_stock, out_of_stock, preorder or backorder"
        )
    return found


def parse_quantity(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        number = Decimal(value)
    else:
        text = str(value).strip().replace(",", "")
        if not _QUANTITY.fullmatch(text):
            raise ValueError(f"'{value}' is not a whole number")
        number = Decimal(text)
    if not number.is_finite() or number != number.to_integral_value():
        raise ValueError(f"'{value}' is not a whole number")
    # Checked before int(): "1e999999999" is a whole number too big to build.
    if abs(number) > MAX_QUANTITY:
        raise ValueError(f"a quantity cannot exceed {MAX_QUANTITY}")
    return int(number)


def clean_text(value: Any, limit: int, html_allowed: bool = False) -> str | None:
    """Trimmed text (HTML reduced to plain text where catalogs put HTML); None when blank."""
    if value is None:
        return None
    if not isinstance(value, str):
        if isinstance(value, dict | list):
            raise ValueError("expected text, not a nested object or list")
        value = str(value)
    text: str = value
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if html_allowed and ("<" in text or "&" in text):
        text = _SCRIPT.sub(" ", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = html.unescape(_TAG.sub("", text))
        text = _BLANK_LINES.sub("\n\n", _SPACES.sub(" ", text))
        text = "\n".join(line.strip() for line in text.split("\n"))
    text = text.replace("\x00", "").strip()
    if not text:
        return None
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters ({len(text)})")
    return text


def parse_url(value: Any, limit: int = 2048) -> str | None:
    text = clean_text(value, limit)
    if text is None:
        return None
    if not _URL.match(text):
        raise ValueError(f"'{text[:100]}' is not an absolute http(s) URL")
    return text


def parse_list(value: Any, *, separator: str = ",", limit: int = 50) -> list[str]:
    """A list, or text separated by `separator`; blanks dropped, at most `limit` items."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(separator)
    cleaned = [str(item).strip() for item in items if str(item).strip()]
    return cleaned[:limit]
