"""Chat sessions and messages (DESIGN §9), and the deprecated `POST /api/sessions` alias."""

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

import pydantic_core
from pydantic import Field, field_validator
from starlette.responses import Response, StreamingResponse

from app.db.models import ChatMessage, ChatSession
from app.http.envelope import ok
from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel, Page, PageQuery, split_page
from app.http.routing import Audience, Call, Endpoint
from app.logs import LogFields, request_id_var
from app.metrics import DEPRECATED_CALLS
from app.routes.products import VariantOut
from app.services.chat import exchange
from app.services.chat import sessions as service
from app.services.chat.answers import AnswerProvider, Delta, Reset
from app.services.chat.embeddings import embedder_for
from app.services.chat.providers import answer_provider
from app.services.chat.semantic import semantic_index

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
LEGACY_PATH = "/api/sessions"
# RFC 9745 / RFC 8594: when the alias was deprecated and when it may stop answering.
DEPRECATED_ON = datetime(2026, 11, 27, tzinfo=UTC)
SUNSET_ON = datetime(2027, 5, 31, 23, 59, 59, tzinfo=UTC)
_LOCALE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"


class ProductCard(ApiModel):
    id: str = Field(description="Our product id (`prd_...`).")
    title: str
    price: str = Field(description='Exact decimal as a string, e.g. "49.90".')
    currency: str = Field(description="ISO 4217, e.g. USD.")
    url: str | None = Field(description="The product page on the shop.")
    image_url: str | None
    availability: str = Field(description="`in_stock`, `out_of_stock`, `backorder`, `preorder`.")
    brand: str | None = None
    max_price: str | None = Field(
        None, description="The dearest variant's price when the variants' prices differ."
    )
    options: dict[str, list[str]] = Field(
        default_factory=dict, description='The choices: {"Color": ["Blue", "Red"], "Size": ["M"]}.'
    )
    variants: list[VariantOut] = Field(
        default_factory=list, description="One product, its variants (up to 100) as options."
    )


class ChatMessageOut(ApiModel):
    id: str = Field(description="`msg_...`; ids sort in conversation order.")
    session_id: str
    role: Literal["user", "assistant"]
    content: str = Field(description="Plain text; product names match their cards' titles.")
    products: list[ProductCard] = Field(description="Product cards shown with a reply.")
    provider: str | None = Field(
        description="Who wrote a reply: `extractive` or `openai` (null for the shopper's)."
    )
    created_at: datetime

    @classmethod
    def of(cls, message: ChatMessage) -> "ChatMessageOut":
        return cls(
            id=message.id,
            session_id=message.session_id,
            role=message.role,
            content=message.content,
            products=[ProductCard.model_validate(card) for card in message.products],
            provider=message.provider,
            created_at=message.created_at,
        )


class ChatSessionOut(ApiModel):
    id: str = Field(description="`ses_...`: keep it to continue the conversation.")
    locale: str | None
    message_count: int
    created_at: datetime
    last_message_at: datetime | None

    @classmethod
    def of(cls, chat: ChatSession) -> "ChatSessionOut":
        return cls.model_validate(chat, from_attributes=True)


class MessagePage(Page[ChatMessageOut]):
    pass


class Exchange(ApiModel):
    message: ChatMessageOut = Field(description="The shopper's message as stored.")
    reply: ChatMessageOut = Field(description="The assistant's reply with its product cards.")


class CreateSession(ApiInput):
    locale: str | None = Field(
        None, max_length=35, pattern=_LOCALE, description="BCP 47, e.g. en-US."
    )
    page_url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^https?://",
        description="The page the chat started on (without query string), for analytics.",
    )


class SendMessage(ApiInput):
    content: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS, description="The question.")

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value.strip()


def _session_not_found() -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, "No such chat session.")


async def _create(call: Call) -> ChatSessionOut:
    body: CreateSession = call.body
    origin = call.request.headers.get("origin")
    async with call.platform.sessions() as session:
        chat = await service.create_session(
            session,
            merchant_id=call.merchant_id,
            locale=body.locale,
            origin=origin[:300] if origin else None,
            page_url=body.page_url.split("?")[0].split("#")[0] if body.page_url else None,
        )
    return ChatSessionOut.of(chat)


async def create_chat_session_handler(call: Call) -> ChatSessionOut:
    return await _create(call)


def deprecation_headers(base_url: str) -> dict[str, str]:
    return {
        "Deprecation": f"@{int(DEPRECATED_ON.timestamp())}",
        "Sunset": format_datetime(SUNSET_ON, usegmt=True),
        "Link": (
            f'<{base_url}/api/chat/sessions>; rel="successor-version", '
            f'<{base_url}/api/docs#/chat/legacy_create_session>; rel="deprecation"; '
            'type="text/html"'
        ),
    }


async def legacy_create_session_handler(call: Call) -> Response:
    headers = deprecation_headers(call.platform.settings.public_base_url)
    flags = await call.platform.flags.current()
    if not flags.legacy_sessions_endpoint:
        raise ApiError(
            ErrorCode.GONE,
            "POST /api/sessions has been retired: use POST /api/chat/sessions, which takes the "
            "same body and answers the same (see the Link header for the migration guide).",
            details=[{"replacement": "POST /api/chat/sessions"}],
            headers=headers,
        )
    DEPRECATED_CALLS.labels(LEGACY_PATH).inc()
    log.warning(
        "deprecated endpoint called",
        extra=LogFields(
            route=LEGACY_PATH,
            replacement="/api/chat/sessions",
            merchantId=call.merchant_id,
            keyId=call.principal.key_id if call.principal else None,
            origin=(call.request.headers.get("origin") or "")[:200],
        ),
    )
    return ok(await _create(call), status=201, headers=headers)


async def get_chat_session_handler(call: Call) -> ChatSessionOut:
    async with call.platform.sessions() as session:
        chat = await service.get_session(session, call.merchant_id, call.path["sessionId"])
    if chat is None:
        raise _session_not_found()
    return ChatSessionOut.of(chat)


async def list_chat_messages_handler(call: Call) -> MessagePage:
    query: PageQuery = call.query
    async with call.platform.sessions() as session:
        chat = await service.get_session(session, call.merchant_id, call.path["sessionId"])
        if chat is None:
            raise _session_not_found()
        rows = await service.list_messages(
            session, call.merchant_id, chat.id, limit=query.limit + 1, after=query.cursor
        )
    page, next_cursor = split_page(rows, query.limit)
    return MessagePage(items=[ChatMessageOut.of(row) for row in page], next_cursor=next_cursor)


async def send_chat_message_handler(call: Call) -> Exchange | Response:
    body: SendMessage = call.body
    platform = call.platform
    provider = answer_provider(platform, platform.settings)
    try:
        turn = await exchange.ask(
            platform.sessions,
            provider,
            merchant_id=call.merchant_id,
            session_id=call.path["sessionId"],
            content=body.content,
            semantic=semantic_index(platform.sessions, embedder_for(platform, platform.settings)),
        )
    except service.SessionFull:
        raise ApiError(
            ErrorCode.CONFLICT,
            f"This session reached {service.MAX_MESSAGES_PER_SESSION} messages; "
            "start a new one with POST /api/chat/sessions.",
        ) from None
    if turn is None:
        raise _session_not_found()
    if "text/event-stream" in call.request.headers.get("accept", ""):
        return StreamingResponse(
            _events(call, provider, turn),
            media_type="text/event-stream; charset=utf-8",
            # No caching, and no buffering by proxies (nginx honours X-Accel-Buffering).
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    stored = await exchange.reply(platform.sessions, provider, turn)
    return Exchange(message=ChatMessageOut.of(turn.question), reply=ChatMessageOut.of(stored))


def _event(name: str, data: Any) -> bytes:
    payload = pydantic_core.to_json(data, by_alias=True)
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


async def _events(
    call: Call, provider: AnswerProvider, turn: exchange.Turn
) -> AsyncIterator[bytes]:
    """Server-sent events: `message` (the stored question), `products` (the cards), `delta`
    (a piece of the reply), `reset` (drop the pieces so far), `done` (the stored reply) or
    `error` (in the envelope's error shape)."""
    yield _event("message", {"message": ChatMessageOut.of(turn.question)})
    cards = [ProductCard.model_validate(card) for card in turn.cards]
    yield _event("products", {"products": cards})
    try:
        async for item in exchange.stream_reply(call.platform.sessions, provider, turn):
            if isinstance(item, Delta):
                yield _event("delta", {"text": item.text})
            elif isinstance(item, Reset):
                yield _event("reset", {})
            else:
                yield _event("done", {"reply": ChatMessageOut.of(item)})
    except Exception:
        # The status line is long gone: report in the stream, in the envelope's error shape.
        log.exception("streamed reply failed", extra=LogFields(sessionId=turn.chat.id))
        yield _event(
            "error",
            {
                "code": ErrorCode.INTERNAL_ERROR.value,
                "message": "Something went wrong on our side while answering.",
                "requestId": request_id_var.get(),
            },
        )


_SESSION_DOC = (
    "Publishable keys reach it from the merchant's allowed domains (CORS). Emits the "
    "`chat.session.created` webhook event."
)

ROUTES = [
    Endpoint(
        method="POST",
        path="/api/chat/sessions",
        handler=create_chat_session_handler,
        summary="Start a chat session",
        tag="chat",
        permission="chat:write",
        audience=Audience.WIDGET,
        body=CreateSession,
        response=ChatSessionOut,
        status=201,
        description=_SESSION_DOC,
    ),
    Endpoint(
        method="POST",
        path=LEGACY_PATH,
        handler=legacy_create_session_handler,
        summary="Deprecated alias of POST /api/chat/sessions",
        tag="chat",
        permission="chat:write",
        audience=Audience.WIDGET,
        body=CreateSession,
        response=ChatSessionOut,
        status=201,
        errors=(ErrorCode.GONE,),
        description=(
            "**Deprecated** since 2026-11-27, sunset 2027-05-31: call `POST /api/chat/sessions` "
            "instead; it takes the same body and answers the same. Until then this alias "
            "answers identically plus `Deprecation`, `Sunset` and `Link` headers; operators "
            "can retire it early with the `legacy_sessions_endpoint` flag, after which it "
            "answers 410 `gone`. Migration guide: docs/migrations/sessions.md."
        ),
    ),
    Endpoint(
        method="GET",
        path="/api/chat/sessions/{sessionId}",
        handler=get_chat_session_handler,
        summary="A chat session",
        tag="chat",
        permission="chat:write",
        audience=Audience.WIDGET,
        response=ChatSessionOut,
    ),
    Endpoint(
        method="POST",
        path="/api/chat/sessions/{sessionId}/messages",
        handler=send_chat_message_handler,
        summary="Ask a question; get a reply with product cards",
        tag="chat",
        permission="chat:write",
        audience=Audience.WIDGET,
        body=SendMessage,
        response=Exchange,
        errors=(ErrorCode.CONFLICT,),
        description=(
            "Retrieves the merchant's best-matching products (full-text rank, in stock first, "
            "price/brand/category filters taken from the question when obvious) and answers "
            "from them. With `Accept: text/event-stream` the reply streams as server-sent "
            "events: `message` (the stored question), `products` ({products: [...]}), `delta` "
            "({text}), possibly `reset` (discard the text so far), then `done` ({reply}) or "
            "`error` ({code, message, requestId})."
        ),
    ),
    Endpoint(
        method="GET",
        path="/api/chat/sessions/{sessionId}/messages",
        handler=list_chat_messages_handler,
        summary="The messages of a chat session, oldest first",
        tag="chat",
        permission="chat:write",
        audience=Audience.WIDGET,
        query=PageQuery,
        response=MessagePage,
    ),
]
