"""One turn of a conversation: the shopper's message in, the assistant's reply out.

With the extractive provider the reply is ready as soon as the products are: question and
reply are stored in one transaction (one commit: on PostgreSQL each commit waits for the WAL to
reach the disk). With a language model, two short transactions surround the answer: the first
stores the question (so it is in the history even if answering fails), the second the reply;
no database connection is held while the model thinks.
"""

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import ChatMessage, ChatSession
from app.services.chat.answers import (
    EXTRACTIVE,
    Answer,
    AnswerProvider,
    AnswerRequest,
    Delta,
    Done,
    Reset,
    answer,
    stream_answer,
)
from app.services.chat.answers.extractive import pieces
from app.services.chat.answers.openai import HISTORY_MESSAGES
from app.services.chat.cards import product_cards
from app.services.chat.hints import parse_hints
from app.services.chat.hybrid import retrieve, start_meaning
from app.services.chat.semantic import SemanticIndex
from app.services.chat.sessions import (
    SessionFull,
    add_messages,
    count_messages,
    make_room,
    new_message,
    next_message_id,
    recent_history,
    relax_durability,
)
from app.services.chat.vocabulary import vocabulary_for


@dataclass(frozen=True, slots=True)
class Turn:
    """A stored question with everything needed to answer it."""

    chat: ChatSession
    question: ChatMessage
    request: AnswerRequest
    started: float  # time.perf_counter() when the message arrived
    reply: ChatMessage | None = None  # stored already (extractive answers)
    cards: list[dict[str, Any]] = field(default_factory=list)  # the reply's product cards


async def ask(
    sessions: async_sessionmaker[AsyncSession],
    provider: AnswerProvider,
    *,
    merchant_id: str,
    session_id: str,
    content: str,
    semantic: SemanticIndex | None = None,
) -> Turn | None:
    """Store the question and retrieve products (and answer, for `extractive`); None if the
    session is not the merchant's. Raises SessionFull when there is no room for a question
    and its reply."""
    started = time.perf_counter()
    vocabulary = await vocabulary_for(sessions, merchant_id)
    offline = provider.name == EXTRACTIVE.name
    hints = parse_hints(content, vocabulary)
    # The question is embedded while its session is checked (retrieval takes it from there).
    meaning = start_meaning(semantic, hints, content)
    try:
        async with sessions() as session:
            # Room for the question and its reply; the extractive reply is counted right away.
            chat = await make_room(
                session, merchant_id, session_id, adding=2 if offline else 1, room=2
            )
            if chat is None:
                return None
            history: tuple[tuple[str, str], ...] = ()
            if not offline:
                # Only a language model reads the conversation so far.
                history = await recent_history(session, chat.id, count=HISTORY_MESSAGES)
            retrieval = await retrieve(
                session, merchant_id, hints, question=content, semantic=semantic, meaning=meaning
            )
            cards = await product_cards(session, merchant_id, retrieval.products)
            request = AnswerRequest(
                question=content,
                retrieval=retrieval,
                merchant_name=vocabulary.merchant_name,
                history=history,
                suggestions=vocabulary.popular_categories,
                locale=chat.locale,
            )
            question = new_message(
                chat, message_id=await next_message_id(None), role="user", content=content
            )
            stored = None
            if offline:
                turn = Turn(chat, question, request, started, cards=cards)
                stored = await _reply_message(turn=turn, final=await answer(provider, request))
                add_messages(session, question, stored)
            else:
                add_messages(session, question)
            # Chat history may lose its last few hundred milliseconds in a database crash (the
            # shopper has seen the reply by then); in exchange no reply waits for a WAL flush.
            await relax_durability(session)
            await session.commit()
    finally:
        if meaning is not None and not meaning.done():
            meaning.cancel()  # not the merchant's session, or the database failed first
    return Turn(chat, question, request, started, stored, cards)


async def reply(
    sessions: async_sessionmaker[AsyncSession], provider: AnswerProvider, turn: Turn
) -> ChatMessage:
    """The turn's reply: stored already, or answered now and stored."""
    if turn.reply is not None:
        return turn.reply
    return await _store(sessions, turn, await answer(provider, turn.request))


async def stream_reply(
    sessions: async_sessionmaker[AsyncSession], provider: AnswerProvider, turn: Turn
) -> AsyncIterator[Delta | Reset | ChatMessage]:
    """The reply's pieces as they come, then the stored reply itself."""
    if turn.reply is not None:
        for piece in pieces(turn.reply.content):
            yield Delta(piece)
        yield turn.reply
        return
    final: Answer | None = None
    async for event in stream_answer(provider, turn.request):
        if isinstance(event, Done):
            final = event.answer
        else:
            yield event
    assert final is not None, "stream_answer always ends with Done"
    yield await _store(sessions, turn, final)


async def _reply_message(*, turn: Turn, final: Answer) -> ChatMessage:
    return new_message(
        turn.chat,
        message_id=await next_message_id(turn.question.id),
        role="assistant",
        content=final.text,
        products=turn.cards,
        provider=final.provider,
        fallback=final.fallback,
        latency_ms=round((time.perf_counter() - turn.started) * 1000, 2),
    )


async def _store(
    sessions: async_sessionmaker[AsyncSession], turn: Turn, final: Answer
) -> ChatMessage:
    message = await _reply_message(turn=turn, final=final)
    async with sessions() as session:
        add_messages(session, message)
        await count_messages(session, turn.chat, 1)
        await relax_durability(session)
        await session.commit()
    return message


__all__ = ["SessionFull", "Turn", "ask", "reply", "stream_reply"]
