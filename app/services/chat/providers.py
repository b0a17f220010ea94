"""The answer provider the settings choose, with one pooled HTTP client per app instance."""

from app.services.chat.answers import EXTRACTIVE, AnswerProvider
from app.services.chat.answers.openai import OpenAiProvider
from app.services.outbound import pooled_client
from app.settings import Settings


def answer_provider(owner: object, settings: Settings) -> AnswerProvider:
    if settings.answer_provider == "extractive":
        return EXTRACTIVE
    assert settings.llm_base_url and settings.llm_model, "validated by Settings"
    return OpenAiProvider(
        pooled_client(owner, "answers", max_connections=50, max_keepalive=20),
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout_seconds,
    )
