"""A worker process that only embeds (tests/chat/test_embedding_job.py kills it mid-way).

Usage: python -m tests.chat.embed_worker DATABASE_URL MERCHANT_ID PROGRESS_FILE
Each text it embeds is appended to PROGRESS_FILE before its batch commits.
"""

import asyncio
import hashlib
import sys
from pathlib import Path

import numpy as np

from app.db.engine import create_engine, session_factory
from app.services.chat.embedding_job import embed_batch
from app.services.chat.embeddings import Matrix, normalized


class HashEmbedder:
    """Vectors from a hash of the text: the job under test does not care what they mean."""

    name = "test-hash"
    dimension = 16

    def __init__(self, progress: Path | None = None, delay: float = 0.0) -> None:
        self.progress = progress
        self.delay = delay
        self.texts: list[str] = []

    async def embed(self, texts: list[str]) -> Matrix:
        self.texts += texts
        if self.progress is not None:
            with self.progress.open("a") as file:
                file.writelines(f"{text[:60]}\n" for text in texts)
        await asyncio.sleep(self.delay)  # a model takes its time: room to be killed mid-batch
        rows = [
            np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], dtype=np.uint8)
            for text in texts
        ]
        return normalized(np.asarray(rows, dtype=np.float32) + 1)


async def main(database_url: str, merchant_id: str, progress: str) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    embedder = HashEmbedder(Path(progress), delay=0.05)
    try:
        while await embed_batch(sessions, embedder, batch=4, merchant_id=merchant_id):
            pass
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
