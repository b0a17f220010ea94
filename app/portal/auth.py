"""Sign-in, sign-out and the one-time links (invitations, password links).

Sign-in attempts go through the API's own limiter, per account and per client IP: the account
limit stops guessing one person's password from many machines, the IP limit stops one machine
trying many accounts. Both count every attempt, so a correct password does not reset them.
"""

import logging
import math

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.db.accounts import PortalUser
from app.logs import LogFields
from app.portal.web import (
    ANON_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    current_user,
    field,
    form,
    platform_of,
    redirect,
    render,
    safe_next,
    set_cookie,
)
from app.services import accounts

log = logging.getLogger(__name__)


async def sign_in_page(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if await current_user(request) is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "sign_in.html", {"next": target, "email": "", "problem": None})


async def sign_in(request: Request) -> Response:
    data = await form(request, max_files=0, max_fields=10)
    email, password = field(data, "email").lower()[:320], str(data.get("password") or "")
    target = safe_next(field(data, "next"))
    wait = await throttled(request, email)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        problem = (
            f"Too many sign-in attempts. For your safety, wait {minutes} minute"
            f"{'s' if minutes > 1 else ''} before trying again."
        )
        response = render(
            request,
            "sign_in.html",
            {"next": target, "email": email, "problem": problem},
            status=429,
        )
        response.headers["Retry-After"] = str(wait)
        log.warning("portal sign-in throttled", extra=LogFields(status=429, retryAfter=wait))
        return response
    platform = platform_of(request)
    async with platform.sessions() as session:
        user = await accounts.authenticate(session, email, password)
        if user is None:
            log.info("portal sign-in refused", extra=LogFields(status=401))
            return render(
                request,
                "sign_in.html",
                {"next": target, "email": email, "problem": "The email or password is wrong."},
                status=401,
            )
        log.info("portal sign-in", extra=LogFields(merchantId=user.merchant_id, userId=user.id))
        return await signed_in(request, session, user, target)


async def throttled(request: Request, email: str) -> int:
    """Seconds to wait, or 0 when this attempt may go ahead."""
    platform = platform_of(request)
    client = request.client.host if request.client else "unknown"
    buckets = [(f"portal-sign-in:ip:{client}", platform.settings.portal_sign_in_per_ip)]
    if email:
        buckets.append(
            (f"portal-sign-in:account:{email}", platform.settings.portal_sign_in_per_account)
        )
    waits = []
    for bucket, policy in buckets:
        decision = await platform.limiter.hit(bucket, policy)
        if decision is not None and not decision.allowed:
            waits.append(decision.retry_after)
    return max(waits, default=0)


async def signed_in(
    request: Request, session: AsyncSession, user: PortalUser, target: str
) -> Response:
    """A fresh session for `user`; whatever session the browser had before is ended."""
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await accounts.end_session(session, accounts.hash_token(previous))
    token = await accounts.start_session(
        session,
        user,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    await session.commit()
    response = RedirectResponse(target, status_code=303)
    set_cookie(
        request,
        response,
        SESSION_COOKIE,
        token,
        max_age=int(accounts.ABSOLUTE_LIFETIME.total_seconds()),
    )
    response.delete_cookie(ANON_COOKIE, path=PREFIX)
    return response


async def sign_out(request: Request) -> Response:
    await form(request, max_files=0, max_fields=5)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with platform_of(request).sessions() as session:
            await accounts.end_session(session, accounts.hash_token(token))
            await session.commit()
    response = redirect(f"{PREFIX}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


async def link_page(request: Request) -> Response:
    async with platform_of(request).sessions() as session:
        link = await accounts.open_link(session, request.path_params["token"])
    if link is None:
        return _dead_link(request)
    return render(request, "set_password.html", {"link": link, "problem": None})


async def use_link(request: Request) -> Response:
    data = await form(request, max_files=0, max_fields=10)
    password, again = str(data.get("password") or ""), str(data.get("confirm") or "")
    async with platform_of(request).sessions() as session:
        link = await accounts.open_link(session, request.path_params["token"])
        if link is None:
            return _dead_link(request)
        # What the page shows, read now: a rollback below expires the loaded row.
        shown = {"purpose": link.purpose, "email": link.email, "role": link.role}
        problem = None
        if password != again:
            problem = "The two passwords differ."
        else:
            try:
                user = await accounts.use_link(session, link, password)
            except accounts.AccountError as exc:
                await session.rollback()
                problem = str(exc)
        if problem is not None:
            return render(
                request, "set_password.html", {"link": shown, "problem": problem}, status=422
            )
        return await signed_in(request, session, user, f"{PREFIX}/")


def _dead_link(request: Request) -> Response:
    return render(
        request,
        "error.html",
        {
            "title": "This link no longer works",
            "message": "Links work once and expire (invitations after 7 days, password links "
            "after 24 hours). Ask an owner of the account, or your operator, for a new one.",
        },
        status=410,
    )


ROUTES = [
    Route("/sign-in", sign_in_page, methods=["GET"]),
    Route("/sign-in", sign_in, methods=["POST"]),
    Route("/sign-out", sign_out, methods=["POST"]),
    Route("/link/{token}", link_page, methods=["GET"]),
    Route("/link/{token}", use_link, methods=["POST"]),
]
