"""Retrieval quality and cost (issue 11), as `invoke bench` rows.

Quality is measured on the labelled shopper questions of tests/chat/quality/ (written before
retrieval was tuned): each question has a kind (exact, misspelling, synonym, situation,
constraint, language, unsold) and the catalog ids any of which answers it. A question with
ids scores a hit when one of them is among the first 3 products the shopper is shown; an
`unsold` question (no ids) scores when nothing is shown at all. Rows:

- retrieval_quality: hit@3 over all questions (target 0.9), each kind's in the row's name;
  retrieval_worst_kind: the weakest kind's (target 0.8); retrieval_unsold_honest: the share
  of unsold questions with nothing shown (target 0.9).
- embedding_time: the worker's embedding job timed over 2,220 products, extrapolated to
  100,000 (reported, no target).
- semantic_step: the question-to-catalog step alone on 100,000 products, full scan against
  the reduced scan with re-score, A/B in one run (reduced at least 1.5x faster), with the
  reduced scan's recall of the full scan's top 40.
- hybrid_round_trip: bench_chat's chat round trip p95 on 100,000 products, all embedded
  (< 50 ms). Needs DATABASE_URL=postgresql://...
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops import demo_shop
from ops.bench.rows import BenchConfig, BenchRow
from ops.databases import migrated_database
from ops.infra import ROOT

if TYPE_CHECKING:
    from app.services.chat.embeddings import ProductTexts

QUALITY_DIR = ROOT / "tests" / "chat" / "quality"
QUALITY_FILES = ("demo_questions.json", "garden_questions.json")
CATALOG_SIZE = 100_000
OVERALL_TARGET = 0.9
KIND_TARGET = 0.8
UNSOLD = "unsold"
SHOP_URL = "https://shop.example.com"


@dataclass(frozen=True, slots=True)
class QualitySet:
    name: str
    catalog: Path
    questions: tuple[dict[str, Any], ...]


@dataclass(slots=True)
class Quality:
    asked: Counter[str] = field(default_factory=Counter)
    hits: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)

    def rate(self, kind: str | None = None) -> float:
        if kind is None:
            asked, hits = sum(self.asked.values()), sum(self.hits.values())
        else:
            asked, hits = self.asked[kind], self.hits[kind]
        return hits / asked if asked else 0.0

    def add(self, other: Quality) -> None:
        self.asked.update(other.asked)
        self.hits.update(other.hits)
        self.misses += other.misses

    def table(self) -> str:
        rows = [
            f"{kind:<12} {self.hits[kind]:>3}/{self.asked[kind]:<3} {self.rate(kind):.2f}"
            for kind in sorted(self.asked)
        ]
        return "\n".join([*rows, f"{'overall':<12} {self.rate():.3f}"])


def quality_sets() -> list[QualitySet]:
    sets = []
    for name in QUALITY_FILES:
        data = json.loads((QUALITY_DIR / name).read_text())
        sets.append(QualitySet(name, ROOT / data["catalog"], tuple(data["questions"])))
    return sets


async def load_catalog(sessions: Any, merchant_id: str, quality_set: QualitySet) -> None:
    """The set's catalog for the merchant: JSON rows written directly, an export file through
    the catalog importer (as a merchant's upload arrives)."""
    if quality_set.catalog.suffix == ".json":
        products = json.loads(quality_set.catalog.read_text())["products"]
        await demo_shop.seed_catalog(sessions, merchant_id, products, SHOP_URL)
        return
    from app.services.catalog.execute import engine_of
    from app.services.catalog.importer import ImportOptions, import_file
    from app.services.catalog.runs import start_run

    async with sessions() as session:
        run = await start_run(
            session, merchant_id=merchant_id, source="upload", trigger="upload",
            mode="incremental", force=False, filename=quality_set.catalog.name,
        )  # fmt: skip
    with quality_set.catalog.open("rb") as file:
        options = ImportOptions(filename=quality_set.catalog.name)
        outcome = await import_file(engine_of(sessions), run, file, options)
    if outcome.status != "succeeded":
        raise RuntimeError(f"{quality_set.name}: import {outcome.status}: {outcome.error_message}")


async def measure(
    sessions: Any, merchant_id: str, questions: tuple[dict[str, Any], ...], *, semantic: Any
) -> Quality:
    """Score what the shopper is shown for each question (the chat's own retrieval; full-text
    search alone when `semantic` is None)."""
    from sqlalchemy import select

    from app.db.models import Product
    from app.services.chat.hints import parse_hints
    from app.services.chat.hybrid import retrieve
    from app.services.chat.vocabulary import load_vocabulary

    quality = Quality()
    async with sessions() as session:
        vocabulary = await load_vocabulary(session, merchant_id)
        external = dict(
            (
                await session.execute(
                    select(Product.id, Product.external_id).where(
                        Product.merchant_id == merchant_id
                    )
                )
            ).all()
        )
        for item in questions:
            hints = parse_hints(item["question"], vocabulary)
            found = await retrieve(
                session, merchant_id, hints, question=item["question"], semantic=semantic
            )
            await session.commit()  # each question in its own transaction, as in the chat
            shown = [external[product.id] for product in found.products]
            relevant = set(item["relevant"])
            hit = not shown if not relevant else bool(set(shown[:3]) & relevant)
            kind = item.get("kind", "labelled")
            quality.asked[kind] += 1
            if hit:
                quality.hits[kind] += 1
            else:
                quality.misses.append(f"[{kind}] {item['question']} -> {shown[:3]}")
    return quality


async def measure_all(
    sessions: Any, *, semantic: Any = None, prepare: Any = None
) -> tuple[Quality, dict[str, Quality]]:
    """Every quality set over its own merchant's catalog: the total and each set's score.
    `prepare(merchant_id)` runs after the catalog is loaded (the worker's embedding job)."""
    from app.services.merchants import create_merchant

    total, by_set = Quality(), {}
    for quality_set in quality_sets():
        async with sessions() as session:
            made = await create_merchant(session, name=f"quality {quality_set.name}", domains=[])
        merchant_id = made.merchant.id
        await load_catalog(sessions, merchant_id, quality_set)
        if prepare is not None:
            await prepare(merchant_id)
        score = await measure(sessions, merchant_id, quality_set.questions, semantic=semantic)
        by_set[quality_set.name] = score
        total.add(score)
    return total, by_set


# --- bench rows -----------------------------------------------------------------------------


@functools.cache
def _measured() -> Quality:
    """Both quality sets over a fresh SQLite database, embedded by the worker's job."""

    async def run(database_url: str) -> Quality:
        from app.services.chat.embedding_job import embed_batch
        from app.services.chat.embeddings import UniversalSentenceEncoder
        from app.services.chat.semantic import semantic_index
        from ops.bench.merchants import bench_engine

        engine, sessions = bench_engine(database_url)
        embedder = UniversalSentenceEncoder()

        async def embed(merchant_id: str) -> None:
            while await embed_batch(sessions, embedder, merchant_id=merchant_id):
                pass

        try:
            index = semantic_index(sessions, embedder)
            total, _ = await measure_all(sessions, semantic=index, prepare=embed)
            return total
        finally:
            await engine.dispose()

    with migrated_database("") as database_url:
        return asyncio.run(run(database_url))


def _questions() -> int:
    return sum(len(quality_set.questions) for quality_set in quality_sets())


def retrieval_quality(config: BenchConfig) -> BenchRow:
    quality = _measured()
    kinds = ", ".join(f"{kind} {quality.rate(kind):.2f}" for kind in sorted(quality.asked))
    return BenchRow(
        name=f"Hybrid retrieval hit@3, {_questions()} labelled questions, 2 catalogs ({kinds})",
        baseline="perfect",
        baseline_value=1.0,
        subject_value=quality.rate(),
        unit="hit@3",
        target=OVERALL_TARGET,
    )


def retrieval_worst_kind(config: BenchConfig) -> BenchRow:
    quality = _measured()
    kind = min(quality.asked, key=quality.rate)
    return BenchRow(
        name=f"Hybrid retrieval hit@3 of the weakest kind of question ({kind})",
        baseline="perfect",
        baseline_value=1.0,
        subject_value=quality.rate(kind),
        unit="hit@3",
        target=KIND_TARGET,
    )


def retrieval_unsold_honest(config: BenchConfig) -> BenchRow:
    quality = _measured()
    return BenchRow(
        name="Questions about things not sold answered with nothing shown "
        f"({quality.asked[UNSOLD]} questions)",
        baseline="perfect",
        baseline_value=1.0,
        subject_value=quality.rate(UNSOLD),
        unit="share",
        target=OVERALL_TARGET,
    )


def _demo_texts() -> list[ProductTexts]:
    from app.services.chat.embeddings import product_texts

    return [
        product_texts(
            item["title"], item.get("brand"), item.get("category"), item.get("description"),
            item.get("tags"),
        )
        for item in demo_shop.demo_catalog()
    ]  # fmt: skip


def embedding_time(config: BenchConfig, *, products: int = 2220) -> BenchRow:
    """The worker's time to embed 100,000 products, extrapolated from its embedding job run
    over `products` products derived from the demo catalog (the built-in model, one worker
    process, the job's own batches and database writes, on DATABASE_URL's server or SQLite)."""
    from app.services.chat.embedding_job import embed_batch
    from app.services.chat.embeddings import UniversalSentenceEncoder
    from ops.bench.chat import _variants
    from ops.bench.merchants import bench_engine, bench_merchant

    embedder = UniversalSentenceEncoder()
    embedder.warm()

    async def run(database_url: str) -> float:
        engine, sessions = bench_engine(database_url)
        try:
            merchant_id = (await bench_merchant(engine)).merchant.id
            await demo_shop.seed_catalog(sessions, merchant_id, list(_variants(products)), SHOP_URL)
            started = time.perf_counter()
            while await embed_batch(sessions, embedder, merchant_id=merchant_id):
                pass
            return time.perf_counter() - started
        finally:
            await engine.dispose()

    with migrated_database(os.environ.get("DATABASE_URL", "")) as database_url:
        per_product = asyncio.run(run(database_url)) / products
    return BenchRow(
        name=f"Worker embedding time for {CATALOG_SIZE:,} products, extrapolated from its job "
        f"over {products:,} ({per_product * 1000:.1f} ms each; reported, no target)",
        baseline="none",
        baseline_value=1.0,
        subject_value=per_product * CATALOG_SIZE / 60,
        unit="min",
        target=0.0,
    )


def hybrid_round_trip(config: BenchConfig, *, messages: int = 200) -> BenchRow:
    """bench_chat's round trip on 100,000 products with every product's vector in place:
    each question is also embedded and searched against a 100,000 x 512 matrix."""
    from ops.bench.chat import ROUND_TRIP_BUDGET_MS, round_trip_p95

    questions = [item["question"] for qs in quality_sets() for item in qs.questions]
    p95 = round_trip_p95("hybrid_round_trip", questions, messages, prepare=_copy_vectors)
    return BenchRow(
        name=f"Chat round trip p95, hybrid, {CATALOG_SIZE:,} embedded products on PostgreSQL, "
        f"{messages} labelled questions (budget / measured)",
        baseline="measured",
        baseline_value=p95,
        subject_value=ROUND_TRIP_BUDGET_MS,
        unit="ms",
        target=1.0,
    )


async def _copy_vectors(database_url: str) -> None:
    """Every product's vector, written with COPY: the vector of the demo product it was
    derived from (computed here). Embedding 100,000 texts takes the worker long (see
    `embedding_time`), and the search costs the same whatever the numbers are."""
    import numpy as np
    from sqlalchemy import select

    from app.db.embeddings import ProductEmbedding
    from app.db.models import Product, utcnow
    from app.services.chat.embeddings import UniversalSentenceEncoder, embed_products
    from ops.bench.merchants import bench_engine

    embedder = UniversalSentenceEncoder()
    vectors = await embed_products(embedder, _demo_texts())
    by_id = {
        item["id"]: np.asarray(vector, dtype="<f4").tobytes()
        for item, vector in zip(demo_shop.demo_catalog(), vectors, strict=True)
    }
    engine, sessions = bench_engine(database_url)
    try:
        async with sessions() as session:
            rows = (
                await session.execute(select(Product.pk, Product.merchant_id, Product.external_id))
            ).all()
        now = utcnow()
        records = [
            (pk, embedder.name, merchant_id, "bench", by_id[external.rsplit("-", 1)[0]], now, now)
            for pk, merchant_id, external in rows
        ]
        columns = [
            "product_pk", "model", "merchant_id", "content_hash", "vector",
            "source_updated_at", "embedded_at",
        ]  # fmt: skip
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert raw is not None  # an open connection has its asyncpg connection
            await raw.copy_records_to_table(
                ProductEmbedding.__tablename__, records=records, columns=columns
            )
            await raw.execute("ANALYZE product_embeddings")
    finally:
        await engine.dispose()


def semantic_step(config: BenchConfig, *, rounds: int = 3) -> BenchRow:
    """The semantic step alone at 100,000 products, full-vector scan (A) against the reduced
    scan with a full re-score of the best few hundred (B), alternated in the same run (the
    machine's load hits both alike); the name carries B's recall of the products in A's top 40.
    The rows are copies of the demo catalog's vectors, each moved by a little noise so that no
    two match (a copy stands for its product: copies tie with one another)."""
    import numpy as np

    from app.services.chat import semantic
    from app.services.chat.embeddings import UniversalSentenceEncoder, embed_products, normalized

    embedder = UniversalSentenceEncoder()
    questions = [item["question"] for qs in quality_sets() for item in qs.questions]

    async def vectors() -> tuple[Any, Any]:
        return await embed_products(embedder, _demo_texts()), await embedder.embed(questions)

    demo, asked = asyncio.run(vectors())
    generator = np.random.default_rng(11)
    copies = np.repeat(demo, -(-CATALOG_SIZE // len(demo)), axis=0)[:CATALOG_SIZE]
    noise = generator.standard_normal(copies.shape).astype(np.float32) * 0.005  # a norm of ~0.1
    rows = normalized(copies + noise)
    keys = np.arange(len(rows), dtype=np.int64)
    reduced = semantic.prepared(None, 0.0, keys, rows)
    exact = dataclasses.replace(reduced, basis=None, reduced=None)
    copies_of = -(-CATALOG_SIZE // len(demo))  # row n is a copy of demo product n // copies_of

    def top(matrix: Any, vector: Any) -> set[int]:
        if matrix.reduced is None:
            scores = np.dot(matrix.rows, vector)
        else:
            scores = np.dot(matrix.reduced, vector @ matrix.basis)
        similarities = semantic.Similarities(
            keys, rows, vector, scores, matrix.reduced is None, 0.0
        )
        return {key // copies_of for key, _ in similarities.top(40)}

    timings: dict[str, list[float]] = {"full": [], "reduced": []}
    found = wanted = 0
    for _ in range(rounds):
        for vector in asked:
            for name, matrix in (("full", exact), ("reduced", reduced)):
                started = time.perf_counter()
                best = top(matrix, vector)
                timings[name].append(time.perf_counter() - started)
                if name == "full":
                    truth = best
            found += len(best & truth)
            wanted += len(truth)
    full, fast = (statistics.median(timings[name]) * 1000 for name in ("full", "reduced"))
    return BenchRow(
        name=f"Semantic step on {CATALOG_SIZE:,} products, median per question: full scan "
        f"{full:.1f} ms / reduced scan + re-score {fast:.1f} ms (recall of the products "
        f"in the top 40: {found / wanted:.3f})",
        baseline="reduced",
        baseline_value=fast,
        subject_value=full,
        unit="ms",
        target=1.5,
    )


RETRIEVAL_BENCHMARKS = [
    retrieval_quality,
    retrieval_worst_kind,
    retrieval_unsold_honest,
    embedding_time,
    semantic_step,
    hybrid_round_trip,
]
