"""Helpers for the chat tests: merchants with the demo catalog, sessions, questions."""

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.services.chat.embedding_job import embed_batch
from app.services.chat.embeddings import UniversalSentenceEncoder
from ops import demo_shop
from tests.conftest import MerchantKeys, new_merchant

SHOP = "https://shop.example.com"


def with_catalog(client: TestClient, *, domains: list[str] | None = None) -> MerchantKeys:
    """A merchant whose catalog is the demo shop's 222 products (widget/demo/catalog.json)."""
    keys = new_merchant(client, domains=domains or ["shop.example.com"])
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def seed() -> int:
        return await demo_shop.seed_catalog(sessions, keys.id, demo_shop.demo_catalog(), SHOP)

    assert client.portal.call(seed) >= 200  # type: ignore[union-attr]
    return keys


@pytest.fixture
def shop(client: TestClient) -> MerchantKeys:
    return with_catalog(client)


def widget_headers(keys: MerchantKeys, origin: str = SHOP) -> dict[str, str]:
    return {**keys.widget_auth, "Origin": origin}


def start_session(client: TestClient, keys: MerchantKeys, **body: Any) -> dict[str, Any]:
    response = client.post("/api/chat/sessions", headers=widget_headers(keys), json=body)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def ask(client: TestClient, keys: MerchantKeys, session_id: str, content: str) -> dict[str, Any]:
    response = client.post(
        f"/api/chat/sessions/{session_id}/messages",
        headers=widget_headers(keys),
        json={"content": content},
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def ask_streaming(
    client: TestClient, keys: MerchantKeys, session_id: str, content: str
) -> list[tuple[str, Any]]:
    """The server-sent events of a streamed reply, in order, as (event, data)."""
    events: list[tuple[str, Any]] = []
    with client.stream(
        "POST",
        f"/api/chat/sessions/{session_id}/messages",
        headers={**widget_headers(keys), "Accept": "text/event-stream"},
        json={"content": content},
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        buffer = ""
        for chunk in response.iter_text():
            buffer += chunk
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in frame.splitlines())
                events.append((fields["event"], json.loads(fields["data"])))
    return events


class MemoEmbedder:
    """The built-in model, remembering what it embedded: the demo catalog is embedded once
    per test run however many merchants hold it. `texts` counts what each call embedded."""

    name = UniversalSentenceEncoder.name
    dimension = UniversalSentenceEncoder.dimension

    def __init__(self) -> None:
        self.model = UniversalSentenceEncoder()
        self.memo: dict[str, Any] = {}
        self.texts: list[str] = []

    async def embed(self, texts: list[str]) -> Any:
        import numpy as np

        self.texts += texts
        missing = [text for text in dict.fromkeys(texts) if text not in self.memo]
        if missing:
            for text, row in zip(missing, await self.model.embed(missing), strict=True):
                self.memo[text] = row
        return np.stack([self.memo[text] for text in texts])


MEMO_EMBEDDER = MemoEmbedder()


def embed_catalog(client: TestClient, merchant_id: str) -> int:
    """What the worker does after an import, for one merchant; how many products it checked."""
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def run() -> int:
        checked = 0
        while done := await embed_batch(sessions, MEMO_EMBEDDER, merchant_id=merchant_id):
            checked += done
        return checked

    return client.portal.call(run)  # type: ignore[union-attr]


@pytest.fixture
def embedded_shop(client: TestClient) -> MerchantKeys:
    """The demo shop, embedded as the worker embeds it after an import."""
    keys = with_catalog(client)
    assert embed_catalog(client, keys.id) == len(demo_shop.demo_catalog())
    return keys
