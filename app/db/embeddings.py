"""Product vectors for semantic search (issue 11), one row per product and model.

Written by the worker's embedding job, read whole per merchant by the API (see
app/services/chat/semantic.py). `content_hash` is the hash of the text the vector was computed
from, so an unchanged product is never embedded twice; `source_updated_at` is the product's
`updated_at` when it was last checked, so the job finds changed products with one indexed
comparison instead of re-reading every product's text. `embedded_at` changes only when a
vector does: it is the version the API's in-process index compares.
"""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, utcnow


class ProductEmbedding(Base):
    __tablename__ = "product_embeddings"
    __table_args__ = (
        Index(
            "ix_product_embeddings_merchant_model_embedded", "merchant_id", "model", "embedded_at"
        ),
    )

    product_pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("products.pk", ondelete="CASCADE"),
        primary_key=True,
    )
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(32))
    vector: Mapped[bytes] = mapped_column(LargeBinary())  # float32, little-endian, normalized
    source_updated_at: Mapped[datetime] = mapped_column()
    embedded_at: Mapped[datetime] = mapped_column(default=utcnow)
