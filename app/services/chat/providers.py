"""The answer provider the settings choose, with one pooled HTTP client per app instance."""

import asyncio
import weakref

import httpx

from app.services.chat.answers import EXTRACTIVE, AnswerProvider
from app.services.chat.answers.openai import OpenAiProvider
from app.settings import Settings

# owner (the app's Platform) → (its event loop, its client). A client is bound to the loop it
# was created on; tests run several apps, each on its own loop.
_CLIENTS: "weakref.WeakKeyDictionary[object, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]]"
_CLIENTS = weakref.WeakKeyDictionary()


def answer_provider(owner: object, settings: Settings) -> AnswerProvider:
    if settings.answer_provider == "extractive":
        return EXTRACTIVE
    assert settings.llm_base_url and settings.llm_model, "validated by Settings"
    loop = asyncio.get_running_loop()
    entry = _CLIENTS.get(owner)
    if entry is None or entry[0] is not loop:
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
            follow_redirects=False,
        )
        _CLIENTS[owner] = entry = (loop, client)
    return OpenAiProvider(
        entry[1],
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_seconds,
    )


async def close_answer_providers(owner: object) -> None:
    """Close the owner's HTTP client (tests; a graceful stop)."""
    entry = _CLIENTS.pop(owner, None)
    if entry is not None:
        await entry[1].aclose()
