"""Counts the portal shows and the API's hot path must not pay for: requests per API key and
origins refused for a merchant's widget.

Each process counts in memory (a dict update per request) and writes its counts to the
database every `FLUSH_SECONDS`, when the portal is about to read them, and when it stops;
counts from several instances add up in the table. Refused origins can be triggered by anyone
(any page can call the widget routes with a stolen publishable key), so both the memory kept
between writes and the rows kept per merchant are capped.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.accounts import ApiKeyUsage, CorsRejection
from app.db.models import utcnow
from app.logs import LogFields

log = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0
MAX_PENDING_ORIGINS = 10_000  # distinct (merchant, origin) pairs held between two writes
MAX_ORIGINS_PER_MERCHANT = 50  # rows kept per merchant: the most recently refused
ORIGIN_CHARS = 200
USAGE_RETENTION = timedelta(days=30)


@dataclass(slots=True)
class _Refusals:
    count: int
    first_seen: datetime
    last_seen: datetime


class UsageCounters:
    def __init__(self) -> None:
        self._requests: dict[tuple[str, str], int] = {}
        self._refusals: dict[tuple[str, str], _Refusals] = {}
        self.dropped_refusals = 0  # beyond MAX_PENDING_ORIGINS since the last write
        self._pruned_at: datetime | None = None

    def count_request(self, key_id: str, merchant_id: str) -> None:
        """On every authenticated API request: one dict update, no I/O."""
        pair = (key_id, merchant_id)
        self._requests[pair] = self._requests.get(pair, 0) + 1

    def record_refusal(self, merchant_id: str, origin: str) -> None:
        """An origin the merchant's allowed domains refused (called by the CORS middleware)."""
        pair = (merchant_id, origin[:ORIGIN_CHARS])
        now = utcnow()
        seen = self._refusals.get(pair)
        if seen is not None:
            seen.count += 1
            seen.last_seen = now
        elif len(self._refusals) < MAX_PENDING_ORIGINS:
            self._refusals[pair] = _Refusals(1, now, now)
        else:
            self.dropped_refusals += 1

    async def flush(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Write what was counted since the last call. Never raises: counts are advisory, and
        a failed write must not fail the request or the loop that called it."""
        requests, self._requests = self._requests, {}
        refusals, self._refusals = self._refusals, {}
        if self.dropped_refusals:
            log.warning(
                "refused origins not recorded", extra=LogFields(count=self.dropped_refusals)
            )
            self.dropped_refusals = 0
        if not requests and not refusals:
            return
        try:
            async with sessions() as session:
                await _write_requests(session, requests)
                await _write_refusals(session, refusals)
                await self._prune(session)
                await session.commit()
        except Exception:
            log.exception("could not write usage counts")

    async def _prune(self, session: AsyncSession) -> None:
        now = utcnow()
        if self._pruned_at is not None and now - self._pruned_at < timedelta(hours=1):
            return
        self._pruned_at = now
        await session.execute(delete(ApiKeyUsage).where(ApiKeyUsage.hour < now - USAGE_RETENTION))


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def _write_requests(session: AsyncSession, counts: dict[tuple[str, str], int]) -> None:
    if not counts:
        return
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    statement = _insert(session, ApiKeyUsage).values(
        [
            {"key_id": key_id, "merchant_id": merchant_id, "hour": hour, "requests": count}
            for (key_id, merchant_id), count in counts.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["key_id", "hour"],
            set_={"requests": ApiKeyUsage.requests + statement.excluded.requests},
        )
    )


async def _write_refusals(
    session: AsyncSession, refusals: dict[tuple[str, str], _Refusals]
) -> None:
    if not refusals:
        return
    statement = _insert(session, CorsRejection).values(
        [
            {
                "merchant_id": merchant_id,
                "origin": origin,
                "count": seen.count,
                "first_seen_at": seen.first_seen,
                "last_seen_at": seen.last_seen,
            }
            for (merchant_id, origin), seen in refusals.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["merchant_id", "origin"],
            set_={
                "count": CorsRejection.count + statement.excluded.count,
                "last_seen_at": statement.excluded.last_seen_at,
            },
        )
    )
    for merchant_id in {merchant_id for merchant_id, _ in refusals}:
        kept = (
            select(CorsRejection.origin)
            .where(CorsRejection.merchant_id == merchant_id)
            .order_by(CorsRejection.last_seen_at.desc())
            .limit(MAX_ORIGINS_PER_MERCHANT)
        )
        await session.execute(
            delete(CorsRejection).where(
                CorsRejection.merchant_id == merchant_id, CorsRejection.origin.not_in(kept)
            )
        )


async def requests_by_key(
    session: AsyncSession, merchant_id: str, *, since: datetime
) -> dict[str, int]:
    """Requests per key id from the hour holding `since` on (so up to an hour more)."""
    hour = since.replace(minute=0, second=0, microsecond=0)
    rows = await session.execute(
        select(ApiKeyUsage.key_id, func.sum(ApiKeyUsage.requests))
        .where(ApiKeyUsage.merchant_id == merchant_id, ApiKeyUsage.hour >= hour)
        .group_by(ApiKeyUsage.key_id)
    )
    return {key_id: int(total) for key_id, total in rows}


async def recent_refusals(session: AsyncSession, merchant_id: str) -> list[CorsRejection]:
    return list(
        await session.scalars(
            select(CorsRejection)
            .where(CorsRejection.merchant_id == merchant_id)
            .order_by(CorsRejection.last_seen_at.desc())
            .limit(MAX_ORIGINS_PER_MERCHANT)
        )
    )
