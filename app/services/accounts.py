"""Portal accounts: users with a role, argon2id passwords, server-side sessions and single-use
links (invitations and password links). No HTTP here: the portal and the CLI both call it.

Tokens (session cookies, link tokens) carry 256 random bits and only their SHA-256 is stored,
as API keys are; passwords are slow-hashed with argon2id because people choose them.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, Result, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.accounts import PortalLink, PortalSession, PortalUser
from app.db.models import utcnow
from app.ids import new_id
from app.services.permissions import PERMISSIONS

ROLES: dict[str, str] = {
    "owner": "Everything, including inviting and removing teammates.",
    "developer": "Keys, domains, catalog, webhooks, widget and analytics.",
    "viewer": "Read only: sees every page, changes nothing.",
}
_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(PERMISSIONS),
    "developer": frozenset(PERMISSIONS),
    "viewer": frozenset(name for name in PERMISSIONS if name.endswith(":read")),
}
# What only an owner may do; not an API permission, since no key manages portal users.
MANAGE_TEAM = "team:manage"

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_LIFETIME = timedelta(hours=12)
LINK_LIFETIME = {"invite": timedelta(days=7), "password": timedelta(hours=24)}
# last_seen_at is written at most this often, so page views stay reads.
SEEN_GRANULARITY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte "password" is an attack

# argon2-cffi's defaults are RFC 9106's low-memory profile (argon2id, t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
# Verified when the email is unknown, so a miss costs what a hit costs (no user enumeration).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request the account rules refuse; the message is fit to show the person."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session: who, for which merchant, allowed to do what."""

    user_id: str
    email: str
    merchant_id: str
    role: str
    token_hash: str
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        if permission == MANAGE_TEAM:
            return self.role == "owner"
        return permission in self.permissions


def permissions_of(role: str) -> frozenset[str]:
    return _ROLE_PERMISSIONS[role]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    text = email.strip().lower()
    local, at, domain = text.partition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(text) > 320
        or any(c.isspace() for c in text)
    ):
        raise AccountError("Enter an email address like dev@example.com.")
    return text


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Use at most {MAX_PASSWORD_LENGTH} characters.")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


# ---- users -------------------------------------------------------------------------------


async def find_user(session: AsyncSession, email: str) -> PortalUser | None:
    return await session.scalar(select(PortalUser).where(PortalUser.email == email.lower()))


async def get_user(session: AsyncSession, merchant_id: str, user_id: str) -> PortalUser | None:
    return await session.scalar(
        select(PortalUser).where(PortalUser.merchant_id == merchant_id, PortalUser.id == user_id)
    )


async def list_users(session: AsyncSession, merchant_id: str | None = None) -> list[PortalUser]:
    query = select(PortalUser).order_by(PortalUser.merchant_id, PortalUser.id)
    if merchant_id is not None:
        query = query.where(PortalUser.merchant_id == merchant_id)
    return list(await session.scalars(query))


async def check_new_email(session: AsyncSession, email: str) -> str:
    """The normalized address, if it is valid and has no account yet."""
    email = normalize_email(email)
    if await find_user(session, email) is not None:
        raise AccountError(f"{email} already has a portal account.")
    return email


async def add_user(
    session: AsyncSession, *, merchant_id: str, email: str, role: str, password: str | None = None
) -> PortalUser:
    """Create a user; the caller commits. Without a password, send them a password link."""
    email = await check_new_email(session, email)
    _check_role(role)
    if password is not None:
        check_password(password)
    user = PortalUser(
        id=new_id("usr"),
        merchant_id=merchant_id,
        email=email,
        role=role,
        password_hash=_hasher.hash(password) if password is not None else None,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return user


async def set_role(session: AsyncSession, user: PortalUser, role: str) -> None:
    _check_role(role)
    if user.role == "owner" and role != "owner":
        await _keep_an_owner(session, user)
    user.role = role


async def remove_user(session: AsyncSession, user: PortalUser) -> None:
    """Delete the user; their sessions and links go with them (foreign keys cascade)."""
    if user.role == "owner":
        await _keep_an_owner(session, user)
    await session.execute(delete(PortalSession).where(PortalSession.user_id == user.id))
    await session.delete(user)


async def _keep_an_owner(session: AsyncSession, leaving: PortalUser) -> None:
    owners = await session.scalar(
        select(func.count())
        .select_from(PortalUser)
        .where(PortalUser.merchant_id == leaving.merchant_id, PortalUser.role == "owner")
    )
    if (owners or 0) <= 1:
        raise AccountError("A merchant keeps at least one owner; make someone else owner first.")


async def set_password(session: AsyncSession, user: PortalUser, password: str) -> None:
    """New password; every session of the user ends (whoever had the old one is out)."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    await revoke_sessions(session, user.id)


async def authenticate(session: AsyncSession, email: str, password: str) -> PortalUser | None:
    """The user if the password is right; the same work is done for unknown emails."""
    user = await find_user(session, email.strip())
    stored = user.password_hash if user is not None else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return None
    if user is None or stored is None:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    return user


# ---- sessions ----------------------------------------------------------------------------


async def start_session(
    session: AsyncSession, user: PortalUser, *, ip: str | None, user_agent: str | None
) -> str:
    """A brand-new session token (never one the browser brought: no fixation); caller commits."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # The user's sessions that can never be used again go now, so the table does not grow.
    await session.execute(
        delete(PortalSession).where(
            PortalSession.user_id == user.id, PortalSession.expires_at <= now
        )
    )
    session.add(
        PortalSession(
            token_hash=hash_token(token),
            user_id=user.id,
            merchant_id=user.merchant_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + ABSOLUTE_LIFETIME,
            ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    user.last_sign_in_at = now
    return token


async def resume_session(session: AsyncSession, token: str) -> SignedIn | None:
    """The live session for a cookie's token, or None if unknown, revoked, idle or expired."""
    now = utcnow()
    row = await session.execute(
        select(PortalSession, PortalUser)
        .join(PortalUser, PortalUser.id == PortalSession.user_id)
        .where(PortalSession.token_hash == hash_token(token))
    )
    found = row.first()
    if found is None:
        return None
    record, user = found
    if (
        record.revoked_at is not None
        or record.expires_at <= now
        or now - record.last_seen_at >= IDLE_TIMEOUT
    ):
        return None
    if now - record.last_seen_at >= SEEN_GRANULARITY:
        record.last_seen_at = now
        await session.commit()
    return SignedIn(
        user_id=user.id,
        email=user.email,
        merchant_id=user.merchant_id,
        role=user.role,
        token_hash=record.token_hash,
        permissions=permissions_of(user.role),
    )


async def live_sessions(session: AsyncSession, user_id: str) -> list[PortalSession]:
    """The user's sessions that still work, most recently used first."""
    now = utcnow()
    rows = await session.scalars(
        select(PortalSession)
        .where(
            PortalSession.user_id == user_id,
            PortalSession.revoked_at.is_(None),
            PortalSession.expires_at > now,
            PortalSession.last_seen_at > now - IDLE_TIMEOUT,
        )
        .order_by(PortalSession.last_seen_at.desc())
    )
    return list(rows)


async def end_other_sessions(session: AsyncSession, user_id: str, keep_hash: str) -> None:
    await session.execute(
        update(PortalSession)
        .where(
            PortalSession.user_id == user_id,
            PortalSession.token_hash != keep_hash,
            PortalSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )


async def end_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(
        update(PortalSession)
        .where(PortalSession.token_hash == token_hash, PortalSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_sessions(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(PortalSession)
        .where(PortalSession.user_id == user_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# ---- one-time links ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewLink:
    link: PortalLink
    token: str  # exists only here: shown once, stored hashed


async def create_link(
    session: AsyncSession,
    *,
    merchant_id: str,
    purpose: str,
    email: str,
    role: str,
    user_id: str | None = None,
    created_by: str | None = None,
) -> NewLink:
    """An invitation (`invite`: creates the user on use) or a password link (`password`: sets
    `user_id`'s password). Earlier unused links for the same person stop working."""
    assert purpose in LINK_LIFETIME, purpose
    email = normalize_email(email)
    _check_role(role)
    if purpose == "invite" and await find_user(session, email) is not None:
        raise AccountError(f"{email} already has a portal account.")
    now = utcnow()
    await session.execute(
        update(PortalLink)
        .where(
            PortalLink.merchant_id == merchant_id,
            PortalLink.email == email,
            PortalLink.used_at.is_(None),
        )
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    link = PortalLink(
        id=new_id("lnk"),
        token_hash=hash_token(token),
        merchant_id=merchant_id,
        purpose=purpose,
        email=email,
        role=role,
        user_id=user_id,
        created_by=created_by,
        created_at=now,
        expires_at=now + LINK_LIFETIME[purpose],
    )
    session.add(link)
    return NewLink(link, token)


async def open_link(session: AsyncSession, token: str) -> PortalLink | None:
    """The link if it is unused and unexpired."""
    link = await session.scalar(
        select(PortalLink).where(PortalLink.token_hash == hash_token(token))
    )
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        return None
    return link


async def use_link(session: AsyncSession, link: PortalLink, password: str) -> PortalUser:
    """Spend the link: create the invited user or set the password; the caller commits.
    Marked used with a conditional update, so two tabs racing cannot both spend it."""
    check_password(password)
    spent = await session.execute(
        update(PortalLink)
        .where(PortalLink.id == link.id, PortalLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if _changed(spent) != 1:
        raise AccountError("This link was already used.")
    if link.purpose == "invite":
        return await add_user(
            session,
            merchant_id=link.merchant_id,
            email=link.email,
            role=link.role,
            password=password,
        )
    user = await get_user(session, link.merchant_id, link.user_id or "")
    if user is None:
        raise AccountError("The account this link was for no longer exists.")
    await set_password(session, user, password)
    return user


async def pending_invitations(session: AsyncSession, merchant_id: str) -> list[PortalLink]:
    return list(
        await session.scalars(
            select(PortalLink)
            .where(
                PortalLink.merchant_id == merchant_id,
                PortalLink.purpose == "invite",
                PortalLink.used_at.is_(None),
                PortalLink.expires_at > utcnow(),
            )
            .order_by(PortalLink.id)
        )
    )


async def cancel_link(session: AsyncSession, merchant_id: str, link_id: str) -> bool:
    result = await session.execute(
        update(PortalLink)
        .where(
            PortalLink.merchant_id == merchant_id,
            PortalLink.id == link_id,
            PortalLink.used_at.is_(None),
        )
        .values(expires_at=utcnow())
    )
    return _changed(result) > 0


def _changed(result: Result[Any]) -> int:
    # An UPDATE's result is a CursorResult; the session's signature only promises a Result.
    return int(cast(CursorResult[Any], result).rowcount)
