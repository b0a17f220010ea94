"""API keys and the permission catalogue (DESIGN §5)."""

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from app.db.models import ApiKey
from app.http.envelope import PreparedJson
from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel, Page, PageQuery, split_page
from app.http.routing import Call, Endpoint
from app.services import keys
from app.services.permissions import PERMISSIONS, unknown_permissions


class PermissionOut(ApiModel):
    name: str
    description: str


class PermissionList(ApiModel):
    items: list[PermissionOut]


class KeyOut(ApiModel):
    id: str
    name: str
    kind: Literal["secret", "publishable"]
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    permissions: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "KeyOut":
        return cls.model_validate(key, from_attributes=True)


class KeyPage(Page[KeyOut]):
    pass


class CreatedKey(KeyOut):
    secret: str = Field(description="The full key. Shown only in this response; store it now.")


class CreateKey(ApiInput):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["secret", "publishable"] = "secret"
    permissions: list[str] = Field(
        default_factory=list, max_length=len(PERMISSIONS), description="Secret keys only."
    )
    expires_at: datetime | None = Field(None, description="ISO 8601 with a timezone.")

    @field_validator("permissions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = unknown_permissions(value)
        if unknown:
            raise ValueError(f"unknown permissions {unknown}; see GET /api/permissions")
        return sorted(set(value))

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("give a timezone, e.g. 2027-01-01T00:00:00Z")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range: give a date before the year 9999") from None
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


_ALL_PERMISSIONS = PreparedJson(
    PermissionList(
        items=[PermissionOut(name=name, description=text) for name, text in PERMISSIONS.items()]
    )
    .model_dump_json(by_alias=True)
    .encode()
)


async def list_permissions_handler(call: Call) -> PreparedJson:
    return _ALL_PERMISSIONS


async def list_keys_handler(call: Call) -> KeyPage:
    query: PageQuery = call.query
    async with call.platform.sessions() as session:
        rows = await keys.list_keys(
            session, call.merchant_id, limit=query.limit + 1, after=query.cursor
        )
    page, next_cursor = split_page(rows, query.limit)
    return KeyPage(items=[KeyOut.of(row) for row in page], next_cursor=next_cursor)


async def create_key_handler(call: Call) -> CreatedKey:
    body: CreateKey = call.body
    assert call.principal is not None
    if body.kind == "publishable" and body.permissions:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "Publishable keys always carry exactly chat:write; omit permissions.",
            details=[{"field": "permissions", "in": "body", "message": "must be empty"}],
        )
    # A key cannot mint a key stronger than itself.
    beyond = sorted(set(body.permissions) - call.principal.permissions)
    if beyond:
        raise ApiError(
            ErrorCode.FORBIDDEN,
            f"This key cannot grant permissions it does not have: {', '.join(beyond)}.",
            details=[{"permission": name} for name in beyond],
        )
    async with call.platform.sessions() as session:
        minted = await keys.create_key(
            session,
            merchant_id=call.merchant_id,
            kind=body.kind,
            name=body.name,
            permissions=body.permissions,
            expires_at=body.expires_at,
        )
    return CreatedKey(**KeyOut.of(minted.record).model_dump(), secret=minted.plaintext)


async def revoke_key_handler(call: Call) -> KeyOut:
    async with call.platform.sessions() as session:
        key = await keys.get_key(session, call.merchant_id, call.path["keyId"])
        if key is None:
            raise ApiError(ErrorCode.NOT_FOUND, "No such API key.")
        await keys.revoke_key(session, key)
    call.platform.keys.forget(key.key_hash)
    return KeyOut.of(key)


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/permissions",
        handler=list_permissions_handler,
        summary="List the permissions a key can carry",
        tag="keys",
        response=PermissionList,
    ),
    Endpoint(
        method="GET",
        path="/api/keys",
        handler=list_keys_handler,
        summary="List API keys (never their secrets)",
        tag="keys",
        permission="keys:read",
        query=PageQuery,
        response=KeyPage,
    ),
    Endpoint(
        method="POST",
        path="/api/keys",
        handler=create_key_handler,
        summary="Create an API key; the secret is shown once",
        tag="keys",
        permission="keys:write",
        body=CreateKey,
        response=CreatedKey,
        status=201,
    ),
    Endpoint(
        method="DELETE",
        path="/api/keys/{keyId}",
        handler=revoke_key_handler,
        summary="Revoke an API key",
        tag="keys",
        permission="keys:write",
        response=KeyOut,
    ),
]
