"""Prefixed, URL-safe, time-sortable identifiers (`mer_01J...`).

26 Crockford base32 characters after the prefix: the first ten hold the creation time in
milliseconds (48 bits) and two random bits, the other sixteen 80 random bits. So ids sort by
creation time (cursor pagination relies on it) and never collide in practice. Random bits come
from the OS: some ids are capabilities (a chat session's id is all a shopper's page holds).

Request ids (`req_`) are made on every request and grant nothing, so they skip the system call:
after the time come a tag drawn once per process and a counter, as MongoDB's ObjectId does.
"""

import itertools
import os
import time
from collections.abc import Iterator

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every request gets an id, so the time is encoded ten bits (two characters) per lookup and the
# random part byte-for-character in one translation: 256 byte values, each character 8 times.
_PAIRS = tuple(first + second for first in _ALPHABET for second in _ALPHABET)
_RANDOM_CHARACTER = bytes(ord(_ALPHABET[value % 32]) for value in range(256))
PREFIXES = frozenset({"mer", "key", "prd", "run", "ses", "msg", "whe", "evt", "att", "usr", "lnk"})
_COUNTER_MASK = (1 << 40) - 1  # eight characters


def _random_characters(count: int) -> str:
    return _as_characters(os.urandom(count))


def _as_characters(random_bytes: bytes) -> str:
    return random_bytes.translate(_RANDOM_CHARACTER).decode("ascii")


def _random_counter() -> Iterator[int]:
    # From a random start, as ObjectId's: ids should not tell how many requests came before.
    # next() is atomic, so threads never share a value.
    return itertools.count(int.from_bytes(os.urandom(5), "big"))


_process_tag = _random_characters(8)
_request_counter = _random_counter()
_last_millisecond: tuple[int, str] = (-1, "")  # and its ten characters, with the tag


def _new_process() -> None:
    # A forked worker must not share its parent's tag (nor, then, its counter values).
    global _process_tag, _request_counter, _last_millisecond
    _process_tag = _random_characters(8)
    _request_counter = _random_counter()
    _last_millisecond = (-1, "")


os.register_at_fork(after_in_child=_new_process)


def new_request_id() -> str:
    """`req_` + the time (as in `new_id`), this process's tag and its request counter."""
    global _last_millisecond
    count = next(_request_counter) & _COUNTER_MASK
    millis = time.time_ns() // 1_000_000
    if _last_millisecond[0] != millis:  # under load, many requests share a millisecond
        _last_millisecond = (millis, _time_characters(millis, 0) + _process_tag)
    pairs = _PAIRS
    return (
        f"req_{_last_millisecond[1]}{pairs[count >> 30]}{pairs[(count >> 20) & 0x3FF]}"
        f"{pairs[(count >> 10) & 0x3FF]}{pairs[count & 0x3FF]}"
    )


def new_id(prefix: str) -> str:
    assert prefix in PREFIXES, f"unknown id prefix {prefix!r}"
    return f"{prefix}_{encode(time.time_ns() // 1_000_000, os.urandom(17))}"


def encode(millis: int, randomness: bytes) -> str:
    """Big-endian, so that ids keep their time order: as RFC 4648 base32 of the 48-bit time
    followed by random bits would begin, which is how ids were encoded before."""
    return _time_characters(millis, randomness[0] >> 6) + _as_characters(randomness[1:17])


def _time_characters(millis: int, two_bits: int) -> str:
    """Ten characters: the 48-bit time, then two more bits."""
    head = millis << 2 | two_bits
    pairs = _PAIRS
    return (
        pairs[head >> 40]
        + pairs[(head >> 30) & 0x3FF]
        + pairs[(head >> 20) & 0x3FF]
        + pairs[(head >> 10) & 0x3FF]
        + pairs[head & 0x3FF]
    )
