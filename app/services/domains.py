"""Allowed domains: validation (DESIGN §6) and matching an Origin against them."""

import ipaddress
import re
from urllib.parse import urlsplit

import idna
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AllowedDomain
from app.parsing import ascii_digits

MAX_DOMAINS = 100
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class DomainError(ValueError):
    """An entry that is not a hostname or `*.`-wildcard; the message says why."""


def normalize_domain(entry: str) -> str:
    """`Shop.Example.com` → `shop.example.com`; `*.bücher.de` → `*.xn--bcher-kva.de`."""
    text = entry.strip().rstrip(".").lower()
    if not text:
        raise DomainError("empty entry")
    if "://" in text:
        raise DomainError("remove the scheme: enter only the hostname, e.g. shop.example.com")
    if any(ch in text for ch in "/?#"):
        raise DomainError("remove the path: enter only the hostname, e.g. shop.example.com")
    if "@" in text:
        raise DomainError("a hostname cannot contain '@'")
    if text.startswith("[") or _is_ip(text):
        raise DomainError("IP addresses are not allowed; use the shop's hostname")
    if ":" in text:
        raise DomainError("remove the port: entries match any port")
    wildcard = text.startswith("*.")
    host = text[2:] if wildcard else text
    if "*" in host:
        raise DomainError("a wildcard is only allowed as a leading '*.', e.g. *.example.com")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainError(f"not a valid hostname ({exc})") from None
    labels = ascii_host.split(".")
    if ascii_host == "localhost" and not wildcard:
        return ascii_host  # local development and demos
    if len(labels) < 2:
        raise DomainError(
            "a wildcard needs a domain with a dot after '*.', e.g. *.example.com"
            if wildcard
            else "enter a full hostname with a dot, e.g. shop.example.com"
        )
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DomainError("not a valid hostname: letters, digits and hyphens between dots")
    if ascii_digits(labels[-1]):
        raise DomainError("the last label cannot be numeric")
    return f"*.{ascii_host}" if wildcard else ascii_host


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def origin_host(origin: str) -> str | None:
    """The punycode hostname of an `Origin` header, or None if it is not a web origin."""
    try:
        parts = urlsplit(origin)
        hostname = parts.hostname
    except ValueError:  # "http://[": an unclosed IPv6 literal
        return None
    if parts.scheme not in {"http", "https"} or not hostname:
        return None
    try:
        return idna.encode(hostname, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def host_allowed(host: str, domains: tuple[str, ...]) -> bool:
    return matching_entry(host, domains) is not None


def matching_entry(host: str, domains: tuple[str, ...]) -> str | None:
    """The first entry that allows `host` (punycode), or None."""
    for domain in domains:
        if domain.startswith("*."):
            if host.endswith(domain[1:]):
                return domain
        elif host == domain:
            return domain
    return None


async def get_domains(session: AsyncSession, merchant_id: str) -> tuple[str, ...]:
    rows = await session.scalars(
        select(AllowedDomain.hostname)
        .where(AllowedDomain.merchant_id == merchant_id)
        .order_by(AllowedDomain.position)
    )
    return tuple(rows)


async def set_domains(
    session: AsyncSession, merchant_id: str, domains: list[str]
) -> tuple[str, ...]:
    """`replace_domains` as an operation of its own. Commits."""
    stored = await replace_domains(session, merchant_id, domains)
    await session.commit()
    return stored


async def replace_domains(
    session: AsyncSession, merchant_id: str, domains: list[str]
) -> tuple[str, ...]:
    """Replace the whole list; the caller commits. Duplicates collapse, order is kept."""
    unique = tuple(dict.fromkeys(domains))
    await session.execute(delete(AllowedDomain).where(AllowedDomain.merchant_id == merchant_id))
    session.add_all(
        AllowedDomain(merchant_id=merchant_id, hostname=host, position=index)
        for index, host in enumerate(unique)
    )
    return unique
