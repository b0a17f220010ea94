"""Prefixed, URL-safe, time-sortable identifiers (`mer_01J...`).

26 Crockford base32 characters after the prefix: the first ten hold the creation time in
milliseconds (48 bits) and two random bits, the other sixteen 80 random bits. So ids sort by
creation time (cursor pagination relies on it) and never collide in practice.
"""

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every request gets an id, so the time is encoded ten bits (two characters) per lookup and the
# random part byte-for-character in one translation: 256 byte values, each character 8 times.
_PAIRS = tuple(first + second for first in _ALPHABET for second in _ALPHABET)
_RANDOM_CHARACTER = bytes(ord(_ALPHABET[value % 32]) for value in range(256))
PREFIXES = frozenset({"mer", "key", "prd", "run", "ses", "msg", "whe", "evt", "att", "req"})


def new_id(prefix: str) -> str:
    assert prefix in PREFIXES, f"unknown id prefix {prefix!r}"
    return f"{prefix}_{encode(time.time_ns() // 1_000_000, os.urandom(17))}"


def encode(millis: int, randomness: bytes) -> str:
    """Big-endian, so that ids keep their time order: as RFC 4648 base32 of the 48-bit time
    followed by random bits would begin, which is how ids were encoded before."""
    head = millis << 2 | randomness[0] >> 6
    pairs = _PAIRS
    return (
        pairs[head >> 40]
        + pairs[(head >> 30) & 0x3FF]
        + pairs[(head >> 20) & 0x3FF]
        + pairs[(head >> 10) & 0x3FF]
        + pairs[head & 0x3FF]
        + randomness[1:17].translate(_RANDOM_CHARACTER).decode("ascii")
    )
