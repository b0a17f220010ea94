"""The OpenAI-compatible embeddings provider (`EMBEDDINGS_PROVIDER=openai`) against a real
HTTP server on loopback that speaks `/v1/embeddings`: vectors, errors, and a slow endpoint
leaving the question to the full-text search."""

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.services.chat.embedding_job import embed_batch
from app.services.chat.embeddings import EmbeddingError, OpenAiEmbedder, embedder_for
from app.settings import SettingsError
from tests.chat.conftest import ask, start_session, with_catalog
from tests.conftest import Backend, loopback_server, make_settings

DIMENSION = 256
TIMEOUT = 0.5


@dataclass
class FakeEmbeddings:
    mode: str = "ok"  # ok | slow | error | short
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _vector(text: str) -> list[float]:
    """A bag of hashed words: texts sharing words are close, as with a real model."""
    vector = np.zeros(DIMENSION)
    for word in text.lower().split():
        vector[
            int.from_bytes(hashlib.sha256(word.strip(".,?!").encode()).digest()[:2], "big")
            % DIMENSION
        ] += 1.0
    return list(vector + 0.01)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[tuple[str, FakeEmbeddings]]:
    state = FakeEmbeddings()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if state.mode == "slow":
                time.sleep(TIMEOUT * 3)
            if state.mode == "error":
                self._send(500, {"error": {"message": "overloaded"}})
                return
            texts = body["input"]
            if state.mode == "short":
                texts = texts[:-1]
            data = [
                {"object": "embedding", "index": n, "embedding": _vector(text)}
                for n, text in reversed(list(enumerate(texts)))  # any order: `index` says
            ]
            self._send(200, {"object": "list", "data": data, "model": body["model"]})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with loopback_server(Handler) as origin:
        yield f"{origin}/v1", state


@pytest.fixture
def remote_client(backend: Backend, endpoint: tuple[str, FakeEmbeddings]) -> Iterator[TestClient]:
    url, state = endpoint
    state.mode = "ok"
    state.requests.clear()
    state.headers.clear()
    settings = make_settings(
        backend,
        EMBEDDINGS_PROVIDER="openai",
        EMBEDDINGS_BASE_URL=url,
        EMBEDDINGS_MODEL="test-embed",
        EMBEDDINGS_API_KEY="sk-test-embed-key",
        EMBEDDINGS_DIMENSION=str(DIMENSION),
        EMBEDDINGS_TIMEOUT_SECONDS=str(TIMEOUT),
    )
    with TestClient(create_app(settings)) as client:
        yield client


async def _embed(url: str, texts: list[str]) -> Any:
    async with httpx.AsyncClient() as http:
        embedder = OpenAiEmbedder(
            http, base_url=url, model="test-embed", api_key="sk-x", dimension=DIMENSION,
            timeout=TIMEOUT,
        )  # fmt: skip
        return await embedder.embed(texts)


def test_vectors_come_back_normalized_in_the_order_asked(
    endpoint: tuple[str, FakeEmbeddings],
) -> None:
    url, state = endpoint
    state.mode = "ok"
    rows = asyncio.run(_embed(url, ["rain jacket", "cast iron skillet", "rain jacket"]))
    assert rows.shape == (3, DIMENSION) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    assert np.allclose(rows[0], rows[2]) and not np.allclose(rows[0], rows[1])
    assert state.requests[-1] == {
        "model": "test-embed",
        "input": ["rain jacket", "cast iron skillet", "rain jacket"],
    }
    assert state.headers[-1]["authorization"] == "Bearer sk-x"


@pytest.mark.parametrize("mode", ["slow", "error", "short"])
def test_a_failing_endpoint_raises_embedding_error_in_time(
    endpoint: tuple[str, FakeEmbeddings], mode: str
) -> None:
    url, state = endpoint
    state.mode = mode
    started = time.monotonic()
    with pytest.raises(EmbeddingError):
        asyncio.run(_embed(url, ["rain jacket", "tent"]))
    assert time.monotonic() - started < TIMEOUT * 2.5
    state.mode = "ok"


def test_the_worker_embeds_through_the_endpoint_and_a_slow_one_leaves_full_text_search(
    remote_client: TestClient, endpoint: tuple[str, FakeEmbeddings]
) -> None:
    _, state = endpoint
    keys = with_catalog(remote_client)
    platform = remote_client.app.state.platform  # type: ignore[attr-defined]

    async def embed_all() -> int:
        embedder = embedder_for(platform, platform.settings)
        assert embedder is not None and embedder.name == "openai:test-embed"
        checked = 0
        while done := await embed_batch(platform.sessions, embedder, merchant_id=keys.id):
            checked += done
        return checked

    assert remote_client.portal.call(embed_all) >= 200  # type: ignore[union-attr]
    assert state.headers[-1]["authorization"] == "Bearer sk-test-embed-key"
    session = start_session(remote_client, keys)["id"]
    reply = ask(remote_client, keys, session, "cast iron skillet")["reply"]
    assert reply["products"][0]["title"] == "Lodge 10.25 Inch Cast Iron Skillet"
    assert {"model": "test-embed", "input": ["cast iron skillet"]} in state.requests

    # The endpoint stalls: the question is answered by the full-text search, within the
    # embeddings timeout, with the same product.
    state.mode = "slow"
    started = time.monotonic()
    reply = ask(remote_client, keys, session, "cast iron skillet")["reply"]
    assert time.monotonic() - started < TIMEOUT * 2.5
    assert reply["products"][0]["title"] == "Lodge 10.25 Inch Cast Iron Skillet"
    state.mode = "ok"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"EMBEDDINGS_PROVIDER": "magic"}, "EMBEDDINGS_PROVIDER"),
        ({"EMBEDDINGS_PROVIDER": "openai", "EMBEDDINGS_MODEL": "m"}, "EMBEDDINGS_BASE_URL"),
        (
            {"EMBEDDINGS_PROVIDER": "openai", "EMBEDDINGS_BASE_URL": "http://127.0.0.1:9/v1"},
            "EMBEDDINGS_MODEL",
        ),
        ({"EMBEDDINGS_BASE_URL": "ftp://example.com"}, "EMBEDDINGS_BASE_URL"),
        ({"EMBEDDINGS_TIMEOUT_SECONDS": "0"}, "EMBEDDINGS_TIMEOUT_SECONDS"),
    ],
)
def test_bad_embeddings_settings_fail_at_start_naming_the_variable(
    backend: Backend, overrides: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        make_settings(backend, **overrides)
    assert named in str(raised.value)


def test_the_api_key_is_never_shown(backend: Backend) -> None:
    settings = make_settings(
        backend, EMBEDDINGS_PROVIDER="off", EMBEDDINGS_API_KEY="sk-very-secret-embed"
    )
    assert "sk-very-secret-embed" not in repr(settings)
