"""Answers from any OpenAI-compatible chat-completions API (`LLM_BASE_URL`).

The retrieved products go into the system message as the only facts the model may use. Every
call is bounded by `LLM_TIMEOUT_SECONDS` (connect, each read, and the whole answer), and any
failure raises ProviderError so that the caller can fall back to the extractive answer.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.services.chat.answers.base import AnswerRequest, ProviderError
from app.services.chat.answers.extractive import money

log = logging.getLogger(__name__)

HISTORY_MESSAGES = 6
MAX_TOKENS = 400
USER_AGENT = "ragassist-chat/1"
_AVAILABILITY = {
    "in_stock": "in stock",
    "out_of_stock": "out of stock",
    "backorder": "backorder",
    "preorder": "pre-order",
}


def system_prompt(request: AnswerRequest) -> str:
    retrieval = request.retrieval
    lines = [
        f"You are the shopping assistant of the online shop {request.merchant_name}.",
        "Answer the shopper's question using ONLY the products listed below. Never invent "
        "products, prices, features or availability. Mention products by their exact names. "
        "If none of the products fits, say so honestly and suggest what the shopper could ask "
        "instead. Be friendly and brief: at most 80 words, plain text, no markdown.",
    ]
    if request.locale:
        lines.append(f"Reply in the shopper's language (their browser says {request.locale}).")
    if retrieval.products:
        lines.append("Products found for this question, best match first:")
        for position, product in enumerate(retrieval.products, start=1):
            facts = [
                product.title,
                f"brand: {product.brand or 'n/a'}",
                f"price: {money(product)}",
                _AVAILABILITY.get(product.availability, product.availability),
            ]
            if product.category:
                facts.append(f"category: {product.category}")
            lines.append(f"{position}. " + " | ".join(facts))
            if product.snippet:
                lines.append(f"   {' '.join(product.snippet.split())}")
    else:
        lines.append("No products matched this question.")
        if request.suggestions:
            lines.append("The shop carries, among others: " + ", ".join(request.suggestions))
    return "\n".join(lines)


class OpenAiProvider:
    name = "openai"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout: float,
    ) -> None:
        self.client = client
        self.url = f"{base_url}/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def _request(self, request: AnswerRequest, *, stream: bool) -> dict[str, Any]:
        messages = [{"role": "system", "content": system_prompt(request)}]
        messages += [
            {"role": role, "content": content}
            for role, content in request.history[-HISTORY_MESSAGES:]
        ]
        messages.append({"role": "user", "content": request.question})
        return {
            "model": self.model,
            "messages": messages,
            "temperature": 0.2,
            "max_tokens": MAX_TOKENS,
            "stream": stream,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        return headers

    async def complete(self, request: AnswerRequest) -> str:
        started = time.monotonic()
        try:
            # The whole call, not just each read: a server trickling bytes must not hold the
            # shopper past the timeout.
            async with asyncio.timeout(self.timeout):
                response = await self.client.post(
                    self.url,
                    json=self._request(request, stream=False),
                    headers=self._headers(),
                    timeout=self._timeouts(),
                )
        except TimeoutError as exc:
            raise ProviderError(f"no reply within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(_describe(exc, started)) from exc
        if response.status_code >= 400:
            raise ProviderError(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"malformed reply: {exc!r}") from exc
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("empty reply")
        return content.strip()

    async def stream(self, request: AnswerRequest) -> AsyncIterator[str]:
        started = time.monotonic()
        deadline = started + self.timeout * 3  # a slow trickle must end too
        produced = False
        try:
            async with self.client.stream(
                "POST",
                self.url,
                json=self._request(request, stream=True),
                headers=self._headers(),
                timeout=self._timeouts(),
            ) as response:
                if response.status_code >= 400:
                    body = (await response.aread())[:200].decode("utf-8", "replace")
                    raise ProviderError(f"HTTP {response.status_code}: {body}")
                async for line in response.aiter_lines():
                    if time.monotonic() > deadline:
                        raise ProviderError(f"stream exceeded {self.timeout * 3:g} s")
                    piece = _delta(line)
                    if piece is _DONE:
                        break
                    if piece:
                        produced = True
                        yield piece
        except httpx.HTTPError as exc:
            raise ProviderError(_describe(exc, started)) from exc
        if not produced:
            raise ProviderError("empty reply")

    def _timeouts(self) -> httpx.Timeout:
        # Connect, each read (so also the wait for the first token) and each write.
        return httpx.Timeout(self.timeout)


_DONE = object()


def _delta(line: str) -> Any:
    """The text of one SSE line of a streamed completion; `_DONE` at the end; None otherwise."""
    if not line.startswith("data:"):
        return None  # blank separators, comments (": keep-alive"), other fields
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        chunk = json.loads(data)
        choices = chunk.get("choices") or []
        if not choices:
            return None
        content = (choices[0].get("delta") or {}).get("content")
    except (ValueError, AttributeError, TypeError) as exc:
        raise ProviderError(f"malformed stream chunk: {exc!r}") from exc
    return content if isinstance(content, str) else None


def _describe(exc: httpx.HTTPError, started: float) -> str:
    elapsed = time.monotonic() - started
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return f"{type(exc).__name__}: request {kind} after {elapsed:.2f} s"
