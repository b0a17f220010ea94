"""What every answer provider gets and gives."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from app.services.chat.retrieval import Retrieval


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    question: str
    retrieval: Retrieval
    merchant_name: str
    history: tuple[tuple[str, str], ...] = ()  # (role, content) of earlier messages, oldest first
    suggestions: tuple[str, ...] = ()  # popular categories, for "what else can I ask"
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    provider: str  # the provider that wrote `text`
    fallback: bool = False  # the configured provider failed and `extractive` answered


class ProviderError(Exception):
    """The provider could not answer (timeout, HTTP error, malformed or empty reply)."""


class AnswerProvider(Protocol):
    name: str

    async def complete(self, request: AnswerRequest) -> str:
        """The whole reply; raises ProviderError."""
        ...

    def stream(self, request: AnswerRequest) -> AsyncIterator[str]:
        """The reply in pieces as they are produced; raises ProviderError, possibly after
        some pieces were yielded."""
        ...
