"""A merchant's brands and categories, for recognising them in questions.

Loaded with one grouped query and cached per process, refreshed in the background after a
minute. A sync or an inbound webhook that changes the catalog in this process forgets the
merchant's entry at once (`forget_vocabulary`); other processes see the change within the
minute, where a late brand only means a question is answered by plain search instead of a brand
filter.
"""

import asyncio
import logging
import re
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import Merchant, Product
from app.logs import LogFields
from app.services.chat import text
from app.services.chat.spelling import Speller, catalog_words

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
# Bounds memory for catalogs with unusual numbers of brands or categories.
MAX_ROWS = 20_000
# Product names read for the catalog's words (spelling correction); beyond, a sample.
MAX_TITLES = 200_000
_SEPARATORS = re.compile(r"\s*(?:>|/|\||\u00bb|\u203a|\\)\s*")  # separators: > / | and guillemets
# Segments that say nothing about the product ("Sale > Shoes" is about shoes).
_GENERIC = text.word_set(
    "all other others misc miscellaneous sale sales new featured general default uncategorized"
    " uncategorised home shop catalog products clearance deals"
)


@dataclass(frozen=True, slots=True)
class CategoryMatch:
    label: str  # the segment as the catalog spells it, e.g. "Running Shoes"
    paths: tuple[str, ...]  # every full category containing it


@dataclass(slots=True)
class _Segment:
    label: str
    depth: int
    paths: set[str]


class Vocabulary:
    def __init__(
        self,
        brands: Iterable[str],
        categories: Iterable[tuple[str, int]],
        *,
        merchant_name: str = "our shop",
        words: Counter[str] | None = None,
    ) -> None:
        # Cached with the catalog's words because every answer needs it too.
        self.merchant_name = merchant_name
        self.speller = Speller(words or Counter())
        self._brands: dict[str, str] = {}
        self._brand_words = 1
        for brand in brands:
            self._add_brand(brand)
        self._segments: dict[tuple[str, ...], _Segment] = {}
        self._segment_words = 1
        leaves: Counter[str] = Counter()
        for path, count in categories:
            parts = [part for part in _SEPARATORS.split(path.strip()) if part]
            for depth, part in enumerate(parts):
                self._add_segment(part, depth, path)
            if parts:
                leaves[parts[-1]] += count
        self.popular_categories = tuple(label for label, _ in leaves.most_common(5))

    def _add_brand(self, brand: str) -> None:
        words = text.words(brand)
        if not words:
            return
        keys = {"".join(words)}
        if words[0] == "the" and len(words) > 1:
            keys.add("".join(words[1:]))  # "The North Face" is asked for as "north face"
        for key in keys:
            # Very short or stop-word brands ("On", "Be") would match ordinary words.
            if len(key) >= 3 and key not in text.STOP_WORDS:
                self._brands.setdefault(key, brand)
        self._brand_words = max(self._brand_words, len(words))

    def _add_segment(self, label: str, depth: int, path: str) -> None:
        if label.lower() in _GENERIC:
            return
        key = tuple(text.stem(word) for word in text.content_words(text.words(label)))
        if not key:
            return
        segment = self._segments.setdefault(key, _Segment(label, depth, set()))
        segment.depth = max(segment.depth, depth)
        segment.paths.add(path)
        self._segment_words = max(self._segment_words, len(key))

    def find_brand(self, tokens: list[str]) -> tuple[str | None, list[str]]:
        """The longest run of words naming one of the merchant's brands, and the other words.

        Words are compared joined, so "levis", "levi's" and "Levi's" all find "Levi's"."""
        for size in range(min(self._brand_words, len(tokens)), 0, -1):
            for start in range(len(tokens) - size + 1):
                brand = self._brands.get("".join(tokens[start : start + size]))
                if brand is not None:
                    return brand, tokens[:start] + tokens[start + size :]
        return None, tokens

    def find_category(self, phrase: list[str]) -> CategoryMatch | None:
        """The category segment that `phrase` (content words) ends with: the head noun of a
        noun phrase is its last word, so "running shoes" names Running Shoes while "coffee
        mug" does not name Coffee. The longest such segment wins, then the deepest."""
        stems = [text.stem(word) for word in phrase]
        for size in range(min(self._segment_words, len(stems)), 0, -1):
            segment = self._segments.get(tuple(stems[len(stems) - size :]))
            if segment is not None:
                return CategoryMatch(segment.label, tuple(sorted(segment.paths)))
        return None


class _Cache:
    """Per-merchant vocabularies, refreshed in the background once stale: loading one groups
    the whole catalog, which no shopper's question should wait for more than once."""

    def __init__(self, max_entries: int = 1000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, Vocabulary]] = OrderedDict()
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        # Bumped by `forget`: a refresh that began before the catalog changed must not store
        # what it read.
        self._generation: Counter[str] = Counter()

    async def get(self, merchant_id: str, load: Callable[[], Awaitable[Vocabulary]]) -> Vocabulary:
        entry = self._entries.get(merchant_id)
        if entry is None:
            return self._store(merchant_id, await load())
        if time.monotonic() - entry[0] >= CACHE_SECONDS and merchant_id not in self._refreshing:
            task = asyncio.create_task(self._refresh(merchant_id, load))
            self._refreshing[merchant_id] = task
        self._entries.move_to_end(merchant_id)
        return entry[1]

    async def _refresh(self, merchant_id: str, load: Callable[[], Awaitable[Vocabulary]]) -> None:
        generation = self._generation[merchant_id]
        try:
            vocabulary = await load()
            if self._generation[merchant_id] == generation:
                self._store(merchant_id, vocabulary)
        except Exception:
            # The stale vocabulary stays in use; the next question tries again.
            log.exception(
                "refreshing a merchant's vocabulary failed", extra=LogFields(merchantId=merchant_id)
            )
        finally:
            self._refreshing.pop(merchant_id, None)

    def _store(self, merchant_id: str, vocabulary: Vocabulary) -> Vocabulary:
        self._entries[merchant_id] = (time.monotonic(), vocabulary)
        self._entries.move_to_end(merchant_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return vocabulary

    def forget(self, merchant_id: str) -> None:
        self._generation[merchant_id] += 1
        self._entries.pop(merchant_id, None)


_CACHES: "weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], _Cache]"
_CACHES = weakref.WeakKeyDictionary()


async def load_vocabulary(session: AsyncSession, merchant_id: str) -> Vocabulary:
    rows = (
        await session.execute(
            select(Product.brand, Product.category, func.count())
            .where(Product.merchant_id == merchant_id, Product.visible_to_shoppers.is_(True))
            .group_by(Product.brand, Product.category)
            .limit(MAX_ROWS)
        )
    ).all()
    brands = {brand for brand, _, _ in rows if brand}
    categories: Counter[str] = Counter()
    for _, category, count in rows:
        if category:
            categories[category] += count
    titles = await session.scalars(
        select(Product.title).where(Product.merchant_id == merchant_id).limit(MAX_TITLES)
    )
    texts = [*titles, *brands, *categories]
    name = await session.scalar(select(Merchant.name).where(Merchant.id == merchant_id))

    def build() -> Vocabulary:
        words = catalog_words(texts)
        return Vocabulary(
            sorted(brands), categories.items(), merchant_name=name or "our shop", words=words
        )

    # Off the event loop: the words of 100,000 names take a while to count.
    return await asyncio.to_thread(build)


async def vocabulary_for(
    sessions: async_sessionmaker[AsyncSession], merchant_id: str
) -> Vocabulary:
    """The merchant's vocabulary, from this process's cache (refreshed within a minute)."""
    cache = _CACHES.get(sessions)
    if cache is None:
        cache = _CACHES[sessions] = _Cache()

    async def load() -> Vocabulary:
        async with sessions() as session:
            return await load_vocabulary(session, merchant_id)

    return await cache.get(merchant_id, load)


def forget_vocabulary(merchant_id: str) -> None:
    """Called after a commit that changed the merchant's catalog, so questions see it at once."""
    for cache in list(_CACHES.values()):
        cache.forget(merchant_id)
