"""Semantic search over a merchant's product vectors, in process.

Each API process keeps, per merchant, the normalized float32 matrix of the merchant's vectors
(and the product keys of its rows); a question is one matrix-vector product and an exact
top-k. That is exact cosine search: at 100,000 products of 512 dimensions the matrix is
200 MB and the product takes a few milliseconds, which is where this design stops (see
docs/architecture.md for what comes after). A one-row indexed query reads the newest
`embedded_at` of the merchant's vectors, at most every VERSION_SECONDS per merchant and process
(not on every message: at 100k products it cost a question ~10 ms before anything else could
start): when the worker wrote new ones the matrix is loaded again, so answers follow the
catalog within seconds without any message between processes (the worker is another process,
so there is nothing in this one for it to invalidate).

Products without a vector yet are simply not in the matrix: the full-text search still finds
them. The rows found here are only keys and scores; retrieval reads the products themselves
under the merchant's id and the question's filters, so nothing of another merchant (or
outside the filters) can come out of a stale or foreign matrix.
"""

import asyncio
import dataclasses
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.embeddings import ProductEmbedding
from app.logs import LogFields
from app.services.chat.embeddings import Embedder, EmbeddingError, Matrix, normalized

log = logging.getLogger(__name__)

# How long a merchant's matrix is used without asking the database whether it changed.
VERSION_SECONDS = 2.0
# Up to this many products a question is compared with every full vector; beyond, with
# reduced vectors first, the best RERANK then scored in full (recall: docs/architecture.md).
EXACT_UP_TO = 20_000
REDUCED_DIMENSION = 128
RERANK = 1000
BASIS_SAMPLE = 20_000
# Vectors kept across all merchants of a process (512-d float32: 2 KB each, 1 GB in all).
MAX_CACHED_VECTORS = 500_000
# Products of every kind: a question's mean similarity to them is how close it is to products
# in general, the baseline a real match must stand out from. Not the merchant's own catalog:
# in a shop of one kind (a garden shop) every product is somewhat close to every question
# about that kind, which raised the baseline and hid good matches (on the labelled set, the
# best split of sold from unsold questions was right for 96% of them with this baseline, 94%
# with the catalog's products counted in, 93% with the catalog alone).
REFERENCE_PRODUCTS = (
    "Cotton t-shirt. Apparel / Tops",
    "Slim fit jeans. Apparel / Pants",
    "Leather ankle boots. Footwear",
    "Wool winter coat. Apparel / Outerwear",
    "Running shoes. Footwear / Sports",
    "Wireless headphones. Electronics / Audio",
    "Smartphone with 128 GB storage. Electronics / Phones",
    "Laptop 15 inch. Electronics / Computers",
    "4K television 55 inch. Electronics / TV",
    "USB-C charger. Electronics / Accessories",
    "Espresso machine. Home / Kitchen appliances",
    "Non-stick frying pan. Home / Cookware",
    "Cotton bed sheets. Home / Bedding",
    "Three-seat sofa. Furniture / Living room",
    "Desk lamp. Home / Lighting",
    "Cordless drill. Tools / Power tools",
    "Garden hose. Garden / Watering",
    "Lawn mower. Garden / Lawn care",
    "Dog food, dry, 10 kg. Pets / Food",
    "Cat scratching post. Pets / Toys",
    "Baby stroller. Baby / Travel",
    "Building blocks set. Toys / Construction",
    "Board game for families. Toys / Games",
    "Paperback novel. Books / Fiction",
    "Acoustic guitar. Music / Instruments",
    "Yoga mat. Sports / Fitness",
    "Mountain bike. Sports / Cycling",
    "Camping tent for two. Outdoor / Tents",
    "Moisturizing face cream. Beauty / Skincare",
    "Eau de parfum 50 ml. Beauty / Fragrance",
    "Ground coffee 500 g. Food / Coffee",
    "Dark chocolate bar. Food / Sweets",
    "Car floor mats. Automotive / Interior",
    "Printer ink cartridge. Office / Printing",
    "Ballpoint pens, 10 pack. Office / Stationery",
    "Vitamin D supplement. Health / Supplements",
)


@dataclass(frozen=True, slots=True)
class _Matrix:
    version: datetime | None
    checked: float  # time.monotonic() of the last version check
    keys: npt.NDArray[np.int64]
    rows: Matrix  # normalized, C-contiguous float32
    total: npt.NDArray[np.float64]  # the rows' sum: a question's mean similarity in one dot
    # Large catalogs: the rows projected on their REDUCED_DIMENSION principal directions
    # (`basis`, dimension x REDUCED_DIMENSION), a quarter of the memory to stream per question.
    basis: Matrix | None = None
    reduced: Matrix | None = None


@dataclass(frozen=True, slots=True)
class Similarities:
    """A question's cosine similarity to each of a merchant's embedded products."""

    keys: npt.NDArray[np.int64]  # product pks, ascending
    rows: Matrix
    vector: Matrix
    # Every product's score: the cosine itself, or (`exact` False) its reduced-dimension
    # estimate, only used to choose the candidates whose cosine is then computed.
    scores: Matrix
    exact: bool
    # The mean similarity to REFERENCE_PRODUCTS: how close the question is to products in
    # general, the baseline a real match stands out from (a question about something unsold
    # is about as close to everything).
    mean: float

    def top(self, k: int) -> list[tuple[int, float]]:
        k = min(k, len(self.scores))
        if k <= 0:
            return []
        pool = k if self.exact else min(len(self.scores), max(k, RERANK))
        candidates = np.argpartition(-self.scores, pool - 1)[:pool]
        values = self.scores[candidates] if self.exact else self.rows[candidates] @ self.vector
        best = np.argsort(-values, kind="stable")[:k]
        return [(int(self.keys[candidates[n]]), float(values[n])) for n in best]

    def of(self, key: int) -> float | None:
        """The product's similarity; None when it has no vector yet."""
        n = int(np.searchsorted(self.keys, key))
        if n < len(self.keys) and self.keys[n] == key:
            return float(self.rows[n] @ self.vector)
        return None


def _principal(rows: Matrix) -> Matrix:
    """The REDUCED_DIMENSION directions that keep most of the rows' dot products (top
    eigenvectors of their uncentered second moment, from a sample: cosine is uncentered)."""
    sample = rows[:: max(1, len(rows) // BASIS_SAMPLE)].astype(np.float64)
    _, vectors = np.linalg.eigh(sample.T @ sample)  # eigenvalues ascending
    return np.ascontiguousarray(vectors[:, ::-1][:, :REDUCED_DIMENSION], dtype=np.float32)


def prepared(
    version: datetime | None, checked: float, keys: npt.NDArray[np.int64], rows: Matrix
) -> _Matrix:
    total = rows.sum(axis=0, dtype=np.float64)
    if len(rows) <= EXACT_UP_TO:
        return _Matrix(version, checked, keys, rows, total)
    basis = _principal(rows)
    return _Matrix(version, checked, keys, rows, total, basis, np.ascontiguousarray(rows @ basis))


class SemanticIndex:
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._matrices: OrderedDict[str, _Matrix] = OrderedDict()
        self._loading: dict[str, asyncio.Lock] = {}
        self._reference: Matrix | None = None

    async def embed_question(self, question: str, corrected: str | None = None) -> Matrix | None:
        """The question's vector; None when the embedder fails (then full-text search answers
        alone: a slow or broken embeddings endpoint must not cost the shopper an answer).

        With a spelling-corrected version, the mean of both: the correction brings the
        question to the catalog's words, the raw text keeps what a wrong correction lost."""
        started = time.monotonic()
        try:
            vectors = await self.embedder.embed([question, *([corrected] if corrected else [])])
            row: Matrix = normalized(vectors.mean(axis=0, keepdims=True))[0]
            return row
        except EmbeddingError as exc:
            log.warning(
                "question embedding failed; answering with full-text search only",
                extra=LogFields(
                    embedder=self.embedder.name,
                    error=str(exc)[:300],
                    elapsedMs=round((time.monotonic() - started) * 1000, 1),
                ),
            )
            return None

    async def vectors(self, session: AsyncSession, merchant_id: str) -> _Matrix | None:
        """The merchant's current vectors; None when it has none yet (then there is no need
        to embed the question at all)."""
        matrix = await self._matrix(session, merchant_id)
        return matrix if len(matrix.keys) else None

    async def score(self, matrix: _Matrix, vector: Matrix) -> Similarities:
        """The similarity of the question's vector to each product."""
        # numpy releases the GIL: the product of a large catalog does not stall the loop.
        if matrix.basis is None or matrix.reduced is None:
            scores = await asyncio.to_thread(np.dot, matrix.rows, vector)
        else:
            scores = await asyncio.to_thread(np.dot, matrix.reduced, vector @ matrix.basis)
        reference = await self._references() @ vector
        if len(reference):
            mean = float(reference.mean())
        else:  # the references could not be embedded this time: the catalog's own mean
            mean = float(matrix.total @ vector) / len(scores)
        exact = matrix.reduced is None
        return Similarities(matrix.keys, matrix.rows, vector, scores, exact, mean)

    async def _references(self) -> Matrix:
        if self._reference is None:
            try:
                self._reference = await self.embedder.embed(list(REFERENCE_PRODUCTS))
            except EmbeddingError:
                # The catalog alone sets the baseline this time; tried again next question.
                return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return self._reference

    async def _matrix(self, session: AsyncSession, merchant_id: str) -> _Matrix:
        cached = self._matrices.get(merchant_id)
        # A merchant without vectors yet is checked on every question: its first ones are
        # on their way (the worker embeds after an import) and cost nothing to wait for.
        fresh = cached is not None and time.monotonic() - cached.checked < VERSION_SECONDS
        if cached is not None and fresh and len(cached.keys):
            self._matrices.move_to_end(merchant_id)
            return cached
        model = self.embedder.name
        checked = time.monotonic()
        version = await session.scalar(
            select(func.max(ProductEmbedding.embedded_at)).where(
                ProductEmbedding.merchant_id == merchant_id, ProductEmbedding.model == model
            )
        )
        if cached is not None and cached.version == version:
            cached = dataclasses.replace(cached, checked=checked)
            self._store(merchant_id, cached)
            return cached
        lock = self._loading.setdefault(merchant_id, asyncio.Lock())
        async with lock:  # one load per merchant at a time, however many questions wait
            cached = self._matrices.get(merchant_id)
            if cached is not None and cached.version == version:
                return cached
            loaded = await self._load(session, merchant_id, version, checked)
            self._store(merchant_id, loaded)
            return loaded

    async def _load(
        self, session: AsyncSession, merchant_id: str, version: datetime | None, checked: float
    ) -> _Matrix:
        rows = (
            await session.execute(
                select(ProductEmbedding.product_pk, ProductEmbedding.vector)
                .where(
                    ProductEmbedding.merchant_id == merchant_id,
                    ProductEmbedding.model == self.embedder.name,
                )
                .order_by(ProductEmbedding.product_pk)
            )
        ).all()
        dimension = self.embedder.dimension
        usable = [(key, vector) for key, vector in rows if len(vector) == dimension * 4]
        keys = np.fromiter((key for key, _ in usable), dtype=np.int64, count=len(usable))
        flat = np.frombuffer(b"".join(vector for _, vector in usable), dtype="<f4")
        matrix = np.ascontiguousarray(flat.reshape(len(usable), dimension), dtype=np.float32)
        # Off the loop: the projection of a large catalog takes a while.
        return await asyncio.to_thread(prepared, version, checked, keys, matrix)

    def _store(self, merchant_id: str, matrix: _Matrix) -> None:
        self._matrices[merchant_id] = matrix
        self._matrices.move_to_end(merchant_id)
        total = sum(len(entry.keys) for entry in self._matrices.values())
        while total > MAX_CACHED_VECTORS and len(self._matrices) > 1:
            _, dropped = self._matrices.popitem(last=False)
            total -= len(dropped.keys)


_INDEXES: "weakref.WeakKeyDictionary[async_sessionmaker[AsyncSession], dict[str, SemanticIndex]]"
_INDEXES = weakref.WeakKeyDictionary()


def semantic_index(
    sessions: async_sessionmaker[AsyncSession], embedder: Embedder | None
) -> SemanticIndex | None:
    """This process's index for the database of `sessions` and the embedder's model."""
    if embedder is None:
        return None
    indexes = _INDEXES.setdefault(sessions, {})
    index = indexes.get(embedder.name)
    if index is None:
        index = indexes[embedder.name] = SemanticIndex(embedder)
    # A remote embedder comes with the current event loop's HTTP client: use the newest.
    index.embedder = embedder
    return index
