"""Words of a shopper's question as the search index sees them.

Both indexes tokenize without stemming (SQLite FTS5 `unicode61`, PostgreSQL `simple`) because
catalogs come in every language. Searches therefore use prefix matching on a light stem that
singular and plural share ("batteries" and "battery" both start with "batter"), plus a small
table of shopping synonyms. Words are split exactly where the indexes split them (anything
that is not a letter or digit), so every term is safe to put in a query as is.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")


# Words that say nothing about which product is wanted. English only: the question's other
# words still search in any language.
def word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


STOP_WORDS = word_set(
    """
    a about above after again all also am an and any anything are as at available be been
    best buy can could did do does doing for from get got had has have having he her here hers
    him his how i id if im in into is it its ive just like looking me might mine more most my
    need needs of on one ones or our ours please product products recommend recommendation
    recommendations sell selling sells she should show so some something stock stuff suggest
    than that the their them then there these they thing things this those to too us
    want wanted wants was we were what whats where which who why will with would you your
    yours hi hello hey thanks thank ok okay good great nice cool items item options option
    find searching search got carry offer offers anyone other else
    under below less around between price priced prices cost costs budget dollars euros bucks
    """
)

# Groups of interchangeable words; each word searches for all of its group.
_SYNONYM_GROUPS = (
    ("sneaker", "trainer", "shoe"),  # "trainers" are sneakers or sports shoes (UK)
    ("tee", "tshirt"),
    ("hoodie", "hoody", "sweatshirt"),
    ("pants", "trousers"),
    ("sofa", "couch"),
    ("laptop", "notebook"),
    ("phone", "smartphone", "cellphone"),
    ("headphone", "headset", "earphone"),
    ("earbud", "earphone"),
    ("tv", "television"),
    ("jumper", "sweater", "pullover"),
    ("purse", "handbag"),
    ("backpack", "rucksack", "knapsack"),
    ("bike", "bicycle"),
    ("kid", "child", "children", "kids"),
    ("woman", "women", "womens", "ladies"),
    ("man", "men", "mens"),
    ("fridge", "refrigerator"),
    ("mug", "cup"),
    ("couch", "sofa"),
    ("waterproof", "rainproof"),
)


def words(text: str) -> list[str]:
    """Lower-cased words, split where the search indexes split them."""
    return _WORD.findall(text.lower())


def stem(word: str) -> str:
    """A prefix shared by the word's singular and plural forms (crude, English-leaning)."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3]
    if word.endswith(("sses", "ches", "shes", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    if word.endswith("y") and len(word) > 4 and word[-2] not in "aeiou":
        return word[:-1]
    if word.endswith("ing") and len(word) >= 7:
        return word[:-3]  # "running" → "runn" (runner, running), "charging" → "charg"
    return word


def _synonyms() -> dict[str, tuple[str, ...]]:
    table: dict[str, set[str]] = {}
    for group in _SYNONYM_GROUPS:
        stems = {stem(w) for member in group for w in words(member) if len(w) > 1}
        for member in group:
            for w in words(member):
                table.setdefault(stem(w), set()).update(stems)
    return {key: tuple(sorted(value)) for key, value in table.items()}


_SYNONYMS = _synonyms()


# Shorter stems would match too much as prefixes ("man" → "manual"); they match whole words.
MIN_PREFIX = 4


@dataclass(frozen=True, slots=True)
class Term:
    """One thing to look for in the index: a whole word, or a prefix of words."""

    text: str
    prefix: bool


def alternatives(word: str) -> tuple[Term, ...]:
    """What one question word searches for: its own stem first, then its synonyms'."""
    if word.isdigit():
        # "4" must not find "40" or "450": numbers match whole.
        return (Term(word, prefix=False),)
    own = stem(word)
    stems = (own, *(s for s in _SYNONYMS.get(own, ()) if s != own))
    terms: list[Term] = []
    for text in stems:
        if len(text) >= MIN_PREFIX:
            terms.append(Term(text, prefix=True))
        else:
            terms += [Term(text, prefix=False), Term(text + "s", prefix=False)]
    return tuple(dict.fromkeys(terms))


def content_words(tokens: Iterable[str]) -> list[str]:
    """Words worth searching for: no stop words, no single letters, no duplicates."""
    seen: set[str] = set()
    kept = []
    for token in tokens:
        if token in STOP_WORDS or (len(token) < 2 and not token.isdigit()):
            continue
        key = stem(token)
        if key not in seen:
            seen.add(key)
            kept.append(token)
    return kept


def map_words(text: str, change: Callable[[str], str]) -> str:
    """`text` with each word (lower-cased) replaced by `change(word)`; unchanged words keep
    their case and everything between words stays as it was."""

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        changed = change(word.lower())
        return word if changed == word.lower() else changed

    return _WORD.sub(replace, text)
