"""The team: an owner invites teammates (a single-use link to pass on: there is no mail
server), changes their roles and removes them. Portal-only: no API key manages people."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.web import field, form, platform_of, raise_not_found, redirect, render, require
from app.services import accounts
from app.services.accounts import MANAGE_TEAM, ROLES, AccountError, SignedIn


def link_url(request: Request, token: str) -> str:
    # The address the owner is using is the one the teammate can reach.
    return f"{request.url.scheme}://{request.url.netloc}/portal/link/{token}"


async def _page(
    request: Request,
    user: SignedIn,
    *,
    invited: dict[str, str] | None = None,
    problem: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with platform_of(request).sessions() as session:
        members = await accounts.list_users(session, user.merchant_id)
        pending = await accounts.pending_invitations(session, user.merchant_id)
    return render(
        request,
        "team.html",
        {
            "members": members,
            "pending": pending,
            "roles": ROLES,
            "invited": invited,
            "problem": problem,
            "typed": typed or {"email": "", "role": "developer"},
        },
        status=status,
        active="/portal/team",
    )


async def team_page(request: Request) -> Response:
    user = await require(request, MANAGE_TEAM)
    return await _page(request, user)


async def invite(request: Request) -> Response:
    user = await require(request, MANAGE_TEAM)
    data = await form(request, max_files=0, max_fields=5)
    typed = {"email": field(data, "email")[:320], "role": field(data, "role")}
    async with platform_of(request).sessions() as session:
        try:
            made = await accounts.create_link(
                session,
                merchant_id=user.merchant_id,
                purpose="invite",
                email=typed["email"],
                role=typed["role"],
                created_by=user.user_id,
            )
        except AccountError as exc:
            return await _page(request, user, problem=str(exc), typed=typed, status=422)
        await session.commit()
    invited = {"email": made.link.email, "url": link_url(request, made.token)}
    return await _page(request, user, invited=invited, status=201)


async def change_role(request: Request) -> Response:
    user = await require(request, MANAGE_TEAM)
    data = await form(request, max_files=0, max_fields=5)
    async with platform_of(request).sessions() as session:
        member = await accounts.get_user(session, user.merchant_id, request.path_params["userId"])
        if member is None:
            raise_not_found("teammate")
        try:
            await accounts.set_role(session, member, field(data, "role"))
        except AccountError as exc:
            return await _page(request, user, problem=str(exc), status=422)
        await session.commit()
    return redirect("/portal/team")


async def remove(request: Request) -> Response:
    user = await require(request, MANAGE_TEAM)
    await form(request, max_files=0, max_fields=5)
    async with platform_of(request).sessions() as session:
        member = await accounts.get_user(session, user.merchant_id, request.path_params["userId"])
        if member is None:
            raise_not_found("teammate")
        try:
            await accounts.remove_user(session, member)
        except AccountError as exc:
            return await _page(request, user, problem=str(exc), status=422)
        await session.commit()
    return redirect("/portal/team" if member.id != user.user_id else "/portal/sign-in")


async def cancel_invitation(request: Request) -> Response:
    user = await require(request, MANAGE_TEAM)
    await form(request, max_files=0, max_fields=5)
    async with platform_of(request).sessions() as session:
        cancelled = await accounts.cancel_link(
            session, user.merchant_id, request.path_params["linkId"]
        )
        await session.commit()
    if not cancelled:
        raise_not_found("invitation")
    return redirect("/portal/team")


ROUTES = [
    Route("/team", team_page, methods=["GET"]),
    Route("/team/invite", invite, methods=["POST"]),
    Route("/team/{userId}/role", change_role, methods=["POST"]),
    Route("/team/{userId}/remove", remove, methods=["POST"]),
    Route("/team/invitations/{linkId}/cancel", cancel_invitation, methods=["POST"]),
]
