"""Portal actions through the API's own endpoints: the same permission, validation and handler.

A page does not re-implement what an API route does: `call_api` finds the route (method and
path template, as `/api/...` declares them), refuses a role without the route's permission,
honours its feature flag, validates the form's values with the route's own query and body
models, and runs its handler for the signed-in user's merchant. Bad input comes back as
`Invalid`, field by field (in the API's camelCase names), for the page to show next to each
field; an `ApiError` from the handler is the API's answer, written for people.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from app.http.errors import ApiError, ErrorCode
from app.http.routing import Call, Endpoint
from app.portal.web import PortalError, platform_of
from app.services.accounts import SignedIn
from app.services.keys import Principal

__all__ = ["Invalid", "call_api", "endpoint"]


class Invalid(Exception):
    """The route's models refused the input: field (dotted, camelCase) → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def endpoint(method: str, path: str) -> Endpoint:
    from app.routes import ROUTES

    for candidate in ROUTES:
        if candidate.method == method and candidate.path == path:
            return candidate
    raise AssertionError(f"no API route {method} {path}")


def _validated(model: type[BaseModel] | None, values: Mapping[str, Any] | None) -> Any:
    if model is None:
        return None
    try:
        return model.model_validate(dict(values or {}))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
            message = error["msg"].removeprefix("Value error, ")
            errors.setdefault(name or "form", message)
        raise Invalid(errors) from None


async def call_api(
    request: Request,
    user: SignedIn,
    method: str,
    path: str,
    *,
    path_params: Mapping[str, str] | None = None,
    query: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    raw_request: Request | None = None,
) -> Any:
    """Run the API route `method path` for `user`; its result model, or Invalid / ApiError.

    `raw_request`: for handlers that read the request body themselves (uploads)."""
    route = endpoint(method, path)
    if route.permission is not None and not user.can(route.permission):
        raise PortalError(
            403,
            "Not allowed",
            f"Your role ({user.role}) does not include '{route.permission}'. "
            "Ask an owner of this account if you need it.",
        )
    platform = platform_of(request)
    if route.flag is not None and not getattr(await platform.flags.current(), route.flag):
        raise ApiError(
            ErrorCode.FEATURE_DISABLED,
            f"This feature is temporarily disabled by an operator ({route.flag}).",
        )
    call = Call(
        request=raw_request or request,
        platform=platform,
        # The portal acts as the user's role would as a key: never more than the role holds.
        principal=Principal(
            key_id=f"portal:{user.user_id}",
            key_hash="",
            merchant_id=user.merchant_id,
            kind="secret",
            permissions=user.permissions,
            expires_at=None,
            revoked=False,
        ),
        path={"merchantId": user.merchant_id, **(path_params or {})},
        query=_validated(route.query, query),
        body=_validated(route.body, body),
    )
    return await route.handler(call)
