"""Prefixed, URL-safe, time-sortable identifiers (`mer_01J...`).

26 Crockford base32 characters after the prefix: 48 bits of milliseconds then 80 random bits,
so ids sort by creation time (cursor pagination relies on it) and never collide in practice.
"""

import base64
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET)
PREFIXES = frozenset({"mer", "key", "prd", "run", "ses", "msg", "whe", "evt", "att", "req"})


def new_id(prefix: str) -> str:
    assert prefix in PREFIXES, f"unknown id prefix {prefix!r}"
    millis = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    # 16 bytes encode to 26 base32 characters (+ padding); big-endian keeps the time order.
    encoded = base64.b32encode(millis + os.urandom(10)).decode("ascii")[:26]
    return f"{prefix}_{encoded.translate(_FROM_RFC4648)}"
