"""Misspelt question words corrected against the merchant's own catalog words.

Shoppers type "blutooth speeker" and "hoddie"; the full-text search then finds nothing and
the question's vector drifts away from the products'. A word is corrected only when the
full-text search would not find it as it is (no catalog word starts with its stem), it has at
least 4 letters, and a catalog word is within a bounded Damerau-Levenshtein distance (its
optimal-string-alignment form, RapidFuzz's fast bit-parallel one: a transposition counts as
one edit): 1 for words of 4 to 7 letters, 2 for longer ones.
Among equally close words an everyday word wins, then the catalog's most frequent. Correcting
only towards the merchant's own words means a correction can only point at something the shop
sells.

A word that is common in one of the shoppers' languages (en, de, fr, es: at least once per
million words, wordfreq's "small" lists) is never corrected, however close a catalog word is:
"keep" is not a misspelt "keen", "Vater" not "water", "pools" not "tools". A real word
misused ("lawn mover") stays as it is; that costs less than rewriting everyday words.
"""

import bisect
import functools
import re
from collections import Counter
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA
from wordfreq import iter_wordlist

from app.services.chat import text

MIN_LENGTH = 4
LONG_WORD = 8  # from this length, two edits
# Catalog words a question word is compared with (the most frequent): bounds the time.
MAX_CANDIDATES = 30_000
_LETTERS = re.compile(r"[^\W\d_]+")
LANGUAGES = ("en", "de", "fr", "es")


@functools.cache
def common_words() -> frozenset[str]:
    """Everyday words of the shoppers' languages (~110k, 15 MB; read once per process)."""
    return frozenset(
        word for language in LANGUAGES for word in iter_wordlist(language, wordlist="small")
    )


class Speller:
    def __init__(self, counts: Counter[str]) -> None:
        self._known = sorted(counts)
        # By length (a word can only be within `limit` edits of words within `limit` letters
        # of its own length), most frequent first; the rarest left out of big catalogs.
        self._by_length: dict[int, list[str]] = {}
        self._rank: dict[str, int] = {}
        for word, _ in counts.most_common(MAX_CANDIDATES):
            if len(word) >= MIN_LENGTH - 1 and _LETTERS.fullmatch(word):
                self._by_length.setdefault(len(word), []).append(word)
                self._rank[word] = len(self._rank)

    def correct_word(self, word: str) -> str:
        """The catalog word `word` was probably meant to be (itself when known or unsure)."""
        if (
            len(word) < MIN_LENGTH
            or word in text.STOP_WORDS
            or not _LETTERS.fullmatch(word)
            or word in common_words()
            or self._found(word)
        ):
            return word
        limit = 1 if len(word) < LONG_WORD else 2
        found: list[tuple[str, int]] = []
        for length in range(len(word) - limit, len(word) + limit + 1):
            found += [
                (match, int(distance))
                for match, distance, _ in process.extract(
                    word,
                    self._by_length.get(length, ()),
                    scorer=OSA.distance,
                    score_cutoff=limit,
                    limit=None,
                )
            ]
        if not found:
            return word
        # The closest; among equally close ones an everyday word ("blower") before a name
        # ("Bloem"), then the catalog's most frequent.
        common = common_words()
        best = min(
            found, key=lambda match: (match[1], match[0] not in common, self._rank[match[0]])
        )
        return best[0]

    def _found(self, word: str) -> bool:
        """Whether the full-text search finds the word as it is: a catalog word starts with
        its stem (prefix search, see `text.alternatives`)."""
        prefix = text.stem(word)
        n = bisect.bisect_left(self._known, prefix)
        return n < len(self._known) and self._known[n].startswith(prefix)

    def correct(self, question: str) -> str:
        """The question with its misspelt words replaced (the rest of it untouched)."""
        return text.map_words(question, self.correct_word)


def catalog_words(texts: Iterable[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for value in texts:
        counts.update(text.words(value))
    return counts
