"""A merchant's sync configuration: where the catalog comes from and how runs treat it."""

from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import SyncConfig, utcnow
from app.services.catalog.importer import ImportOptions
from app.services.catalog.records import Rules
from app.services.catalog.terms import (
    DEFAULT_CURRENCY,
    DEFAULT_ERROR_THRESHOLD,
    DEFAULT_FORMAT,
    DEFAULT_MAX_DELETE_RATIO,
    DEFAULT_MODE,
    Format,
    Mode,
    SourceType,
    as_format,
    as_mode,
)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # a write-only secret left out of an update: keep the stored one


@dataclass(frozen=True, kw_only=True, slots=True)
class ConfigUpdate:
    source_type: SourceType = "upload"
    source_url: str | None = None
    auth_header_name: str | None = None
    auth_header_value: str | None = UNSET
    interval_minutes: int | None = None
    format: Format = DEFAULT_FORMAT
    mode: Mode = DEFAULT_MODE
    field_mapping: dict[str, str | None] = field(default_factory=dict)
    default_currency: str = DEFAULT_CURRENCY
    error_threshold: float = DEFAULT_ERROR_THRESHOLD
    max_delete_ratio: float = DEFAULT_MAX_DELETE_RATIO
    product_url_template: str | None = None
    webhook_secret: str | None = UNSET


def defaults(merchant_id: str) -> SyncConfig:
    """The configuration a merchant has before saving one (uploads work without one)."""
    config = SyncConfig(merchant_id=merchant_id)
    _apply(config, ConfigUpdate())
    return config


async def get_config(session: AsyncSession, merchant_id: str) -> SyncConfig | None:
    return await session.get(SyncConfig, merchant_id)


async def save_config(session: AsyncSession, merchant_id: str, update: ConfigUpdate) -> SyncConfig:
    """Create or replace the config (PUT semantics; omitted secrets are kept). Commits."""
    now = utcnow()
    config = await get_config(session, merchant_id)
    if config is None:
        config = SyncConfig(merchant_id=merchant_id, created_at=now)
        session.add(config)
    schedule_changed = (config.source_url, config.interval_minutes) != (
        update.source_url,
        update.interval_minutes,
    )
    _apply(config, update)
    if update.auth_header_name is None:
        config.auth_header_value = None
    # Any change (another URL, mapping, currency...) can change what the same feed imports
    # as, so the next pull downloads and imports it in full.
    config.feed_etag = config.feed_last_modified = config.feed_sha256 = None
    if update.interval_minutes is None or update.source_type != "url":
        config.next_run_at = None
    elif schedule_changed or config.next_run_at is None:
        config.next_run_at = now  # a new schedule starts with a run straight away
    config.updated_at = now
    await session.commit()
    return config


def _apply(config: SyncConfig, update: ConfigUpdate) -> None:
    for item in fields(update):
        value = getattr(update, item.name)
        if value is not UNSET:
            setattr(config, item.name, value)


def rules(config: SyncConfig) -> Rules:
    return Rules(
        default_currency=config.default_currency,
        product_url_template=config.product_url_template,
    )


def import_options(
    config: SyncConfig,
    *,
    format: Format | None = None,
    mode: Mode | None = None,
    force: bool = False,
    content_type: str | None = None,
    filename: str | None = None,
    max_bytes: int,
) -> ImportOptions:
    """What a run of this merchant does: the config, overridden per run where allowed."""
    return ImportOptions(
        format=format or as_format(config.format),
        mode=mode or as_mode(config.mode),
        force=force,
        rules=rules(config),
        field_mapping=dict(config.field_mapping or {}),
        error_threshold=config.error_threshold,
        max_delete_ratio=config.max_delete_ratio,
        content_type=content_type,
        filename=filename,
        max_bytes=max_bytes,
    )


def kept_auth_header(current: SyncConfig, new_url: str) -> str | None:
    """The stored feed credential's header name when the feed URL changes without a new
    credential: kept only for the origin it was given for, so a key that may change the URL
    cannot have the credential sent somewhere else."""
    if current.source_url and _origin(current.source_url) == _origin(new_url):
        return current.auth_header_name
    return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def mask(secret: str | None) -> str | None:
    """Enough to recognise a secret, never enough to use it."""
    if not secret:
        return None
    return "••••" + (secret[-4:] if len(secret) >= 16 else "")
