"""The route table's building block and the one wrapper every API route runs through.

An `Endpoint` declares everything about a route in one place: its permission, who may call it
(audience), its request and response models, and the feature flag it sits behind. The wrapper
(`_admit`) enforces them in a fixed order — key, rate limit, audience, merchant scope,
permission, flag, query, body — so a caller without a valid key learns nothing about flags, and
the OpenAPI document is generated from the same declarations.
"""

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.http.auth import presented_key
from app.http.body import read_all_capped
from app.http.envelope import error_response, ok
from app.http.errors import ApiError, ErrorCode
from app.platform import Platform
from app.services.keys import Principal

# Ids are a prefix and 26 characters; anything much longer in a path is not one.
MAX_ID_LENGTH = 200


class Audience(StrEnum):
    ADMIN = "admin"  # secret keys only; CORS limited to ADMIN_ORIGINS
    WIDGET = "widget"  # publishable or secret keys; CORS per merchant's allowed domains
    PUBLIC = "public"  # no key (health, metrics)


@dataclass(slots=True)  # not frozen: built on every request, and frozen init costs more
class Call:
    """What a handler gets: the request plus everything the wrapper already checked."""

    request: Request
    platform: Platform
    principal: Principal | None
    path: dict[str, str]
    query: Any = None
    body: Any = None

    @property
    def merchant_id(self) -> str:
        assert self.principal is not None, "public routes have no merchant"
        return self.principal.merchant_id


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    permission: str | None = None  # None: any valid key of the audience
    audience: Audience = Audience.ADMIN
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: Any = None  # a pydantic model type, or None for `data: null`
    status: int = 200
    flag: str | None = None
    description: str = ""
    media_type: str = "application/json"
    # Errors beyond those the wrapper itself can raise; a pair overrides the code's usual status.
    errors: tuple[ErrorCode | tuple[ErrorCode, int], ...] = field(default=())
    # A handler that reads the body itself (an upload, a signed webhook) describes it here, as
    # OpenAPI requestBody content, with any headers it reads: the document then says what to
    # send, and the fuzzer sends it.
    raw_body: dict[str, Any] | None = None
    headers: tuple[dict[str, Any], ...] = field(default=())

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.removesuffix("_handler")


def build_routes(endpoints: list[Endpoint], platform: Platform) -> list[Route]:
    """One Starlette route per path, so a wrong method gets 405 with the full `Allow` list."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        methods = by_path.setdefault(endpoint.path, {})
        assert endpoint.method not in methods, f"{endpoint.method} {endpoint.path} declared twice"
        methods[endpoint.method] = endpoint
        if endpoint.method == "GET":
            methods["HEAD"] = endpoint
    return [
        Route(path, _EndpointApp(methods, platform), methods=list(methods))
        for path, methods in by_path.items()
    ]


class _EndpointApp:
    """A plain ASGI app (not a request function), so Starlette adds no exception-handling
    layer of its own around it: every error is already an envelope by the time it leaves."""

    def __init__(self, endpoints: dict[str, Endpoint], platform: Platform) -> None:
        self.endpoints = endpoints
        self.platform = platform

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints[scope["method"]]
        request = Request(scope, receive)
        limit_headers: list[tuple[bytes, bytes]] = []  # set by the limiter, sent on every answer
        try:
            call = await _admit(request, self.platform, endpoint, limit_headers)
            result = await endpoint.handler(call)
            if isinstance(result, Response):
                response = result
            else:
                response = ok(result, status=endpoint.status)
        except ApiError as exc:
            response = error_response(exc)
        response.raw_headers += limit_headers
        await response(scope, receive, send)


async def _admit(
    request: Request,
    platform: Platform,
    endpoint: Endpoint,
    limit_headers: list[tuple[bytes, bytes]],
) -> Call:
    principal = None
    if endpoint.audience is not Audience.PUBLIC:
        principal = await _authenticate(request, platform)
        platform.usage.count_request(principal.key_id, principal.merchant_id)  # for the portal
        await _rate_limit(request, platform, principal, limit_headers)
        if endpoint.audience is Audience.ADMIN and principal.kind != "secret":
            raise ApiError(
                ErrorCode.FORBIDDEN,
                "Publishable keys only reach widget routes; use a secret key (sk_live_...).",
            )
        merchant_in_path = request.path_params.get("merchantId")
        if merchant_in_path is not None and merchant_in_path != principal.merchant_id:
            # 404, not 403: a key must not learn whether another merchant exists.
            raise ApiError(ErrorCode.NOT_FOUND, "No such merchant.")
        if endpoint.permission and endpoint.permission not in principal.permissions:
            raise ApiError(
                ErrorCode.FORBIDDEN,
                f"This key lacks the '{endpoint.permission}' permission.",
                details=[{"permission": endpoint.permission}],
            )
    if any(not _well_formed_id(value) for value in request.path_params.values()):
        # No id holds a NUL (PostgreSQL cannot even compare one) or runs this long: such a
        # path names nothing, and is answered as a path that names nothing.
        raise ApiError(ErrorCode.NOT_FOUND, "Nothing has this id.")
    if endpoint.flag is not None:
        flags = await platform.flags.current()
        if not getattr(flags, endpoint.flag):
            raise ApiError(
                ErrorCode.FEATURE_DISABLED,
                f"This feature is temporarily disabled by an operator ({endpoint.flag}).",
            )
    query = _validate(endpoint.query, _query_params(request), "query")
    body = None
    if endpoint.body is not None:
        raw = await _read_json(request, platform.settings.max_json_body_bytes)
        body = _validate(endpoint.body, raw, "body")
    return Call(
        request=request,
        platform=platform,
        principal=principal,
        path=dict(request.path_params),
        query=query,
        body=body,
    )


def _well_formed_id(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH and _storable(value)


def _query_params(request: Request) -> dict[str, str]:
    if not request.scope["query_string"]:
        return {}
    params = dict(request.query_params)
    unstorable = [name for name, value in params.items() if not _storable(value)]
    if unstorable:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "The query holds text that cannot be stored (NUL characters).",
            details=[
                {"field": name, "in": "query", "message": "NUL characters are not allowed"}
                for name in unstorable
            ],
        )
    return params


async def _authenticate(request: Request, platform: Platform) -> Principal:
    plaintext = presented_key(request.scope)
    if plaintext is None:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "Missing API key: send 'Authorization: Bearer sk_live_...'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await platform.keys.resolve(plaintext)
    if principal is None:
        raise ApiError(
            ErrorCode.UNAUTHENTICATED,
            "Unknown, revoked or expired API key.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return principal


async def _rate_limit(
    request: Request,
    platform: Platform,
    principal: Principal,
    headers: list[tuple[bytes, bytes]],
) -> None:
    settings = platform.settings
    if principal.kind == "publishable":
        # A publishable key is shared by every shopper; limit each client on its own.
        client = request.client.host if request.client else "unknown"
        bucket, policy = f"{principal.key_id}:{client}", settings.rate_limit_publishable
    else:
        bucket, policy = principal.key_id, settings.rate_limit_secret
    decision = await platform.limiter.hit(bucket, policy)
    if decision is None:
        return
    flags = platform.flags.fresh() or await platform.flags.current()
    headers += decision.raw_headers(time.time(), quota=flags.rate_limit_headers)
    if not decision.allowed:
        raise ApiError(
            ErrorCode.RATE_LIMITED,
            f"Rate limit of {decision.limit} requests per {decision.window} s exceeded; "
            f"retry in {decision.retry_after} s.",
        )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


async def _read_json(request: Request, limit: int) -> Any:
    mime = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise ApiError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Expected 'Content-Type: application/json', got '{mime or 'none'}'.",
        )
    raw = await read_all_capped(request, limit)
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise ApiError(ErrorCode.BAD_REQUEST, "The body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, f"The body is not valid JSON: {exc}") from None
    _reject_unstorable_text(data)
    return data


def _reject_unstorable_text(data: Any) -> None:
    """JSON escapes can smuggle NUL (PostgreSQL text refuses it) and lone surrogates (not
    encodable as UTF-8) into strings; refuse them here rather than fail deep in the stack."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not _storable(value):
            raise ApiError(
                ErrorCode.BAD_REQUEST,
                "The body holds text that cannot be stored: NUL characters or unpaired "
                "UTF-16 surrogates.",
            )


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _validate(model: type[BaseModel] | None, data: Any, where: str) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or where,
                "in": where,
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ApiError(
            ErrorCode.VALIDATION_FAILED, f"The request {where} is invalid.", details=details
        ) from None
