"""What every portal page stands on: the ASGI app under /portal (security headers, error
pages), templates, the signed-in user (`require`), and forms with their CSRF check (`form`).

The portal is a cookie-authenticated, same-origin site, the opposite of the API (bearer keys,
cross-origin): the two never share a credential. The session cookie is scoped to `/portal`,
and the API's auth reads only the Authorization header, so a cookie opens no API route and a
key opens no page.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from app.http.errors import ApiError
from app.http.headers import header_list
from app.logs import LogFields, request_id_var
from app.platform import Platform
from app.services import accounts
from app.services.accounts import SignedIn

log = logging.getLogger(__name__)

PREFIX = "/portal"
SESSION_COOKIE = "ragassist_portal"
# Before sign-in there is no session to bind a CSRF token to: a random cookie stands in.
ANON_COOKIE = "ragassist_portal_anon"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere: everything comes from /portal/static. Pages that need
# more (an iframe of another origin) set their own Content-Security-Policy on the response.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]

templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    permission: str | None  # shown only to users who have it


NAV = (
    NavItem("Overview", "/portal/", None),
    NavItem("API keys", "/portal/keys", "keys:read"),
    NavItem("Domains", "/portal/domains", "settings:read"),
    NavItem("Catalog", "/portal/catalog", "sync:read"),
    NavItem("Webhooks", "/portal/webhooks", "webhooks:read"),
    NavItem("Widget", "/portal/widget", "settings:read"),
    NavItem("Analytics", "/portal/analytics", "analytics:read"),
    NavItem("Docs", "/portal/docs", None),
    NavItem("Team", "/portal/team", accounts.MANAGE_TEAM),
)


class PortalError(Exception):
    """Shown to the person as a page (never as JSON): a title and what to do about it."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class SignInRequired(Exception):
    """No live session: the portal app redirects to the sign-in page, then back."""


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


# ---- the signed-in user ------------------------------------------------------------------


async def current_user(request: Request) -> SignedIn | None:
    """The live session of this browser, looked up once per request."""
    if "portal_user" in request.scope:
        found: SignedIn | None = request.scope["portal_user"]
        return found
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        async with platform_of(request).sessions() as session:
            user = await accounts.resume_session(session, token)
    request.scope["portal_user"] = user
    return user


async def require(request: Request, permission: str | None = None) -> SignedIn:
    """The signed-in user, who must hold `permission` (the same name the API route declares;
    see `api_permission`). Not signed in → the sign-in page; lacking it → a 403 page."""
    user = await current_user(request)
    if user is None:
        raise SignInRequired
    if permission is not None and not user.can(permission):
        raise PortalError(
            403,
            "Not allowed",
            f"Your role ({user.role}) does not include '{permission}'. "
            "Ask an owner of this account if you need it.",
        )
    return user


def api_permission(method: str, path: str) -> str:
    """The permission the API route `method path` declares, so a page checks exactly it."""
    from app.routes import ROUTES

    for endpoint in ROUTES:
        if endpoint.method == method and endpoint.path == path:
            assert endpoint.permission is not None, f"{method} {path} declares no permission"
            return endpoint.permission
    raise AssertionError(f"no API route {method} {path}")


# ---- forms and CSRF ----------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    """Derived from the session token (or the anonymous cookie): only a page of this origin,
    which received it in its HTML, can send it back; nothing is stored."""
    secret = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if secret is None:
        secret = request.scope.setdefault("portal_new_anon", secrets.token_urlsafe(32))
    return hmac.new(secret.encode(), b"portal-csrf", hashlib.sha256).hexdigest()


async def form(request: Request, **limits: int) -> FormData:
    """The posted form, once its CSRF token and Origin are checked. Every state-changing
    handler reads its input through this. `limits`: Starlette's `max_files`, `max_fields`,
    `max_part_size`."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise PortalError(403, "Refused", "This form was sent from another site.")
    data = await request.form(**limits)
    sent = data.get("csrf")
    expected = csrf_token(request)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise PortalError(
            403,
            "This form has expired",
            "The page was open too long or you signed in elsewhere. Reload it and try again.",
        )
    return data


def field(data: FormData, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


# ---- responses ---------------------------------------------------------------------------


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    active: str = "",
) -> HTMLResponse:
    """A page from `templates/`, extending `base.html`. `active` is the NAV path to mark."""
    user: SignedIn | None = request.scope.get("portal_user")
    values = {
        "user": user,
        "nav": [
            item for item in NAV if user and (not item.permission or user.can(item.permission))
        ],
        "active": active,
        "csrf": csrf_token(request),
        "request_id": request_id_var.get(),
        **(context or {}),
    }
    response = HTMLResponse(templates.get_template(name).render(values), status_code=status)
    new_anon = request.scope.get("portal_new_anon")
    if new_anon is not None:
        set_cookie(request, response, ANON_COOKIE, new_anon, max_age=None)
    return response


def redirect(path: str) -> RedirectResponse:
    """After a successful POST: 303 so that a reload does not post again."""
    assert path.startswith(PREFIX), path
    return RedirectResponse(path, status_code=303)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the portal (no open redirects)."""
    default = f"{PREFIX}/"
    if not target or (not target.startswith(f"{PREFIX}/") and target != PREFIX):
        return default
    parts = urlsplit(target)
    # `/portal/../x`, backslashes and `//host` tricks: anything unusual falls back.
    if parts.scheme or parts.netloc or "\\" in target or ".." in target or "//" in target:
        return default
    return target


def secure_cookies(request: Request) -> bool:
    """Secure behind https: the request's scheme (uvicorn takes X-Forwarded-Proto only from
    `--forwarded-allow-ips`), or an https PUBLIC_BASE_URL even if a proxy forgot to say so."""
    public = platform_of(request).settings.public_base_url
    return request.url.scheme == "https" or public.startswith("https://")


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


# ---- the app -----------------------------------------------------------------------------


class PortalApp:
    """Everything under /portal: pages first, then the stylesheet and script. Every answer
    carries the security headers; every failure is a page, never a JSON envelope."""

    def __init__(self, routes: list[BaseRoute]) -> None:
        self.router = Router(
            [*routes, Mount("/static", app=StaticFiles(directory=STATIC), name="portal-static")],
            default=self._not_found,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        started = False
        static = scope["path"].startswith(f"{PREFIX}/static/")
        cache_control = b"public, max-age=300" if static else b"no-store"

        def with_headers(message: Message) -> Any:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = header_list(message)
                if not any(name == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                if not any(name == b"cache-control" for name, _ in headers):
                    # Pages show secrets once and private data: never from a cache. The
                    # stylesheet and script are public; five minutes spares a fetch per page.
                    headers.append((b"cache-control", cache_control))
                headers.extend(SECURITY_HEADERS)
            return send(message)

        try:
            await self.router(scope, receive, with_headers)
        except Exception as exc:
            if started:
                raise
            response = await self._failure(Request(scope, receive), exc)
            await response(scope, receive, with_headers)

    async def _failure(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, SignInRequired):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method != "GET":
                target = f"{PREFIX}/"  # a form's target is not a page to come back to
            return RedirectResponse(
                f"{PREFIX}/sign-in?next={quote(safe_next(target), safe='/')}", status_code=303
            )
        if isinstance(exc, PortalError):
            return error_page(request, exc.status, exc.title, exc.message)
        if isinstance(exc, ApiError):
            # A service or shared API helper refused: its message is written for people.
            return error_page(request, exc.status, "That did not work", exc.message)
        if isinstance(exc, HTTPException):
            if exc.status_code == 405:
                return error_page(
                    request, 405, "Not here", "This address does not accept that kind of request."
                )
            return error_page(request, exc.status_code, "Something is off", str(exc.detail))
        log.exception("portal page failed", extra=LogFields(path=request.url.path))
        return error_page(
            request,
            500,
            "Something went wrong on our side",
            "The problem is logged. Try again in a moment; if it persists, contact support "
            "with the reference below.",
        )

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        await current_user(request)
        response = error_page(
            request, 404, "Page not found", "There is no portal page at this address."
        )
        await response(scope, receive, send)


def raise_not_found(what: str) -> NoReturn:
    """Another merchant's id gets the same page as an id that never existed."""
    raise PortalError(404, "Not found", f"No such {what} in this account.")
