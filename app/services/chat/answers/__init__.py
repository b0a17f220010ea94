"""Answer a question with the configured provider, falling back to `extractive` on failure.

`answer` returns the whole reply; `stream_answer` yields it piece by piece. A provider that
fails before its first piece is replaced silently; one that fails mid-stream is followed by a
`Reset` (the client discards what it showed) and the extractive reply. Either way the shopper
gets an answer and the fallback is logged with its reason.
"""

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.logs import LogFields
from app.services.chat.answers.base import (
    Answer,
    AnswerProvider,
    AnswerRequest,
    ProviderError,
)
from app.services.chat.answers.extractive import ExtractiveProvider, compose, pieces

__all__ = [
    "EXTRACTIVE",
    "Answer",
    "AnswerProvider",
    "AnswerRequest",
    "Delta",
    "Done",
    "ExtractiveProvider",
    "ProviderError",
    "Reset",
    "answer",
    "stream_answer",
]

log = logging.getLogger(__name__)

EXTRACTIVE = ExtractiveProvider()


@dataclass(frozen=True, slots=True)
class Delta:
    text: str


@dataclass(frozen=True, slots=True)
class Reset:
    """Forget the pieces sent so far: the provider failed mid-reply; a new reply follows."""


@dataclass(frozen=True, slots=True)
class Done:
    answer: Answer


def _fell_back(provider: AnswerProvider, exc: ProviderError, started: float) -> None:
    log.warning(
        "answer provider failed; answering with extractive",
        extra=LogFields(
            provider=provider.name,
            error=str(exc)[:300],
            elapsedMs=round((time.monotonic() - started) * 1000, 1),
        ),
    )


async def answer(provider: AnswerProvider, request: AnswerRequest) -> Answer:
    if provider.name == EXTRACTIVE.name:
        return Answer(compose(request), EXTRACTIVE.name)
    started = time.monotonic()
    try:
        return Answer(await provider.complete(request), provider.name)
    except ProviderError as exc:
        _fell_back(provider, exc, started)
        return Answer(compose(request), EXTRACTIVE.name, fallback=True)


async def stream_answer(
    provider: AnswerProvider, request: AnswerRequest
) -> AsyncIterator[Delta | Reset | Done]:
    if provider.name == EXTRACTIVE.name:
        text = compose(request)
        for piece in pieces(text):
            yield Delta(piece)
        yield Done(Answer(text, EXTRACTIVE.name))
        return
    started = time.monotonic()
    sent: list[str] = []
    try:
        async for piece in provider.stream(request):
            sent.append(piece)
            yield Delta(piece)
    except ProviderError as exc:
        _fell_back(provider, exc, started)
        if sent:
            yield Reset()
        text = compose(request)
        for piece in pieces(text):
            yield Delta(piece)
        yield Done(Answer(text, EXTRACTIVE.name, fallback=True))
        return
    yield Done(Answer("".join(sent).strip(), provider.name))
