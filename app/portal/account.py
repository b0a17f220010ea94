"""Your account: change your password, see where you are signed in, sign out elsewhere."""

import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.auth import signed_in, throttled
from app.portal.web import form, platform_of, redirect, render, require
from app.services import accounts
from app.services.accounts import SignedIn


async def _page(
    request: Request, user: SignedIn, *, problem: str | None = None, status: int = 200
) -> Response:
    async with platform_of(request).sessions() as session:
        live = await accounts.live_sessions(session, user.user_id)
    return render(
        request,
        "account.html",
        {"sessions": live, "current": user.token_hash, "problem": problem},
        status=status,
    )


async def account_page(request: Request) -> Response:
    user = await require(request)
    return await _page(request, user)


async def change_password(request: Request) -> Response:
    """Needs the current password (a borrowed session alone must not take the account over);
    every other session ends, and this browser gets a new one."""
    user = await require(request)
    data = await form(request, max_files=0, max_fields=10)
    current, new, again = (str(data.get(name) or "") for name in ("current", "password", "confirm"))
    wait = await throttled(request, user.email)
    if wait:
        return await _page(
            request, user, problem=f"Too many attempts; wait {wait} seconds.", status=429
        )
    async with platform_of(request).sessions() as session:
        record = await accounts.authenticate(session, user.email, current)
        problem = None
        if record is None:
            problem = "The current password is wrong."
        elif not hmac.compare_digest(new, again):
            problem = "The two new passwords differ."
        else:
            try:
                await accounts.set_password(session, record, new)
            except accounts.AccountError as exc:
                problem = str(exc)
        if problem is not None or record is None:
            await session.rollback()
            return await _page(request, user, problem=problem, status=422)
        return await signed_in(request, session, record, "/portal/account")


async def sign_out_elsewhere(request: Request) -> Response:
    user = await require(request)
    await form(request, max_files=0, max_fields=5)
    async with platform_of(request).sessions() as session:
        await accounts.end_other_sessions(session, user.user_id, keep_hash=user.token_hash)
        await session.commit()
    return redirect("/portal/account")


ROUTES = [
    Route("/account", account_page, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/sign-out-elsewhere", sign_out_elsewhere, methods=["POST"]),
]
