"""Numbers and instants from untrusted text (headers, cursors, query values, questions).

`str.isdigit()` is true for "²" and for Arabic-Indic digits, and `int()` takes the latter yet
refuses "²" and anything past 4,300 digits, so `text.isdigit() and int(text)` turns one odd
character into a 500. Here digits mean ASCII 0-9, the length is bounded before anything is
converted, and every refusal is one named error. Datetime arithmetic near year 1 or 9999
overflows, so instants are normalised to UTC on parsing (an offset pushing one out of range is
refused) and shifted with `shift`, which stops at the ends of the calendar instead of raising.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

__all__ = [
    "EARLIEST",
    "LATEST",
    "ParseError",
    "ascii_digits",
    "iso_instant",
    "natural",
    "natural_or_none",
    "plain_decimal",
    "shift",
]

# Not \d: in a str pattern it matches every Unicode decimal digit.
_DIGITS = re.compile(r"[0-9]+")
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,30}(?:\.[0-9]{1,30})?")
_ISO_CHARACTERS = re.compile(r"[0-9T:.+\- Z]+")
# "2026-11-27T10:00:00.123456+05:30" is 32 characters; anything longer is not an instant.
MAX_ISO_LENGTH = 40
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


class ParseError(ValueError):
    """The text is not what was asked for; the message says what was expected."""


def ascii_digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits 0-9 (what `isdigit()` should have meant)."""
    return _DIGITS.fullmatch(text) is not None


def natural(text: str, *, max_digits: int = 18) -> int:
    """A whole number ≥ 0 written in at most `max_digits` ASCII digits."""
    if len(text) > max_digits:
        raise ParseError(f"expected at most {max_digits} digits")
    if not ascii_digits(text):
        raise ParseError("expected digits 0-9")
    return int(text)


def natural_or_none(text: str | None, *, max_digits: int = 18) -> int | None:
    """As `natural`, None when absent or malformed (for headers a bad value may be ignored)."""
    if text is None:
        return None
    try:
        return natural(text, max_digits=max_digits)
    except ParseError:
        return None


def plain_decimal(text: str) -> Decimal:
    """A number ≥ 0 as people write prices: ASCII digits and a decimal point ("19.99"), not
    "1e5", "1_000", "NaN" or another script's digits, which `Decimal()` would all take."""
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise ParseError("expected a number such as 19.99")
    return Decimal(text)


def iso_instant(text: str) -> datetime:
    """An ISO 8601 date-time in UTC; without an offset it is taken as UTC already."""
    if len(text) > MAX_ISO_LENGTH or not _ISO_CHARACTERS.fullmatch(text):
        raise ParseError("expected an ISO 8601 date-time such as 2026-11-01T00:00:00Z")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ParseError("expected an ISO 8601 date-time such as 2026-11-01T00:00:00Z") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ParseError("the date-time lies outside the years 1 to 9999 in UTC") from None


def shift(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, held at the first or last instant Python can represent."""
    try:
        return moment + delta
    except OverflowError:
        return EARLIEST if delta < timedelta(0) else LATEST
