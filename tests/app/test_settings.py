"""Settings: typed, validated at start-up, errors naming the variable and what it expects."""

import pytest

from app.settings import (
    DEFAULT_DATABASE_URL,
    RateLimitPolicy,
    SettingsError,
    load_settings,
    normalize_database_url,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://app@db.internal/shop", "postgresql+asyncpg://app@db.internal/shop"),
        ("postgres://app:pw@db:5432/shop", "postgresql+asyncpg://app:pw@db:5432/shop"),
        ("sqlite:///data/app.db", "sqlite+aiosqlite:///data/app.db"),
        ("sqlite:////var/lib/app.db", "sqlite+aiosqlite:////var/lib/app.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert normalize_database_url(given) == expected


def test_defaults_run_on_a_local_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "ADMIN_ORIGINS", "RATE_LIMIT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == normalize_database_url(DEFAULT_DATABASE_URL)
    assert ".ragassist/" in settings.database_url
    assert settings.redis_url is None
    assert settings.rate_limit_secret == RateLimitPolicy(quota=600, window=60)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "mysql://root@db/x", "expected postgresql://"),
        ("DATABASE_URL", "postgresql:///nohost", "needs a host"),
        ("DATABASE_URL", "not a url", "expected postgresql://"),
        ("REDIS_URL", "http://cache:6379", "redis://"),
        ("ADMIN_ORIGINS", "https://ok.example.com,admin.example.com", "not an origin"),
        ("RATE_LIMIT_SECRET", "100 per minute", "QUOTA/WINDOW_SECONDS"),
        ("RATE_LIMIT_PUBLISHABLE", "0/60", ">= 1"),
        ("FLAGS_SOURCE", "s3://bucket/flags", "file:"),
        ("MAX_JSON_BODY_BYTES", "lots", "integer"),
        ("CACHE_TTL_SECONDS", "-1", "greater than or equal"),
        ("LOG_LEVEL", "LOUD", "DEBUG, INFO"),
        ("PUBLIC_BASE_URL", "api.example.com", "absolute URL"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert f"{variable}: " in str(error.value)
    assert message in str(error.value)


def test_every_bad_variable_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://x")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert "DATABASE_URL" in str(error.value) and "LOG_LEVEL" in str(error.value)


def test_repr_masks_the_database_password() -> None:
    settings = load_settings(DATABASE_URL="postgresql://app:s3cret@db/shop", REDIS_URL="")
    assert "s3cret" not in repr(settings)
    assert "app:***@db" in repr(settings)
