"""API keys: minted with 256 random bits, shown once, stored as SHA-256 hashes (DESIGN §5)."""

import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, utcnow
from app.ids import new_id
from app.services.permissions import PUBLISHABLE_PERMISSIONS

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_CHARS = 43  # 43 base62 characters = 256 bits
PREFIX = {"secret": "sk_live_", "publishable": "pk_live_"}
_SHOWN_PREFIX_CHARS = 6


@dataclass(frozen=True, slots=True)
class MintedKey:
    record: ApiKey
    plaintext: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def shown_prefix(plaintext: str) -> str:
    """The part of a key that may be shown and logged: enough to tell keys apart, not to use."""
    kind = kind_of(plaintext)
    return plaintext[: len(PREFIX[kind]) + _SHOWN_PREFIX_CHARS] if kind else "unknown"


def kind_of(plaintext: str) -> str | None:
    for kind, prefix in PREFIX.items():
        if plaintext.startswith(prefix) and len(plaintext) == len(prefix) + _RANDOM_CHARS:
            return kind
    return None


async def mint_key(
    session: AsyncSession,
    *,
    merchant_id: str,
    kind: str,
    name: str,
    permissions: list[str],
    expires_at: datetime | None = None,
) -> MintedKey:
    """Create a key; the caller commits. The plaintext exists only in the return value."""
    assert kind in PREFIX, kind
    plaintext = PREFIX[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_CHARS))
    record = ApiKey(
        id=new_id("key"),
        merchant_id=merchant_id,
        kind=kind,
        name=name,
        key_hash=hash_key(plaintext),
        prefix=shown_prefix(plaintext),
        permissions=list(PUBLISHABLE_PERMISSIONS) if kind == "publishable" else sorted(permissions),
        expires_at=expires_at,
        created_at=utcnow(),
    )
    session.add(record)
    return MintedKey(record=record, plaintext=plaintext)


async def find_by_plaintext(session: AsyncSession, plaintext: str) -> ApiKey | None:
    digest = hash_key(plaintext)
    key = await session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    # The index lookup already matched; comparing again in constant time keeps the check honest
    # should the lookup ever become a prefix or range query.
    if key is None or not secrets.compare_digest(key.key_hash, digest):
        return None
    return key


async def list_keys(
    session: AsyncSession, merchant_id: str, *, limit: int, after: str | None
) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.id)
    if after:
        query = query.where(ApiKey.id > after)
    return list(await session.scalars(query.limit(limit)))


async def get_key(session: AsyncSession, merchant_id: str, key_id: str) -> ApiKey | None:
    return await session.scalar(
        select(ApiKey).where(ApiKey.merchant_id == merchant_id, ApiKey.id == key_id)
    )


async def revoke_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


async def touch_last_used(session: AsyncSession, key_id: str, when: datetime) -> None:
    await session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))
