"""Merchants: created by operators from the CLI with a full secret key and a publishable key."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Merchant, utcnow
from app.ids import new_id
from app.services.domains import normalize_domain, replace_domains
from app.services.keys import MintedKey, mint_key
from app.services.permissions import PERMISSIONS


@dataclass(frozen=True, slots=True)
class NewMerchant:
    merchant: Merchant
    domains: tuple[str, ...]
    secret_key: MintedKey
    publishable_key: MintedKey


async def create_merchant(session: AsyncSession, *, name: str, domains: list[str]) -> NewMerchant:
    """Create a merchant with its keys in one transaction; raises DomainError on a bad domain."""
    normalized = [normalize_domain(domain) for domain in domains]
    merchant = Merchant(id=new_id("mer"), name=name.strip(), created_at=utcnow())
    session.add(merchant)
    await session.flush()
    stored = await replace_domains(session, merchant.id, normalized)
    secret = await mint_key(
        session,
        merchant_id=merchant.id,
        kind="secret",
        name="Default secret key",
        permissions=list(PERMISSIONS),
    )
    publishable = await mint_key(
        session,
        merchant_id=merchant.id,
        kind="publishable",
        name="Default publishable key",
        permissions=[],
    )
    await session.commit()
    return NewMerchant(merchant, stored, secret, publishable)


async def get_merchant(session: AsyncSession, merchant_id: str) -> Merchant | None:
    return await session.get(Merchant, merchant_id)
