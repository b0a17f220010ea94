"""Property-based tests (Hypothesis) for every parser of untrusted text: any string or bytes
gives a value or the parser's one named error, never another exception. Another exception is
a 500 for the request (or a crashed worker) that carried the input.

Deterministic (`derandomize`), so CI finds the same inputs on every run, and without an
example database, so nothing is written to the worktree.
"""

import base64
import contextlib
import io
import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.types import Scope

from app.http.auth import presented_key
from app.http.errors import ApiError
from app.parsing import EARLIEST, LATEST, ParseError, iso_instant, natural, plain_decimal, shift
from app.routes.analytics import SummaryQuery, _window
from app.services.catalog import inbound
from app.services.catalog.formats import parser_for
from app.services.catalog.importer import ImportOptions, open_and_detect
from app.services.catalog.records import Rules, build_record
from app.services.catalog.search import BadCursor, _offset
from app.services.catalog.source import FileError
from app.services.catalog.values import MAX_PRICE, parse_price, parse_quantity
from app.services.chat.hints import parse_hints
from app.services.chat.vocabulary import Vocabulary
from app.services.domains import DomainError, normalize_domain, origin_host
from app.services.netguard import UnsafeTarget, check_saved, literal_address
from app.services.webhooks.policy import parse_retry_after
from app.services.webhooks.signing import sign

# Applied to each test here (a profile loaded at import would change every other module's).
PARSERS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Digits of every script, superscripts and the like: what `isdigit()` lets through.
UNICODE_DIGITS = st.characters(categories=["Nd", "No"])
# Text as attackers write it: mostly digits and separators, some of any script.
DIGITS_AND_MORE = st.text(
    st.one_of(st.sampled_from(string.digits + ".,:+-eE TZ$€"), UNICODE_DIGITS, st.characters()),
    max_size=80,
)
# Only digits, of any script: "²" passes isdigit() and then fails int().
NUMERALS = st.one_of(
    st.text(st.one_of(st.sampled_from(string.digits), UNICODE_DIGITS), min_size=1, max_size=30),
    st.text(st.sampled_from(string.digits), min_size=19, max_size=6000),
)
ANY_TEXT = st.one_of(st.text(max_size=200), DIGITS_AND_MORE, NUMERALS)
# ISO 8601 instants anywhere in the calendar, with any offset (near year 1 and 9999 too).
ISO_TEXT = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.one_of(
        st.datetimes(),
        st.datetimes(max_value=datetime(1, 1, 8)),
        st.datetimes(min_value=datetime(9999, 12, 24)),
    ),
    st.integers(min_value=-1439, max_value=1439),
)


def _as_received(text: str) -> str:
    # Header values reach the app as bytes decoded as latin-1, whatever the sender meant.
    return text.encode("utf-8").decode("latin-1")


HEADER_TEXT = st.one_of(
    st.text(st.characters(max_codepoint=255), max_size=120),  # "²" is one byte, 0xB2
    st.text(st.sampled_from(string.digits + "\xb2\xb3\xb9"), min_size=1, max_size=6000),
    DIGITS_AND_MORE.map(_as_received),
    NUMERALS.map(_as_received),
)
VOCABULARY = Vocabulary(["Nike", "Apple"], [("Footwear > Running Shoes", 3)])
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@PARSERS
@given(ANY_TEXT)
def test_natural_is_ascii_digits_or_a_parse_error(text: str) -> None:
    try:
        value = natural(text)
    except ParseError:
        return
    assert set(text) <= set(string.digits) and 0 <= value < 10**18
    assert value == int(text)


@PARSERS
@given(st.one_of(ANY_TEXT, st.decimals(allow_nan=True).map(str)))
def test_plain_decimal_is_a_finite_number_or_a_parse_error(text: str) -> None:
    try:
        value = plain_decimal(text)
    except ParseError:
        return
    assert value.is_finite() and value >= 0 and set(text) <= set(string.digits + ".")


@PARSERS
@given(st.one_of(ANY_TEXT, ISO_TEXT))
def test_iso_instant_is_an_instant_in_utc_or_a_parse_error(text: str) -> None:
    try:
        moment = iso_instant(text)
    except ParseError:
        return
    assert moment.tzinfo is UTC


@PARSERS
@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    st.integers(min_value=-1439, max_value=1439),
)
def test_iso_instant_takes_every_offset_at_the_ends_of_the_calendar(
    local: datetime, minutes: int
) -> None:
    text = local.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat()
    try:
        moment = iso_instant(text)
    except ParseError as exc:
        # Only an instant outside UTC's calendar is refused, and it says so.
        assert "years 1 to 9999" in str(exc)
        assert local.year in (1, 9999)
        return
    assert moment == datetime.fromisoformat(text)


@PARSERS
@given(st.datetimes(timezones=st.just(UTC)), st.timedeltas())
def test_shift_stops_at_the_ends_of_the_calendar(moment: datetime, delta: timedelta) -> None:
    assert EARLIEST <= shift(moment, delta) <= LATEST


@PARSERS
@given(st.dictionaries(st.sampled_from(["from", "to"]), st.one_of(ANY_TEXT, ISO_TEXT)))
def test_analytics_windows_are_a_window_or_a_422(query: dict[str, str]) -> None:
    try:
        start, end = _window(SummaryQuery.model_validate(query))
    except (ValidationError, ApiError):
        return
    assert start < end and start.tzinfo is UTC and end.tzinfo is UTC


@PARSERS
@given(st.one_of(ANY_TEXT, ANY_TEXT.map(lambda text: "offset:" + text)))
def test_a_search_cursor_is_an_offset_or_a_bad_cursor(cursor: str) -> None:
    try:
        offset = _offset(cursor)
    except BadCursor:
        return
    assert 0 <= offset <= 100_000


@PARSERS
@given(ANY_TEXT)
def test_a_question_gives_hints_whose_prices_a_catalog_can_hold(question: str) -> None:
    hints = parse_hints(question, VOCABULARY)
    for bound in (hints.price_min, hints.price_max):
        assert bound is None or 0 <= bound <= MAX_PRICE * Decimal("1.2")


@PARSERS
@given(
    st.sampled_from(["under", "over", "around", "about", "max", "between 1 and"]),
    st.one_of(st.integers(min_value=0), st.integers(min_value=10**14)),
    st.sampled_from(["", "$", "€"]),
    st.booleans(),
)
def test_any_price_in_a_question_is_a_hint_or_ignored(
    word: str, amount: int, symbol: str, grouped: bool
) -> None:
    number = f"{amount:,}" if grouped else str(amount)
    hints = parse_hints(f"running shoes {word} {symbol}{number}", VOCABULARY)
    if Decimal(amount) > MAX_PRICE:
        assert hints.price_min is None or hints.price_min <= 1
        assert hints.price_max is None


@PARSERS
@given(UNICODE_DIGITS.filter(lambda ch: ch not in string.digits))
def test_digits_of_other_scripts_are_never_a_price(digit: str) -> None:
    hints = parse_hints(f"shoes under ${digit * 3}", VOCABULARY)
    assert hints.price_max is None


@PARSERS
@given(st.one_of(ANY_TEXT, st.integers(), st.decimals(), st.floats(), st.booleans()))
def test_catalog_prices_and_quantities_are_values_or_value_errors(value: object) -> None:
    for parse in (parse_price, parse_quantity):
        with contextlib.suppress(ValueError):
            parse(value)


@PARSERS
@given(HEADER_TEXT)
def test_retry_after_is_a_delay_or_nothing(value: str) -> None:
    delay = parse_retry_after(value, datetime(2026, 12, 1, tzinfo=UTC))
    assert delay is None or delay >= 0


INBOUND_HEADERS = st.fixed_dictionaries(
    {"webhook-id": HEADER_TEXT, "webhook-timestamp": HEADER_TEXT},
    optional={"x-shopify-topic": HEADER_TEXT},
)


@PARSERS
@given(INBOUND_HEADERS, HEADER_TEXT, st.binary())
def test_an_inbound_webhook_is_an_event_or_rejected(
    headers: dict[str, str], signature: str, body: bytes
) -> None:
    for scheme in ({"webhook-signature": signature}, {"x-shopify-hmac-sha256": signature}):
        with contextlib.suppress(inbound.WebhookRejected):
            inbound.verify(SECRET, {**headers, **scheme}, body, now=1_800_000_000)


@PARSERS
@given(HEADER_TEXT, st.binary(max_size=200))
def test_a_signed_inbound_webhook_verifies_only_with_a_fresh_ascii_timestamp(
    timestamp: str, body: bytes
) -> None:
    now = 1_800_000_000
    fresh = timestamp.isascii() and timestamp.isdigit() and abs(int(timestamp) - now) <= 300
    signature = sign(SECRET, "msg_1", int(timestamp), body) if fresh else "v1,AAAA"
    headers = {"webhook-id": "msg_1", "webhook-timestamp": timestamp}
    try:
        inbound.verify(SECRET, {**headers, "webhook-signature": signature}, body, now=now)
    except inbound.WebhookRejected as exc:
        assert not fresh or "body" in str(exc)  # signed and fresh: only the body can be wrong


@PARSERS
@given(HEADER_TEXT, st.text(max_size=40))
def test_a_presented_key_is_a_string_or_none(authorization: str, query: str) -> None:
    scope: Scope = {
        "type": "http",
        "headers": [(b"authorization", authorization.encode("latin-1"))],
        "query_string": query.encode(),
    }
    key = presented_key(scope)
    assert key is None or (key and key == key.strip())


# What a URL or an Origin is made of, so that broken ones ("http://[", ":99999") come up.
URL_PIECES = st.text(st.sampled_from("[]:%@/.?#0123456789abcdefx\u3002\uff10"), max_size=30)


@PARSERS
@given(st.one_of(ANY_TEXT, URL_PIECES.map(lambda text: "http://" + text)))
def test_origins_and_domains_are_hosts_or_named_errors(text: str) -> None:
    host = origin_host(text)
    assert host is None or host.isascii()
    with contextlib.suppress(DomainError):
        normalize_domain(text)


URL_TEXT = st.one_of(
    ANY_TEXT,
    st.builds(
        lambda scheme, host, rest: f"{scheme}://{host}{rest}",
        st.sampled_from(["http", "https", "ftp", "HTTP"]),
        st.one_of(ANY_TEXT, st.ip_addresses().map(str), st.integers(0, 2**32).map(str)),
        st.sampled_from(["", "/", ":80/", ":99999/", "/feed.csv?x=1"]),
    ),
    st.ip_addresses(v=6).map(lambda address: f"http://[{address}]/"),
    URL_PIECES.map(lambda text: "https://" + text),
)


@PARSERS
@given(URL_TEXT, st.booleans())
def test_a_saved_url_is_accepted_or_refused_with_a_reason(url: str, allow_private: bool) -> None:
    try:
        check_saved(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        assert str(exc)


@PARSERS
@given(st.one_of(ANY_TEXT, st.ip_addresses().map(str)))
def test_a_literal_address_is_an_address_or_none(host: str) -> None:
    literal_address(host)


CATALOG_BYTES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=300).map(str.encode),
    st.lists(st.text(string.printable, max_size=12), max_size=30).map(
        lambda cells: ("id,title,price\n" + ",".join(cells)).encode()
    ),
    st.text(max_size=200).map(lambda text: ('[{"id": "1", "title": ' + text).encode()),
)


@settings(PARSERS, max_examples=150)
@given(CATALOG_BYTES, st.sampled_from(["auto", "csv", "json", "ndjson", "shopify", "gmc"]))
def test_an_uploaded_file_gives_rows_or_a_file_error(data: bytes, format: str) -> None:
    rules = Rules()
    try:
        opened, detected = open_and_detect(io.BytesIO(data), ImportOptions(format=format))
        for raw in parser_for(detected, opened, {}):
            build_record(raw, rules)
    except FileError as exc:
        assert exc.message
