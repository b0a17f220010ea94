"""Chat and widget settings: a bad value stops start-up naming the variable (DESIGN §3)."""

import pytest

from app.settings import SettingsError, load_settings


def test_openai_provider_needs_its_endpoint_and_model() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(ANSWER_PROVIDER="openai")
    assert "LLM_BASE_URL: required when ANSWER_PROVIDER=openai" in str(raised.value)
    assert "LLM_MODEL: required when ANSWER_PROVIDER=openai" in str(raised.value)
    settings = load_settings(
        ANSWER_PROVIDER="OpenAI",
        LLM_BASE_URL="https://llm.internal/v1/",
        LLM_MODEL="gpt-4o-mini",
        LLM_API_KEY="sk-secret-value",
    )
    assert settings.answer_provider == "openai"
    assert settings.llm_base_url == "https://llm.internal/v1"
    assert "sk-secret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ANSWER_PROVIDER", "gpt"),
        ("LLM_BASE_URL", "llm.internal/v1"),
        ("LLM_TIMEOUT_SECONDS", "0"),
        ("WIDGET_BASE_URL", "cdn.example.com"),
    ],
)
def test_bad_values_name_their_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**{variable: value})
    assert f"{variable}:" in str(raised.value)


def test_widget_loader_url_defaults_to_the_apps_own_copy() -> None:
    assert (
        load_settings(PUBLIC_BASE_URL="http://127.0.0.1:8000").widget_loader_url
        == "http://127.0.0.1:8000/widget/loader.js"
    )
    cdn = load_settings(WIDGET_BASE_URL="https://cdn.ragassist.example.com")
    assert cdn.widget_loader_url == "https://cdn.ragassist.example.com/loader.js"
