"""Retrieval quality and cost (issue 11), as `invoke bench` rows.

Quality is measured on the labelled shopper questions of tests/chat/quality/ (written before
retrieval was tuned): each question has a kind (exact, misspelling, synonym, situation,
constraint, language, unsold) and the catalog ids any of which answers it. A question with
ids scores a hit when one of them is among the first 3 products the shopper is shown; an
`unsold` question (no ids) scores when nothing is shown at all. Rows:

- retrieval_quality: hit@3 over all questions (target 0.9), and one row per kind (0.8).
- embed_throughput: the worker's embedding time per product, measured on a sample of the
  demo catalog's texts and extrapolated to 100,000 products (reported, no target).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops import widget
from ops.bench import BenchConfig, BenchRow
from ops.databases import migrated_database

QUALITY_DIR = Path(__file__).resolve().parent.parent / "tests" / "chat" / "quality"
QUALITY_FILES = ("demo_questions.json", "garden_questions.json")
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
        rows = [f"{kind:<12} {self.hits[kind]:>3}/{self.asked[kind]:<3} {self.rate(kind):.2f}"
                for kind in sorted(self.asked)]
        return "\n".join([*rows, f"{'overall':<12} {self.rate():.3f}"])


def quality_sets() -> list[QualitySet]:
    root = QUALITY_DIR.parent.parent.parent
    sets = []
    for name in QUALITY_FILES:
        data = json.loads((QUALITY_DIR / name).read_text())
        sets.append(QualitySet(name, root / data["catalog"], tuple(data["questions"])))
    return sets


async def load_catalog(sessions: Any, merchant_id: str, quality_set: QualitySet) -> None:
    """The set's catalog for the merchant: JSON rows written directly, an export file through
    the catalog importer (as a merchant's upload arrives)."""
    if quality_set.catalog.suffix == ".json":
        products = json.loads(quality_set.catalog.read_text())["products"]
        await widget.seed_catalog(sessions, merchant_id, products, SHOP_URL)
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
    """Score what the shopper is shown for each question (the chat's own retrieval)."""
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
            quality.asked[item["kind"]] += 1
            if hit:
                quality.hits[item["kind"]] += 1
            else:
                quality.misses.append(f"[{item['kind']}] {item['question']} -> {shown[:3]}")
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
