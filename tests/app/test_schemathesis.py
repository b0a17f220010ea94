"""Schemathesis against the app's own OpenAPI document: every operation, called with a secret
key that carries every permission, and every widget operation called with a publishable key,
never answers 5xx and always answers what the document says (status code, content type, body
schema, headers) — on each backend. The public inbound webhook route is fuzzed with its signed
headers, and the upload route with multipart and raw files."""

import base64
import gzip
import json
import re
import secrets
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.python.asgi import shutdown_lifespans
from sqlalchemy import update
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.models import ApiKey
from app.main import create_app
from app.services.keys import hash_key
from app.settings import load_settings
from tests.conftest import ADMIN_ORIGIN, Backend, MerchantKeys, make_settings, new_merchant

# Random examples per operation in the fuzzing phase, on top of the coverage phase's
# deterministic boundary and negative cases for every parameter (which do not depend on it):
# 15 keeps the file under a minute per backend (30 took 136 s for both; 15, 92 s); lower it if
# the route table outgrows that. Deterministic: the same code finds the same failures on every
# run.
MAX_EXAMPLES = 15


# Schemathesis builds its requests (auth included) when the tests are collected, before any
# fixture runs, so the owner's full-permission secret key must be known by then: each
# backend's merchant gets this value for its default secret key (see `owner`).
def _key(prefix: str) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


SECRET = _key("sk_live_")
PUBLISHABLE = _key("pk_live_")
# The inbound webhook route verifies signatures only once a secret is configured: with one, the
# fuzzer's headers reach the timestamp and signature parsing.
WEBHOOK_SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()

# Files as merchants upload them, and as they should not: random bytes, text, gzip.
_CSV = st.lists(st.text(string.printable, max_size=12), max_size=20).map(
    lambda cells: ("id,title,price\n" + ",".join(cells)).encode()
)
_FILES = st.one_of(st.binary(max_size=300), _CSV, st.text(max_size=200).map(str.encode))
for media_type in ("text/csv", "text/tab-separated-values", "application/x-ndjson"):
    schemathesis.openapi.media_type(media_type, _FILES)
schemathesis.openapi.media_type("application/gzip", _FILES.map(gzip.compress))


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
WIDGET_OPERATIONS = [
    operation["operationId"]
    for item in DOCUMENT["paths"].values()
    for operation in item.values()
    if isinstance(operation, dict) and {"publishableKey": []} in operation.get("security", [])
]


def _schema(key: str, **include: Any) -> Any:
    """The document as schemathesis tests it, every request carrying `key`."""
    tested = schemathesis.openapi.from_dict(DOCUMENT)
    if include:
        tested = tested.include(**include)
    tested.app = BACKEND_APP
    # NUL characters are valid JSON but refused by design (PostgreSQL cannot store them), with
    # a 400 the documents list; generating them would only test that refusal over and over.
    tested.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, allow_x00=False)
    # Some rules cannot be written in JSON Schema: an expiry must lie in the future, a
    # permission must exist, an allowed domain must be a real hostname. A schema-valid request
    # that breaks one of them is answered 422 validation_failed by design (DESIGN §4), so
    # "schema-valid data must be accepted" also accepts 422; the test still requires every 422
    # to name its fields.
    positive = tested.config.checks.positive_data_acceptance
    positive.expected_statuses = [*positive.expected_statuses, "422"]

    @tested.auth(refresh_interval=None)
    class _Key:
        def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
            return key

        def set(
            self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext
        ) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return tested


# The owner's secret key holds every permission; the publishable key reaches widget routes.
schema = _schema(SECRET)
widget_schema = _schema(PUBLISHABLE, operation_id=WIDGET_OPERATIONS)


@dataclass(frozen=True)
class Owner:
    keys: MerchantKeys
    chat_session_id: str


@pytest.fixture(scope="module")
def owner(backend: Backend) -> Iterator[Owner]:
    settings = make_settings(backend)
    with TestClient(create_app(settings)) as setup:
        keys = new_merchant(setup)
        sessions = setup.app.state.platform.sessions  # type: ignore[attr-defined]

        async def rekey() -> None:
            async with sessions() as session:
                for given, known in ((keys.secret, SECRET), (keys.publishable, PUBLISHABLE)):
                    await session.execute(
                        update(ApiKey)
                        .where(ApiKey.key_hash == hash_key(given))
                        .values(key_hash=hash_key(known))
                    )
                await session.commit()

        setup.portal.call(rekey)  # type: ignore[union-attr]
        configured = setup.put(
            f"/api/merchants/{keys.id}/sync/config",
            headers={"Authorization": f"Bearer {SECRET}"},
            json={"source": {"type": "upload"}, "webhookSecret": WEBHOOK_SECRET},
        )
        assert configured.status_code == 200, configured.text
        chat = setup.post(
            "/api/chat/sessions", headers={"Authorization": f"Bearer {PUBLISHABLE}"}, json={}
        )
        assert chat.status_code == 201, chat.text
    BACKEND_APP.app = create_app(settings)
    try:
        yield Owner(MerchantKeys(keys.id, SECRET, PUBLISHABLE), chat.json()["data"]["id"])
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


def _call(case: schemathesis.Case, owner: Owner, key: str) -> None:
    # Generated ids are never the key's own merchant or an existing chat session, and the app
    # answers 404 before it looks at the body; real ones let the body and handler be exercised.
    if case.path_parameters and "merchantId" in case.path_parameters:
        case.path_parameters["merchantId"] = owner.keys.id
    if case.path_parameters and "sessionId" in case.path_parameters:
        case.path_parameters["sessionId"] = owner.chat_session_id
    response = case.call_and_validate()
    operation = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]
    if operation["security"]:
        _assert_key_handling(case, response, key)
    _assert_envelope(case, response)


@schema.parametrize()
def test_operation_answers_as_its_document_says(case: schemathesis.Case, owner: Owner) -> None:
    _call(case, owner, SECRET)


@widget_schema.parametrize()
def test_widget_operation_answers_a_publishable_key_as_its_document_says(
    case: schemathesis.Case, owner: Owner
) -> None:
    _call(case, owner, PUBLISHABLE)


def _assert_key_handling(case: schemathesis.Case, response: Any, key: str) -> None:
    """Schema-valid requests carry the key (so the operation is exercised beyond its 401); the
    key is valid and holds every permission its kind can hold, so it is never turned away;
    requests schemathesis strips the key from on purpose get 401. A foreign `Origin` is
    refused before the key is looked at (DESIGN §6), whatever the key."""
    sent = response.request.headers.get("Authorization")
    if case.meta is not None and case.meta.generation.mode.is_positive:
        assert sent == f"Bearer {key}"
    origin = response.request.headers.get("Origin")
    if response.status_code == 403 and origin is not None and origin != ADMIN_ORIGIN:
        assert json.loads(response.content)["error"]["code"] == "origin_not_allowed"
    elif sent == f"Bearer {key}":
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
    widget = {op.ok().label for op in widget_schema.get_all_operations()}
    assert len(widget) == len(WIDGET_OPERATIONS) >= 5
    upload = DOCUMENT["paths"]["/api/merchants/{merchantId}/products/upload"]["post"]
    assert {"multipart/form-data", "text/csv", "application/json"} <= set(
        upload["requestBody"]["content"]
    )
    inbound = DOCUMENT["paths"]["/api/merchants/{merchantId}/sync/webhook"]["post"]
    assert {"webhook-timestamp", "webhook-signature"} <= {p["name"] for p in inbound["parameters"]}
