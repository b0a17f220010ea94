"""Hybrid retrieval (DESIGN §9): the full-text search fused with semantic search.

Full-text search is kept for what it is best at (exact names, SKUs, brands); semantic search
finds what the shopper means in other words or another language. Both go through the same
filters (price, brand, category, colour, stock: `retrieval._conditions`). A product's final score is
its cosine similarity to the question, plus a bonus by its full-text rank, minus a little when
it is not in stock (in stock first among comparable matches).

Knowing when nothing fits: a semantic match counts only when its best product stands out from
products in general (its similarity minus the question's mean similarity to a fixed set of
products of every kind, `semantic.REFERENCE_PRODUCTS`: a question about something the shop
does not sell is about as close to everything). A
full-text match counts when the product is not far from the question in meaning too (a word
in a description is not enough: "bicycles" in a hydration pack's description). When neither
counts, nothing is shown and the reply says so and suggests what the shop carries.

The thresholds were chosen on kinds of questions (tests/chat/quality/), never on a single one.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.services.chat.embeddings import Matrix
from app.services.chat.hints import Hints
from app.services.chat.retrieval import (
    DEFAULT_LIMIT,
    MAX_TERMS,
    FoundProduct,
    Lexical,
    Retrieval,
    by_keys,
    lexical,
)
from app.services.chat.semantic import SemanticIndex, Similarities
from app.services.chat.text import Term, alternatives
from app.services.chat.text import words as words_of

# Best similarity minus the mean similarity to products in general for a semantic match to
# count (the middle of a plateau on the labelled set: 0.17 and 0.18 score the same).
SEMANTIC_CONFIDENCE = 0.175
# The same, for a full-text match to count (lower: the words matched as well).
LEXICAL_AGREEMENT = 0.14
# Semantic candidates: this many best, within MARGIN of the best one.
SEMANTIC_POOL = 40
MARGIN = 0.12
# For "the cheapest ...": only close matches, since price then decides the order.
PRICE_MARGIN = 0.06
LEXICAL_POOL = 8
# Full-text rank bonus, in cosine units: an exact name beats a near meaning. Smaller when
# only part of the question's words matched (its main phrase, its head noun).
LEXICAL_WEIGHT = 0.12
PARTIAL_WEIGHT = 0.04
_STOCK_PENALTY = {"in_stock": 0.0, "backorder": 0.02, "preorder": 0.02}
_OUT_OF_STOCK_PENALTY = 0.04


@dataclass(frozen=True, slots=True)
class _Candidate:
    product: FoundProduct
    score: float


Meaning = asyncio.Task[Matrix | None]


def start_meaning(semantic: SemanticIndex | None, hints: Hints, question: str) -> Meaning | None:
    """The question's vector, started now in a thread, so that it is being computed while the
    caller does its own database work before `retrieve` (which then takes it, and cancels it
    when not needed); None when there is nothing to embed (no embedder, a price alone, a
    greeting)."""
    if semantic is None or not hints.terms or not question.strip():
        return None
    return asyncio.create_task(semantic.embed_question(question, hints.corrected))


async def retrieve(
    session: AsyncSession,
    merchant_id: str,
    hints: Hints,
    *,
    question: str = "",
    semantic: SemanticIndex | None = None,
    meaning: Meaning | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Retrieval:
    """The products to show for a question (none when nothing fits). `meaning`: the
    question's vector from `start_meaning`, if the caller started it earlier."""
    if meaning is None:
        meaning = start_meaning(semantic, hints, question)
    try:
        matrix = None
        if semantic is not None and meaning is not None:
            matrix = await semantic.vectors(session, merchant_id)
        if semantic is None or meaning is None or matrix is None:
            # No embedder, nothing to mean, or nothing embedded yet (a new catalog before the
            # worker's first round): full-text search alone.
            found = await lexical(session, merchant_id, hints, limit=limit)
            return Retrieval(found.products[:limit], hints, found.relaxed)
        # The question is embedded and compared with the catalog (in threads) while the
        # full-text search runs (in the database).
        scoring = asyncio.create_task(_similarities(semantic, matrix, meaning))
        try:
            words = await lexical(session, merchant_id, hints, limit=LEXICAL_POOL, any_word=False)
            similarities = await scoring
        finally:
            await _cancelled(scoring)
    finally:
        if meaning is not None:
            await _cancelled(meaning)
    if similarities is None:
        # The embedder failed: the full-text answer, as without one.
        found = await lexical(session, merchant_id, hints, limit=limit)
        return Retrieval(found.products[:limit], hints, found.relaxed)
    return await _fuse(session, merchant_id, hints, words, similarities, limit)


async def _fuse(
    session: AsyncSession,
    merchant_id: str,
    hints: Hints,
    words: Lexical,
    similarities: Similarities,
    limit: int,
) -> Retrieval:
    mean = similarities.mean
    best = similarities.top(SEMANTIC_POOL)
    meant: list[tuple[int, float]] = []
    if best and best[0][1] - mean >= SEMANTIC_CONFIDENCE:
        margin = MARGIN if hints.sort == "relevance" else PRICE_MARGIN
        meant = [(key, score) for key, score in best if score >= best[0][1] - margin]
    agreed = _agreed(words, similarities, best[0][1] if best else 0.0, hints)
    keys = [key for key, _ in meant]
    # What the shopper means but under none of the filters is relaxed as the words were ("un
    # sweat à capuche violet", where no hoodie is purple: the nearest in other colours, and the
    # reply says so), unless the words found agreeing products under all of them.
    relax = not (agreed and not words.relaxed)
    found, by_meaning = await by_keys(session, merchant_id, hints, keys, relax=relax)
    candidates = {
        found[key].id: _Candidate(found[key], score) for key, score in meant if key in found
    }
    if candidates and len(by_meaning) < len(words.relaxed):
        agreed = []  # found by meaning under stricter filters: better than the words' matches
    weight = LEXICAL_WEIGHT if words.matched_all else PARTIAL_WEIGHT
    for rank, (product, similarity) in enumerate(agreed):
        bonus = weight / (1 + rank)
        current = candidates.get(product.id)
        base = current.score if current is not None else similarity
        candidates[product.id] = _Candidate(product, base + bonus)
    if not candidates:
        if words.relaxed == ("terms",):
            # The filters alone (a brand, a category) describe what to show; the reply says
            # that no product matched the words.
            return Retrieval(words.products[:limit], hints, words.relaxed)
        return Retrieval((), hints, ())
    ranked = sorted(candidates.values(), key=lambda c: _order(c, hints.sort))
    # Each relaxation step drops more filters than the one before: the longer names it all.
    relaxed = max(words.relaxed if agreed else (), by_meaning if found else (), key=len)
    return Retrieval(tuple(c.product for c in ranked[:limit]), hints, relaxed)


async def _similarities(
    semantic: SemanticIndex, matrix: Any, meaning: Meaning
) -> Similarities | None:
    vector = await meaning
    return None if vector is None else await semantic.score(matrix, vector)


async def _cancelled(task: "asyncio.Task[Any]") -> None:
    """Cancel `task` unless it is done, and wait for it (so nothing is left pending)."""
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _agreed(
    words: Lexical, similarities: Similarities, best: float, hints: Hints
) -> list[tuple[FoundProduct, float]]:
    """The full-text matches whose meaning is not far from the question's, with their
    similarity. A product without a vector yet, or whose title holds every word of the
    question, counts as close as the best one: "Black Hole duffel" is the Black Hole Duffel,
    whatever a model makes of black holes."""
    if not words.matched_words:
        return []
    mean = similarities.mean
    asked = [alternatives(term) for term in hints.terms[:MAX_TERMS]]
    agreed = []
    for product in words.products:
        similarity = similarities.of(product.key)
        if similarity is None or _named(product, asked):
            agreed.append((product, best))
        elif similarity - mean >= LEXICAL_AGREEMENT:
            agreed.append((product, similarity))
    return agreed


def _named(product: FoundProduct, asked: list[tuple[Term, ...]]) -> bool:
    """Whether the product's title holds every word of the question (`asked`: each word's
    alternatives, as the search matches them: stems and synonyms)."""
    title = words_of(product.title)
    return bool(asked) and all(
        any(
            word == term.text or (term.prefix and word.startswith(term.text))
            for term in choices
            for word in title
        )
        for choices in asked
    )


def _order(candidate: _Candidate, sort: str) -> tuple[float, ...]:
    product = candidate.product
    penalty = _STOCK_PENALTY.get(product.availability, _OUT_OF_STOCK_PENALTY)
    if sort == "price_asc":
        return (penalty, float(product.price))
    if sort == "price_desc":
        return (penalty, -float(product.price))
    return (penalty - candidate.score,)
