"""A small in-process TTL cache for hot-path lookups (API keys, allowed domains, flags).

Bounded in size; entries older than `ttl` seconds are refetched. Writers that change the
underlying data call `invalidate` so this process sees the change at once; other processes see
it within `ttl` (documented in docs/architecture.md).
"""

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")
# A value no cache holds: `fresh(key, MISSING)` tells a miss from a cached None.
MISSING: Any = object()


class TtlCache(Generic[K, V]):
    def __init__(self, *, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def fresh(self, key: K, default: D) -> V | D:
        """The cached value if it is still fresh, else `default`: for hot paths, which can
        skip awaiting `get` when the value is already here."""
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] < self.ttl:
            self._entries.move_to_end(key)
            return entry[1]
        return default

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        cached = self.fresh(key, MISSING)
        if cached is not MISSING:
            return cached
        now = time.monotonic()
        value = await load()
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return value

    def invalidate(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
