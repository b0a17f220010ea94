"""The worker's embedding job: vectors for products that have none or whose text changed.

Runs after imports, outside them: an import commits its products, and the next worker round
finds them here (products with no vector for the configured model, or updated since their
vector was checked). Each batch is embedded and committed on its own, so a worker killed
mid-way loses at most the batch in hand and the next one resumes where it stopped. A product
whose text did not change (a new price, say) keeps its vector: its text hash is compared
first, and only its check time moves.
"""

import logging
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.embeddings import ProductEmbedding
from app.db.models import Product, utcnow
from app.logs import LogFields
from app.platform import Platform
from app.services.chat.embeddings import (
    Embedder,
    EmbeddingError,
    embed_products,
    embedder_for,
    product_texts,
    text_hash,
)

log = logging.getLogger(__name__)

# Products per batch: big enough for the model's matrix products, small enough that a killed
# worker loses little and a batch commits within a second or two.
BATCH = 32


async def embed_catalogs(platform: Platform) -> int:
    """One batch for the configured embedder; the number of products checked."""
    embedder = embedder_for(platform, platform.settings)
    if embedder is None:
        return 0
    return await embed_batch(platform.sessions, embedder)


async def embed_batch(
    sessions: async_sessionmaker[AsyncSession],
    embedder: Embedder,
    *,
    batch: int = BATCH,
    merchant_id: str | None = None,
) -> int:
    """Embed up to `batch` products needing it (of one merchant, or of all); the number of
    products checked, 0 when none needs it."""
    existing = ProductEmbedding
    only = () if merchant_id is None else (Product.merchant_id == merchant_id,)
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    Product.pk,
                    Product.merchant_id,
                    Product.title,
                    Product.brand,
                    Product.category,
                    Product.description,
                    Product.data,
                    Product.updated_at,
                    existing.content_hash,
                )
                .outerjoin(
                    existing,
                    and_(existing.product_pk == Product.pk, existing.model == embedder.name),
                )
                .where(
                    or_(
                        existing.product_pk.is_(None),
                        Product.updated_at > existing.source_updated_at,
                    ),
                    *only,
                )
                .order_by(Product.pk)
                .limit(batch)
            )
        ).all()
        if not rows:
            return 0
        texts = {
            row.pk: product_texts(
                row.title, row.brand, row.category, row.description, (row.data or {}).get("tags")
            )
            for row in rows
        }
        hashes = {pk: text_hash(embedder.name, text) for pk, text in texts.items()}
        changed = [row for row in rows if row.content_hash != hashes[row.pk]]
        try:
            vectors = await embed_products(embedder, [texts[row.pk] for row in changed])
        except EmbeddingError as exc:
            # Retried next round; meanwhile these products are found by full-text search.
            log.warning(
                "embedding products failed", extra=LogFields(embedder=embedder.name, error=str(exc))
            )
            return 0
        now = utcnow()
        values = {
            row.pk: {
                "product_pk": row.pk,
                "model": embedder.name,
                "merchant_id": row.merchant_id,
                "content_hash": hashes[row.pk],
                "source_updated_at": row.updated_at,
            }
            for row in rows
        }
        for row, vector in zip(changed, vectors, strict=True):
            values[row.pk]["vector"] = np.asarray(vector, dtype="<f4").tobytes()
            values[row.pk]["embedded_at"] = now
        await _upsert(session, [v for v in values.values() if "vector" in v], vector=True)
        await _upsert(session, [v for v in values.values() if "vector" not in v], vector=False)
        await session.commit()
    return len(rows)


async def _upsert(session: AsyncSession, values: list[dict[str, Any]], *, vector: bool) -> None:
    """Insert or update (several workers may embed the same product at once: last wins)."""
    if not values:
        return
    dialect = postgresql if (await session.connection()).dialect.name == "postgresql" else sqlite
    statement = dialect.insert(ProductEmbedding)
    if vector:
        updated = ("merchant_id", "content_hash", "vector", "source_updated_at", "embedded_at")
        statement = statement.on_conflict_do_update(
            index_elements=["product_pk", "model"],
            set_={name: statement.excluded[name] for name in updated},
        )
        await session.execute(statement, values)
        return
    # Unchanged text: only the check time moves; the vector and its version stay.
    for value in values:
        await session.execute(
            update(ProductEmbedding)
            .where(
                ProductEmbedding.product_pk == value["product_pk"],
                ProductEmbedding.model == value["model"],
            )
            .values(source_updated_at=value["source_updated_at"])
        )
