"""The `openai` answer provider against a real HTTP server on loopback that speaks the
OpenAI chat-completions API: grounding, history, streaming, and the fallback to `extractive`
on timeouts, errors and broken streams."""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.services.chat.answers.openai import OpenAiProvider
from app.services.chat.providers import answer_provider
from tests.chat.conftest import ask, ask_streaming, start_session, with_catalog
from tests.conftest import Backend, MerchantKeys, loopback_server, make_settings

TIMEOUT = 0.5
TOKENS = ["The ", "Lodge ", "10.25 ", "Inch ", "Cast ", "Iron ", "Skillet ", "is ", "$24.90."]


@dataclass
class FakeLlm:
    """What the fake server does next, and what it was sent."""

    mode: str = "ok"  # ok | slow | error | break | stall
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _chunk(delta: dict[str, Any]) -> bytes:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "test-model"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
    return b"data: " + json.dumps(body).encode() + b"\n\n"


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[str, FakeLlm]]:
    state = FakeLlm()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path != "/v1/chat/completions":
                self.send_error(404)
                return
            if state.mode == "slow":
                time.sleep(TIMEOUT * 3)
            if state.mode == "error":
                self.send_response(500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "overloaded"}}')
                return
            if not body.get("stream"):
                reply = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(TOKENS)},
                            "finish_reason": "stop",
                        }
                    ],
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(_chunk({"role": "assistant"}))
            self.wfile.write(b": keep-alive comment\n\n")
            for n, token in enumerate(TOKENS):
                if n == 2 and state.mode == "break":
                    self.wfile.write(b"data: {not json\n\n")
                    self.wfile.flush()
                    return
                if n == 2 and state.mode == "stall":
                    self.wfile.flush()
                    time.sleep(TIMEOUT * 3)
                    return
                self.wfile.write(_chunk({"content": token}))
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with loopback_server(Handler) as origin:
        yield f"{origin}/v1", state


@pytest.fixture
def llm_client(backend: Backend, llm: tuple[str, FakeLlm]) -> Iterator[TestClient]:
    url, state = llm
    state.mode = "ok"
    state.requests.clear()
    state.headers.clear()
    settings = make_settings(
        backend,
        ANSWER_PROVIDER="openai",
        LLM_BASE_URL=url,
        LLM_MODEL="test-model",
        LLM_API_KEY="sk-test-llm-key",
        LLM_TIMEOUT_SECONDS=str(TIMEOUT),
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_model_client_is_closed_when_the_app_stops(
    backend: Backend, llm: tuple[str, FakeLlm]
) -> None:
    settings = make_settings(
        backend, ANSWER_PROVIDER="openai", LLM_BASE_URL=llm[0], LLM_MODEL="test-model"
    )
    with TestClient(create_app(settings)) as client:
        platform = client.app.state.platform  # type: ignore[attr-defined]

        async def provider_client() -> httpx.AsyncClient:
            provider = answer_provider(platform, platform.settings)
            assert isinstance(provider, OpenAiProvider)
            return provider.client

        pooled = client.portal.call(provider_client)  # type: ignore[union-attr]
        assert not pooled.is_closed
    assert pooled.is_closed


def _fallbacks(client: TestClient, keys: MerchantKeys) -> int:
    summary = client.get("/api/analytics/summary", headers=keys.auth).json()["data"]
    return summary["chat"]["fallbackReplies"]


def test_the_model_answers_from_the_retrieved_products_only(
    llm_client: TestClient, llm: tuple[str, FakeLlm]
) -> None:
    _, state = llm
    keys = with_catalog(llm_client)
    session = start_session(llm_client, keys, locale="de-DE")
    reply = ask(llm_client, keys, session["id"], "cast iron skillet?")["reply"]
    assert reply["provider"] == "openai"
    assert reply["content"] == "".join(TOKENS).strip()
    assert reply["products"][0]["title"] == "Lodge 10.25 Inch Cast Iron Skillet"

    sent, headers = state.requests[-1], state.headers[-1]
    assert headers["authorization"] == "Bearer sk-test-llm-key"
    assert sent["model"] == "test-model" and sent["stream"] is False
    system, question = sent["messages"][0], sent["messages"][-1]
    assert system["role"] == "system"
    assert "ONLY the products listed" in system["content"]
    assert "Lodge 10.25 Inch Cast Iron Skillet" in system["content"]
    assert "$24.90" in system["content"]
    assert "de-DE" in system["content"]  # reply in the shopper's language
    assert question == {"role": "user", "content": "cast iron skillet?"}

    # The next question carries the conversation so far.
    ask(llm_client, keys, session["id"], "and a dutch oven?")
    history = state.requests[-1]["messages"][1:]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[0]["content"] == "cast iron skillet?"
    assert _fallbacks(llm_client, keys) == 0


def test_the_reply_streams_token_by_token(llm_client: TestClient, llm: tuple[str, FakeLlm]) -> None:
    _, state = llm
    keys = with_catalog(llm_client)
    session = start_session(llm_client, keys)
    events = ask_streaming(llm_client, keys, session["id"], "cast iron skillet")
    assert state.requests[-1]["stream"] is True
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert deltas == TOKENS  # relayed as they came, one event per token
    assert "reset" not in [name for name, _ in events]
    done = events[-1]
    assert done[0] == "done"
    assert done[1]["reply"]["provider"] == "openai"
    assert done[1]["reply"]["content"] == "".join(TOKENS).strip()


@pytest.mark.parametrize("mode", ["slow", "error"])
def test_a_slow_or_failing_model_falls_back_to_the_extractive_answer(
    llm_client: TestClient, llm: tuple[str, FakeLlm], mode: str
) -> None:
    _, state = llm
    state.mode = mode
    keys = with_catalog(llm_client)
    session = start_session(llm_client, keys)
    started = time.monotonic()
    reply = ask(llm_client, keys, session["id"], "cast iron skillet")["reply"]
    elapsed = time.monotonic() - started
    assert reply["provider"] == "extractive"
    assert reply["content"].startswith("Here ") and "cast iron skillet" in reply["content"]
    assert reply["products"][0]["title"].startswith("Lodge")
    if mode == "slow":
        assert TIMEOUT <= elapsed < TIMEOUT * 2.5  # the timeout, not the model, decided
    assert _fallbacks(llm_client, keys) == 1


def test_a_stream_that_never_starts_falls_back_without_a_reset(
    llm_client: TestClient, llm: tuple[str, FakeLlm]
) -> None:
    _, state = llm
    state.mode = "slow"
    keys = with_catalog(llm_client)
    session = start_session(llm_client, keys)
    events = ask_streaming(llm_client, keys, session["id"], "cast iron skillet")
    names = [name for name, _ in events]
    assert "reset" not in names
    assert events[-1][1]["reply"]["provider"] == "extractive"
    deltas = "".join(data["text"] for name, data in events if name == "delta")
    assert deltas == events[-1][1]["reply"]["content"]


@pytest.mark.parametrize("mode", ["break", "stall"])
def test_a_stream_failing_midway_is_reset_and_replaced(
    llm_client: TestClient, llm: tuple[str, FakeLlm], mode: str
) -> None:
    _, state = llm
    state.mode = mode
    keys = with_catalog(llm_client)
    session = start_session(llm_client, keys)
    events = ask_streaming(llm_client, keys, session["id"], "cast iron skillet")
    names = [name for name, _ in events]
    reset = names.index("reset")
    before = [data["text"] for name, data in events[:reset] if name == "delta"]
    after = "".join(data["text"] for name, data in events[reset:] if name == "delta")
    assert before == TOKENS[:2]  # what the model managed before failing was shown...
    reply = events[-1][1]["reply"]
    assert reply["provider"] == "extractive"  # ...then replaced by the extractive answer
    assert after == reply["content"]
    stored = llm_client.get(
        f"/api/chat/sessions/{session['id']}/messages", headers=keys.widget_auth
    ).json()["data"]["items"][-1]
    assert stored["content"] == reply["content"]
