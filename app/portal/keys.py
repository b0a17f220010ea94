"""API keys (seed Task 2.5): list with usage, create with a permission picker, revoke.

The picker is Stripe's restricted-key form: per resource none / read / write, where write
includes read. What it builds is validated by the API's own `CreateKey` model and minted by the
same service the API route calls, under the same permission.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db.models import ApiKey
from app.portal.web import (
    api_permission,
    field,
    form,
    platform_of,
    raise_not_found,
    redirect,
    render,
    require,
)
from app.routes.keys import CreateKey
from app.services import keys, usage
from app.services.accounts import SignedIn
from app.services.permissions import PERMISSIONS

READ = api_permission("GET", "/api/keys")
WRITE = api_permission("POST", "/api/keys")
REVOKE = api_permission("DELETE", "/api/keys/{keyId}")
LIST_LIMIT = 200


def _resources() -> dict[str, tuple[str, ...]]:
    """`{"products": ("read", "write"), "chat": ("write",), ...}`, in the catalogue's order."""
    levels: dict[str, tuple[str, ...]] = {}
    for name in PERMISSIONS:
        resource, level = name.split(":")
        levels[resource] = (*levels.get(resource, ()), level)
    return levels


RESOURCES = _resources()

PRESETS: dict[str, tuple[str, frozenset[str]]] = {
    "full": ("Full access", frozenset(PERMISSIONS)),
    "catalog": (
        "Catalog sync (products and sync, read and write)",
        frozenset({"products:read", "products:write", "sync:read", "sync:write"}),
    ),
    "read": ("Read only", frozenset(name for name in PERMISSIONS if name.endswith(":read"))),
    "analytics": ("Analytics export", frozenset({"analytics:read"})),
}


EMPTY_FORM: dict[str, Any] = {
    "name": "",
    "kind": "secret",
    "preset": "custom",
    "levels": {},
    "expires": "",
}


def permissions_from(levels: dict[str, str]) -> list[str]:
    """`{"products": "write", "sync": "read"}` → the permissions; write includes read."""
    chosen = []
    for resource, level in levels.items():
        available = RESOURCES.get(resource, ())
        if level == "write":
            chosen += [f"{resource}:{name}" for name in available]
        elif level == "read" and "read" in available:
            chosen.append(f"{resource}:read")
    return chosen


def _status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


async def _page(
    request: Request, user: SignedIn, *, form_values: dict[str, Any], problems: dict[str, str]
) -> Response:
    platform = platform_of(request)
    await platform.usage.flush(platform.sessions)  # this process's latest counts
    now = datetime.now(UTC)
    async with platform.sessions() as session:
        rows = await keys.list_keys(session, user.merchant_id, limit=LIST_LIMIT, after=None)
        counts = await usage.requests_by_key(
            session, user.merchant_id, since=now - timedelta(hours=24)
        )
    listed = [
        {"key": row, "status": _status(row, now), "requests": counts.get(row.id, 0)}
        for row in sorted(rows, key=lambda row: (row.revoked_at is not None, row.id))
    ]
    return render(
        request,
        "keys.html",
        {
            "keys": listed,
            "all_permissions": len(PERMISSIONS),
            "resources": RESOURCES,
            "presets": PRESETS,
            "descriptions": PERMISSIONS,
            "values": form_values,
            "problems": problems,
        },
        status=422 if problems else 200,
        active="/portal/keys",
    )


async def keys_page(request: Request) -> Response:
    user = await require(request, READ)
    return await _page(request, user, form_values=dict(EMPTY_FORM), problems={})


def _levels(data: FormData) -> dict[str, str]:
    return {resource: field(data, f"level-{resource}") or "none" for resource in RESOURCES}


async def create_key(request: Request) -> Response:
    user = await require(request, WRITE)
    data = await form(request, max_files=0, max_fields=40)
    preset, levels = field(data, "preset") or "custom", _levels(data)
    kind = field(data, "kind") or "secret"
    if kind == "publishable":
        permissions: list[str] = []
    elif preset in PRESETS:
        permissions = sorted(PRESETS[preset][1])
    else:
        permissions = permissions_from(levels)
    values = {"name": field(data, "name"), "kind": kind, "preset": preset, "levels": levels}
    values["expires"] = field(data, "expires")
    problems: dict[str, str] = {}
    try:
        body = CreateKey.model_validate(
            {
                "name": values["name"],
                "kind": kind,
                "permissions": permissions,
                "expiresAt": f"{values['expires']}T00:00:00Z" if values["expires"] else None,
            }
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            where = str(error["loc"][0]) if error["loc"] else "name"
            problems[{"expiresAt": "expires"}.get(where, where)] = str(error["msg"]).removeprefix(
                "Value error, "
            )
    else:
        if kind == "secret" and not body.permissions:
            problems["permissions"] = "Choose at least one permission, or a preset."
        beyond = sorted(set(body.permissions) - user.permissions)
        if beyond:
            problems["permissions"] = f"Your role cannot grant {', '.join(beyond)}."
    if problems:
        return await _page(request, user, form_values=values, problems=problems)
    async with platform_of(request).sessions() as session:
        minted = await keys.mint_key(
            session,
            merchant_id=user.merchant_id,
            kind=body.kind,
            name=body.name,
            permissions=body.permissions,
            expires_at=body.expires_at,
        )
        await session.commit()
    return render(
        request,
        "key_created.html",
        {
            "key": minted.record,
            "secret": minted.plaintext,
            "api_base": platform_of(request).settings.public_base_url,
        },
        status=201,
        active="/portal/keys",
    )


async def _own_key(request: Request, user: SignedIn) -> ApiKey:
    async with platform_of(request).sessions() as session:
        key = await keys.get_key(session, user.merchant_id, request.path_params["keyId"])
    if key is None:
        raise_not_found("API key")
    return key


async def revoke_page(request: Request) -> Response:
    user = await require(request, REVOKE)
    key = await _own_key(request, user)
    return render(request, "key_revoke.html", {"key": key}, active="/portal/keys")


async def revoke_key(request: Request) -> Response:
    user = await require(request, REVOKE)
    await form(request, max_files=0, max_fields=5)
    platform = platform_of(request)
    async with platform.sessions() as session:
        key = await keys.get_key(session, user.merchant_id, request.path_params["keyId"])
        if key is None:
            raise_not_found("API key")
        await keys.revoke_key(session, key)
        await session.commit()
    platform.keys.forget(key.key_hash)
    return redirect("/portal/keys")


ROUTES = [
    Route("/keys", keys_page, methods=["GET"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{keyId}/revoke", revoke_page, methods=["GET"]),
    Route("/keys/{keyId}/revoke", revoke_key, methods=["POST"]),
]
