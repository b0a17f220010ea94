"""Chat sessions and their messages. Every query is scoped to the merchant: a session id of
another merchant is simply not found."""

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ChatMessage, ChatSession, utcnow
from app.ids import new_id
from app.services.webhooks import emit_event

# A session is one shopper's conversation; past this it is more likely a script than a person.
MAX_MESSAGES_PER_SESSION = 200


class SessionFull(Exception):
    """The session holds MAX_MESSAGES_PER_SESSION messages; the widget starts a new one."""


async def create_session(
    session: AsyncSession,
    *,
    merchant_id: str,
    locale: str | None,
    origin: str | None,
    page_url: str | None,
) -> ChatSession:
    """Create a session and queue its `chat.session.created` webhook in the same transaction."""
    now = utcnow()
    chat = ChatSession(
        id=new_id("ses"),
        merchant_id=merchant_id,
        locale=locale,
        origin=origin,
        page_url=page_url,
        message_count=0,
        created_at=now,
    )
    session.add(chat)
    await emit_event(
        session,
        merchant_id=merchant_id,
        event_type="chat.session.created",
        data={"sessionId": chat.id, "locale": locale, "origin": origin, "createdAt": now},
    )
    await session.commit()
    return chat


async def get_session(
    session: AsyncSession, merchant_id: str, session_id: str
) -> ChatSession | None:
    return await session.scalar(
        select(ChatSession).where(
            ChatSession.id == session_id, ChatSession.merchant_id == merchant_id
        )
    )


async def make_room(
    session: AsyncSession, merchant_id: str, session_id: str, *, adding: int, room: int
) -> ChatSession | None:
    """Count `adding` messages on the session if it has room for `room` more, in one atomic
    statement that also reads the session (so two requests cannot both take the last room).
    None if the session is not the merchant's; raises SessionFull if it has no room."""
    now = utcnow()
    claimed = await session.scalar(
        update(ChatSession)
        .where(
            ChatSession.id == session_id,
            ChatSession.merchant_id == merchant_id,
            ChatSession.message_count + room <= MAX_MESSAGES_PER_SESSION,
        )
        .values(message_count=ChatSession.message_count + adding, last_message_at=now)
        .returning(ChatSession)
        .execution_options(synchronize_session=False)
    )
    if claimed is not None:
        return claimed
    if await get_session(session, merchant_id, session_id) is None:
        return None
    raise SessionFull(session_id)


async def list_messages(
    session: AsyncSession, merchant_id: str, session_id: str, *, limit: int, after: str | None
) -> Sequence[ChatMessage]:
    """Oldest first (a conversation reads top to bottom); `after` is the last id seen."""
    query = (
        select(ChatMessage)
        .where(ChatMessage.session_id == session_id, ChatMessage.merchant_id == merchant_id)
        .order_by(ChatMessage.id)
        .limit(limit)
    )
    if after:
        query = query.where(ChatMessage.id > after)
    return (await session.scalars(query)).all()


async def recent_history(
    session: AsyncSession, session_id: str, *, count: int
) -> tuple[tuple[str, str], ...]:
    rows = (
        await session.execute(
            select(ChatMessage.role, ChatMessage.content)
            .where(ChatMessage.session_id == session_id)
            .order_by(ChatMessage.id.desc())
            .limit(count)
        )
    ).all()
    return tuple((role, content) for role, content in reversed(rows))


async def next_message_id(after: str | None) -> str:
    """A message id that sorts after `after`: ids of the same millisecond sort randomly, and a
    reply must never be listed before its question."""
    while True:
        candidate = new_id("msg")
        if after is None or candidate > after:
            return candidate
        await asyncio.sleep(0.001)


def new_message(
    chat: ChatSession,
    *,
    message_id: str,
    role: str,
    content: str,
    products: list[dict[str, Any]] | None = None,
    provider: str | None = None,
    fallback: bool = False,
    latency_ms: float | None = None,
) -> ChatMessage:
    return ChatMessage(
        id=message_id,
        session_id=chat.id,
        merchant_id=chat.merchant_id,
        role=role,
        content=content,
        products=products or [],
        provider=provider,
        fallback=fallback,
        latency_ms=latency_ms,
        created_at=utcnow(),
    )


def add_messages(session: AsyncSession, *messages: ChatMessage) -> None:
    """Stage messages already counted by `make_room`; the caller commits."""
    session.add_all(messages)


async def count_messages(session: AsyncSession, chat: ChatSession, adding: int) -> None:
    """Count messages added later than `make_room` (a language model's reply)."""
    await session.execute(
        update(ChatSession)
        .where(ChatSession.id == chat.id)
        .values(message_count=ChatSession.message_count + adding, last_message_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def relax_durability(session: AsyncSession) -> None:
    """This transaction's commit does not wait for PostgreSQL to flush the WAL to disk (a few
    milliseconds, far more on a busy disk). A crash can lose the last fraction of a second of
    such commits, never corrupt anything; only for data whose loss costs little."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit = off"))
