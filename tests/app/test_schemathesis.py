"""Schemathesis against the app's own OpenAPI document: every operation, called with a secret
key that carries every permission, never answers 5xx and always answers what the document
says (status code, content type, body schema, headers) — on each backend."""

import json
import re
import secrets
import string
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import update
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.models import ApiKey
from app.main import create_app
from app.services.keys import hash_key
from app.settings import load_settings
from tests.conftest import ADMIN_ORIGIN, Backend, MerchantKeys, make_settings, new_merchant

# Examples per operation (and phase): about 1 s per operation per backend, so the file stays
# under a minute per backend; lower it if the route table outgrows that. Deterministic: the
# same code finds the same failures on every run.
MAX_EXAMPLES = 50

# Schemathesis builds its requests (auth included) when the tests are collected, before any
# fixture runs, so the owner's full-permission secret key must be known by then: each
# backend's merchant gets this value for its default secret key (see `owner`).
SECRET = "sk_live_" + "".join(
    secrets.choice(string.ascii_letters + string.digits) for _ in range(43)
)


def _served_document() -> dict[str, Any]:
    """The document exactly as the app serves it (no lifespan needed: it touches no database)."""
    settings = load_settings(DATABASE_URL="sqlite:///unused.db", REDIS_URL="", LOG_LEVEL="WARNING")
    app = create_app(settings)
    response = TestClient(app).get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


class _BackendApp:
    """The ASGI app schemathesis calls; it forwards to the app of the backend under test.

    Schemathesis runs that app's lifespan on its own event loop, so the database engine lives
    on the loop that serves the requests.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no backend is under test"
        await self.app(scope, receive, send)


DOCUMENT = _served_document()
BACKEND_APP = _BackendApp()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.app = BACKEND_APP
# NUL characters are valid JSON but refused by design (PostgreSQL cannot store them), with a
# 400 the documents list; generating them would only test that refusal over and over.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, allow_x00=False)
# Some rules cannot be written in JSON Schema: an expiry must lie in the future, a permission
# must exist, an allowed domain must be a real hostname. A schema-valid request that breaks one
# of them is answered 422 validation_failed by design (DESIGN §4), so "schema-valid data must be
# accepted" also accepts 422; the test still requires every 422 to name its fields.
_positive = schema.config.checks.positive_data_acceptance
_positive.expected_statuses = [*_positive.expected_statuses, "422"]


@schema.auth(refresh_interval=None)
class _SecretKey:
    """Every request carries the owner's secret key, which holds every permission."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return SECRET

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def owner(backend: Backend) -> Iterator[MerchantKeys]:
    settings = make_settings(backend)
    with TestClient(create_app(settings)) as setup:
        keys = new_merchant(setup)
        sessions = setup.app.state.platform.sessions  # type: ignore[attr-defined]

        async def rekey() -> None:
            async with sessions() as session:
                await session.execute(
                    update(ApiKey)
                    .where(ApiKey.key_hash == hash_key(keys.secret))
                    .values(key_hash=hash_key(SECRET))
                )
                await session.commit()

        setup.portal.call(rekey)  # type: ignore[union-attr]
    BACKEND_APP.app = create_app(settings)
    try:
        yield MerchantKeys(keys.id, SECRET, keys.publishable)
    finally:
        # Stop this backend's app (engine, Redis) before the next backend's app takes over.
        shutdown_lifespans()
        BACKEND_APP.app = None


def _documented_codes(case: schemathesis.Case, status: int) -> set[str] | None:
    """The error codes the document names for this status of this operation."""
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    documented = operation["responses"].get(str(status))
    if documented is None:
        return None
    return set(re.findall(r"`([a-z_]+)`", documented["description"]))


def _assert_envelope(case: schemathesis.Case, response: Any) -> None:
    request_id = response.headers.get("x-request-id")
    assert request_id, "no X-Request-Id"
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return
    body = json.loads(response.content)
    assert body["requestId"] == request_id[0]
    assert body["success"] is (response.status_code < 400)
    if response.status_code < 400:
        return
    code = body["error"]["code"]
    documented = _documented_codes(case, response.status_code)
    if documented is not None:
        assert code in documented, f"{code} is not documented for {response.status_code}"
    if code == "validation_failed":
        assert body["error"]["details"]
        assert all(detail.get("field") for detail in body["error"]["details"])


@schema.parametrize()
def test_operation_answers_as_its_document_says(
    case: schemathesis.Case, owner: MerchantKeys
) -> None:
    if case.path_parameters and "merchantId" in case.path_parameters:
        # A generated merchant id is never the key's own, and the app answers 404 before it
        # looks at the body; the key's own merchant lets the body and handler be exercised.
        case.path_parameters["merchantId"] = owner.id
    response = case.call_and_validate()
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    if operation["security"]:
        _assert_key_handling(case, response)
    _assert_envelope(case, response)


def _assert_key_handling(case: schemathesis.Case, response: Any) -> None:
    """Schema-valid requests carry the key (so the operation is exercised beyond its 401); the
    key is valid and holds every permission, so it is never turned away; requests schemathesis
    strips the key from on purpose get 401. A foreign `Origin` is refused before the key is
    looked at (DESIGN §6), whatever the key."""
    sent = response.request.headers.get("Authorization")
    if case.meta is not None and case.meta.generation.mode.is_positive:
        assert sent == f"Bearer {SECRET}"
    origin = response.request.headers.get("Origin")
    if response.status_code == 403 and origin is not None and origin != ADMIN_ORIGIN:
        assert json.loads(response.content)["error"]["code"] == "origin_not_allowed"
    elif sent == f"Bearer {SECRET}":
        assert response.status_code not in (401, 403), response.content
    else:
        assert response.status_code in (401, 405), response.content


def test_schemathesis_covers_every_operation_of_the_document() -> None:
    documented = {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    tested = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert tested == documented
