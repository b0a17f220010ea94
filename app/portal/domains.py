"""Allowed domains (seed Task 3.5): add and remove with the API's validation, check an origin,
and see which origins were refused lately, with a one-click "allow".

Entries are validated by `normalize_domain` and stored by `replace_domains`, as
`PUT /api/merchants/{id}/domains` does, under that route's permission.
"""

from typing import Any

import idna
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.web import api_permission, field, form, platform_of, redirect, render, require
from app.services import domains, usage
from app.services.accounts import SignedIn
from app.services.domains import MAX_DOMAINS, DomainError

READ = api_permission("GET", "/api/merchants/{merchantId}/domains")
WRITE = api_permission("PUT", "/api/merchants/{merchantId}/domains")


def readable(entry: str) -> str:
    """`*.xn--bcher-kva.de` → `*.bücher.de`, as the merchant typed it."""
    wildcard = entry.startswith("*.")
    host = entry[2:] if wildcard else entry
    try:
        shown = idna.decode(host)
    except idna.IDNAError:
        shown = host
    return f"*.{shown}" if wildcard else shown


def check_origin(text: str, entries: tuple[str, ...]) -> dict[str, Any]:
    """Would the widget's API accept a request from `text` (an origin or a bare hostname)?"""
    origin = text if "://" in text else f"https://{text}"
    host = domains.origin_host(origin)
    if host is None:
        return {"valid": False, "origin": text}
    entry = domains.matching_entry(host, entries)
    return {
        "valid": True,
        "origin": text,
        "host": readable(host),
        "allowed": not entries or entry is not None,
        "entry": readable(entry) if entry else None,
        "suggestion": host,
    }


async def _page(
    request: Request,
    user: SignedIn,
    *,
    typed: str = "",
    problem: str | None = None,
    status: int = 200,
) -> Response:
    platform = platform_of(request)
    await platform.usage.flush(platform.sessions)  # this process's latest refusals
    async with platform.sessions() as session:
        entries = await domains.get_domains(session, user.merchant_id)
        refusals = await usage.recent_refusals(session, user.merchant_id)
    asked = request.query_params.get("origin", "").strip()[:300]
    refused = []
    for row in refusals:
        host = domains.origin_host(row.origin)
        refused.append(
            {
                "row": row,
                "host": host,
                # Allowed since (the cache, or another process) or not a web origin at all.
                "allowable": host is not None and domains.matching_entry(host, entries) is None,
            }
        )
    return render(
        request,
        "domains.html",
        {
            "entries": [{"stored": entry, "shown": readable(entry)} for entry in entries],
            "refused": refused,
            "check": check_origin(asked, entries) if asked else None,
            "typed": typed,
            "problem": problem,
            "max_domains": MAX_DOMAINS,
        },
        status=status,
        active="/portal/domains",
    )


async def domains_page(request: Request) -> Response:
    user = await require(request, READ)
    return await _page(request, user)


async def _save(request: Request, user: SignedIn, entries: list[str]) -> None:
    platform = platform_of(request)
    async with platform.sessions() as session:
        await domains.replace_domains(session, user.merchant_id, entries)
        await session.commit()
    platform.forget_domains(user.merchant_id)


async def add_domain(request: Request) -> Response:
    user = await require(request, WRITE)
    data = await form(request, max_files=0, max_fields=5)
    typed = field(data, "domain")[:300]
    try:
        entry = domains.normalize_domain(typed)
    except DomainError as exc:
        return await _page(request, user, typed=typed, problem=str(exc), status=422)
    async with platform_of(request).sessions() as session:
        entries = list(await domains.get_domains(session, user.merchant_id))
    if entry not in entries:
        if len(entries) >= MAX_DOMAINS:
            problem = f"At most {MAX_DOMAINS} entries; use a wildcard such as *.example.com."
            return await _page(request, user, typed=typed, problem=problem, status=422)
        await _save(request, user, [*entries, entry])
    return redirect("/portal/domains")


async def remove_domain(request: Request) -> Response:
    user = await require(request, WRITE)
    data = await form(request, max_files=0, max_fields=5)
    entry = field(data, "domain")
    async with platform_of(request).sessions() as session:
        entries = list(await domains.get_domains(session, user.merchant_id))
    if entry in entries:
        await _save(request, user, [kept for kept in entries if kept != entry])
    return redirect("/portal/domains")


ROUTES = [
    Route("/domains", domains_page, methods=["GET"]),
    Route("/domains", add_domain, methods=["POST"]),
    Route("/domains/remove", remove_domain, methods=["POST"]),
]
