"""Resolve the API key on a request to a principal, through a short cache (DESIGN §5)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import QueryParams
from starlette.types import Scope

from app.cache import MISSING, TtlCache
from app.services import keys

# last_used_at is advisory; writing it once a minute per key keeps the hot path read-only.
LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    key_hash: str
    merchant_id: str
    kind: str
    permissions: frozenset[str]
    expires_at: datetime | None
    revoked: bool

    def usable(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


def presented_key(scope: Scope) -> str | None:
    """`Authorization: Bearer <key>`, or `?key=` for publishable keys (sendBeacon sets no
    headers). Secret keys in URLs would end up in logs, so they are only taken from headers."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    if scope["query_string"]:
        query_key = QueryParams(scope["query_string"]).get("key")
        if query_key and keys.kind_of(query_key) == "publishable":
            return query_key
    return None


class KeyResolver:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl: float) -> None:
        self.sessions = sessions
        self._cache: TtlCache[str, Principal | None] = TtlCache(ttl=ttl)
        self._last_used: dict[str, datetime] = {}

    async def resolve(self, plaintext: str) -> Principal | None:
        """The usable principal for a key, or None if unknown, revoked or expired."""
        if keys.kind_of(plaintext) is None:
            return None
        digest = keys.hash_key(plaintext)
        principal = self._cache.fresh(digest, MISSING)
        if principal is MISSING:
            principal = await self._cache.get(digest, lambda: self._load(plaintext))
        now = datetime.now(UTC)
        if principal is None or not principal.usable(now):
            return None
        last = self._last_used.get(principal.key_id)
        if last is None or now - last >= LAST_USED_GRANULARITY:
            self._last_used[principal.key_id] = now
            await self._touch(principal, now)
        return principal

    def forget(self, key_hash: str) -> None:
        """Called by whoever revokes a key so this process stops accepting it at once."""
        self._cache.invalidate(key_hash)

    async def _load(self, plaintext: str) -> Principal | None:
        async with self.sessions() as session:
            record = await keys.find_by_plaintext(session, plaintext)
        if record is None:
            return None
        return Principal(
            key_id=record.id,
            key_hash=record.key_hash,
            merchant_id=record.merchant_id,
            kind=record.kind,
            permissions=frozenset(record.permissions),
            expires_at=record.expires_at,
            revoked=record.revoked_at is not None,
        )

    async def _touch(self, principal: Principal, now: datetime) -> None:
        async with self.sessions() as session:
            await keys.touch_last_used(session, principal.key_id, now)
            await session.commit()
