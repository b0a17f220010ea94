"""The worker's embedding job (issue 11): incremental by content hash, restartable after a
kill, and out of the import's way."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from app.db.embeddings import ProductEmbedding
from app.db.models import Product, utcnow
from app.services.chat.embedding_job import embed_batch
from app.services.chat.embeddings import USE_WEIGHT, embed_products, normalized, product_texts
from app.settings import Settings
from ops import demo_shop
from tests.chat.conftest import with_catalog
from tests.chat.embed_worker import HashEmbedder
from tests.conftest import REPO_ROOT


def _run_job(client: TestClient, embedder: HashEmbedder, merchant_id: str) -> int:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def run() -> int:
        checked = 0
        while done := await embed_batch(sessions, embedder, merchant_id=merchant_id):
            checked += done
        return checked

    return client.portal.call(run)  # type: ignore[union-attr]


def _scalar(client: TestClient, statement: Any) -> Any:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def read() -> Any:
        async with sessions() as session:
            return await session.scalar(statement)

    return client.portal.call(read)  # type: ignore[union-attr]


def _execute(client: TestClient, statement: Any) -> None:
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def write() -> None:
        async with sessions() as session:
            await session.execute(statement)
            await session.commit()

    client.portal.call(write)  # type: ignore[union-attr]


def _vectors(client: TestClient, merchant_id: str) -> int:
    count = select(func.count()).where(
        ProductEmbedding.merchant_id == merchant_id, ProductEmbedding.model == "test-hash"
    )
    return int(_scalar(client, count))


def test_unchanged_products_are_never_embedded_twice(client: TestClient) -> None:
    keys = with_catalog(client)
    size = len(demo_shop.demo_catalog())
    embedder = HashEmbedder()
    assert _run_job(client, embedder, keys.id) == size
    # Each product's three texts: its name; with its description; its description alone.
    assert len(embedder.texts) == 3 * size
    assert _vectors(client, keys.id) == size

    # Nothing changed: nothing to do.
    embedder.texts.clear()
    assert _run_job(client, embedder, keys.id) == 0
    assert embedder.texts == []

    # A new price (an import touches updated_at): checked, but its text is the same.
    later = utcnow() + timedelta(seconds=5)
    skillet = (Product.merchant_id == keys.id) & (Product.external_id == "SKU-1183")
    _execute(client, update(Product).where(skillet).values(price=19, updated_at=later))
    version = select(func.max(ProductEmbedding.embedded_at)).where(
        ProductEmbedding.merchant_id == keys.id
    )
    before = _scalar(client, version)
    assert _run_job(client, embedder, keys.id) == 1
    assert embedder.texts == []
    assert _scalar(client, version) == before  # no new vector: the API keeps its matrix

    # A new title: embedded again, alone.
    renamed = later + timedelta(seconds=5)
    _execute(
        client,
        update(Product).where(skillet).values(title="Lodge Skillet 12 Inch", updated_at=renamed),
    )
    assert _run_job(client, embedder, keys.id) == 1
    name, full, use = embedder.texts
    assert "Lodge Skillet 12 Inch" in name and "Lodge Skillet 12 Inch" in full
    assert use == "Pre-seasoned cast iron skillet for searing, baking and camping."
    assert _scalar(client, version) != before


def test_a_killed_worker_resumes_without_redoing_finished_products(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    keys = with_catalog(client)
    size = len(demo_shop.demo_catalog())
    progress = tmp_path / "progress.txt"
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.chat.embed_worker", settings.database_url, keys.id,
         str(progress)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        # Kill it (no chance to clean up) once it is well into the catalog.
        while _vectors(client, keys.id) < 40:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        if worker.stderr:
            worker.stderr.close()
    finished = _vectors(client, keys.id)
    assert 40 <= finished < size  # stopped mid-way, its finished batches kept

    resumed = HashEmbedder()
    assert _run_job(client, resumed, keys.id) == size - finished
    assert len(resumed.texts) == 3 * (size - finished)  # only what was not finished
    assert _vectors(client, keys.id) == size


def test_a_product_vector_weighs_its_name_its_full_text_and_its_description() -> None:
    described = product_texts("Trail Tent", "Kelty", "Outdoor > Tents", "Sleeps two.", ["tent"])
    bare = product_texts("Gift Card", None, None, "  ", None)
    assert described == ("Trail Tent. Kelty. Outdoor / Tents. tent", f"{described.name}. "
                         "Sleeps two.", "Sleeps two.")  # fmt: skip
    assert bare == ("Gift Card", "Gift Card", None)  # a blank description counts as none
    embedder = HashEmbedder()
    vectors = asyncio.run(embed_products(embedder, [described, bare]))
    # Two texts for the product without a description, three for the other.
    assert embedder.texts == [described.name, bare.name, described.full, bare.full, "Sleeps two."]
    rows = asyncio.run(HashEmbedder().embed(embedder.texts))
    expected = normalized(np.stack([rows[0] + rows[2] + USE_WEIGHT * rows[4], rows[1] + rows[3]]))
    assert np.allclose(vectors, expected, atol=1e-6)
