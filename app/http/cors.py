"""CORS for two audiences (DESIGN §6).

Widget routes are called from merchants' shop pages, so preflights are answered for any origin
and the real request is checked against the allowed domains of the key's merchant. Admin routes
are only for our own consoles (`ADMIN_ORIGINS`). Credentials are never allowed: keys travel in
the Authorization header, so a page cannot ride on a user's cookies.
"""

import logging
import re
from collections.abc import Awaitable, Sequence

from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.auth import presented_key
from app.http.envelope import error_response
from app.http.errors import ApiError, ErrorCode
from app.http.headers import header_list
from app.http.routing import Audience, Endpoint
from app.logs import LogFields
from app.metrics import CORS_REJECTIONS
from app.platform import Platform
from app.services.domains import host_allowed, origin_host
from app.services.keys import shown_prefix

log = logging.getLogger(__name__)

EXPOSED_HEADERS = (
    "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, "
    "RateLimit-Policy, Retry-After, Deprecation, Sunset, Link"
)
ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, X-Request-Id, Idempotency-Key"
MAX_AGE = "600"


class CorsAudiences:
    """Which CORS policy a path gets. Widget routes are the route table's `Audience.WIDGET`
    endpoints (declared once, there); everything else under /api is admin. The portal is
    same-origin (its forms carry a CSRF token): no CORS policy applies to it.

    Worked out once from the table: a set lookup for plain paths, and one regex, tried only
    under the literal prefix of a parameterised widget path, so no request pays a route scan.
    """

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        widget = {e.path for e in endpoints if e.audience is Audience.WIDGET}
        templated = sorted(path for path in widget if "{" in path)
        self.exact = frozenset(widget.difference(templated))
        self.prefixes = tuple(sorted({path.partition("{")[0] for path in templated}))
        # Starlette's own path regexes, their named groups unnamed so that they can be joined.
        patterns = [re.sub(r"\(\?P<\w+>", "(?:", compile_path(p)[0].pattern) for p in templated]
        self.templated = re.compile("|".join(f"(?:{pattern})" for pattern in patterns) or "(?!)")

    def of(self, path: str) -> str | None:
        if path in self.exact or (path.startswith(self.prefixes) and self.templated.match(path)):
            return "widget"
        if path.startswith("/api/") or path == "/api":
            return "admin"
        return None


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, platform: Platform, endpoints: Sequence[Endpoint]) -> None:
        self.app = app
        self.platform = platform
        self.admin_origins = frozenset(platform.settings.admin_origins)
        self.audiences = CorsAudiences(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        audience = self.audiences.of(scope["path"]) if scope["type"] == "http" else None
        if audience is None:
            await self.app(scope, receive, send)
            return

        origin, preflight = _cors_request_headers(scope)
        if origin is None:
            await self.app(scope, receive, _with_headers(send, []))
            return

        if preflight:
            if audience == "widget" or origin in self.admin_origins:
                await self._preflight(origin)(scope, receive, send)
            else:
                await self._record_rejection(audience, origin, scope)
                await _rejection(audience, origin)(scope, receive, send)
            return

        if not await self._allowed(audience, origin, scope):
            await self._record_rejection(audience, origin, scope)
            # `report-only` is the lever for the widget's CORS alone: the admin routes keep
            # ADMIN_ORIGINS whatever the flag says.
            if audience == "admin" or (await self.platform.flags.current()).cors_mode == "enforce":
                await _rejection(audience, origin)(scope, receive, send)
                return
        simple = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
        ]
        await self.app(scope, receive, _with_headers(send, simple))

    async def _allowed(self, audience: str, origin: str, scope: Scope) -> bool:
        if audience == "admin":
            return origin in self.admin_origins
        plaintext = presented_key(scope)
        principal = await self.platform.keys.resolve(plaintext) if plaintext else None
        if principal is None:
            # Let the route answer 401, readable by the widget so it can say the key is wrong.
            return True
        domains = await self.platform.allowed_domains(principal.merchant_id)
        host = origin_host(origin)
        # No domains yet means "any", as the seed's onboarding starts out (wildcard).
        allowed = not domains or (host is not None and host_allowed(host, domains))
        if not allowed:
            self.platform.usage.record_refusal(principal.merchant_id, origin)  # for the portal
        return allowed

    async def _record_rejection(self, audience: str, origin: str, scope: Scope) -> None:
        CORS_REJECTIONS.labels(audience).inc()
        # The merchant and key say whose widget is embedded where (CorsRejections runbook).
        # Preflights carry no key; the resolver's cache makes the lookup cheap otherwise.
        plaintext = presented_key(scope)
        principal = await self.platform.keys.resolve(plaintext) if plaintext else None
        log.info(
            "cors origin rejected",
            extra=LogFields(
                origin=origin[:200],
                audience=audience,
                path=scope["path"],
                merchantId=principal.merchant_id if principal else None,
                keyPrefix=shown_prefix(plaintext) if plaintext else None,
            ),
        )

    def _preflight(self, origin: str) -> Response:
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": MAX_AGE,
                "Vary": "Origin",
            },
        )


def _cors_request_headers(scope: Scope) -> tuple[str | None, bool]:
    """The Origin, and whether this is a preflight (OPTIONS with Access-Control-Request-Method)."""
    origin, requested_method = None, False
    for name, value in scope["headers"]:
        if name == b"origin" and origin is None:
            origin = value.decode("latin-1")
        elif name == b"access-control-request-method":
            requested_method = True
    return origin, requested_method and scope["method"] == "OPTIONS"


def _rejection(audience: str, origin: str) -> Response:
    hint = (
        "add its hostname to the merchant's allowed domains"
        if audience == "widget"
        else "admin routes only accept the origins in ADMIN_ORIGINS"
    )
    response = error_response(
        ApiError(ErrorCode.ORIGIN_NOT_ALLOWED, f"Origin {origin[:200]} is not allowed; {hint}.")
    )
    response.headers["Vary"] = "Origin"
    if audience == "widget":
        # The widget must be able to read this refusal to tell the shop owner what to fix;
        # without these headers the browser hides it behind an opaque network error. The
        # body holds no data, only the error, so nothing leaks to the foreign origin.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    # A plain function handing back `send`'s awaitable: no coroutine of our own per message.
    def wrapped(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            headers = header_list(message)
            _vary_origin(headers)
            headers += extra
        return send(message)

    return wrapped


def _vary_origin(headers: list[tuple[bytes, bytes]]) -> None:
    """Names Origin in Vary: the answer depends on it, so caches must too."""
    for index, (name, value) in enumerate(headers):
        if name == b"vary":
            if b"origin" not in value.lower():
                headers[index] = (b"vary", value + b", Origin")
            return
    headers.append((b"vary", b"Origin"))
