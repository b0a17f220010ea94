"""Bad request bodies get the right 4xx in the error envelope, never a 500, and change nothing
(DESIGN §4: bad_request 400, payload_too_large 413, unsupported_media_type 415,
validation_failed 422 naming each field)."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from tests.conftest import Backend, MerchantKeys, assert_envelope, make_settings, new_merchant

KEYS = "POST /api/keys"
DOMAINS = "PUT /api/merchants/{id}/domains"
TARGETS = [KEYS, DOMAINS]
# A valid body for each target, to prove each rejection is about the one thing that is wrong.
VALID = {KEYS: {"name": "ci"}, DOMAINS: {"allowedDomains": ["new.example.com"]}}
JSON = {"Content-Type": "application/json"}
SMALL_LIMIT = 2048


@dataclass(frozen=True)
class Bad:
    """One malformed request: what is sent, and the error the app must answer with."""

    name: str
    content: bytes | dict[str, Any] | list[Any] | None
    status: int
    code: str
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    fields: tuple[str, ...] = ()  # for 422: fields the details must name


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _send(
    client: TestClient,
    merchant: MerchantKeys,
    target: str,
    content: bytes | dict[str, Any] | list[Any] | None,
    headers: dict[str, str],
    **kwargs: Any,
) -> Any:
    if target == KEYS:
        method, url = "POST", "/api/keys"
    else:
        method, url = "PUT", f"/api/merchants/{merchant.id}/domains"
    if isinstance(content, dict | list):
        content = json.dumps(content).encode()
    return client.request(
        method, url, content=content, headers={**merchant.auth, **headers}, **kwargs
    )


def _state(client: TestClient, merchant: MerchantKeys) -> tuple[list[str], list[str]]:
    """Everything these two routes can change: the merchant's keys and its domains."""
    keys = client.get("/api/keys", params={"limit": 100}, headers=merchant.auth)
    domains = client.get(f"/api/merchants/{merchant.id}/domains", headers=merchant.auth)
    assert keys.status_code == 200 and domains.status_code == 200
    return (
        sorted(key["id"] for key in keys.json()["data"]["items"]),
        domains.json()["data"]["allowedDomains"],
    )


def _assert_rejected(response: Any, status: int, code: str, fields: tuple[str, ...] = ()) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == code
    assert body["requestId"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    if code == "validation_failed":
        details = body["error"]["details"]
        assert details and all(detail["field"] and detail["in"] == "body" for detail in details)
        named = {detail["field"] for detail in details}
        assert set(fields) <= named, named


COMMON = [
    # Unparseable: 400 bad_request.
    Bad("malformed-json", b'{"name": "x",', 400, "bad_request"),
    Bad("empty-body", b"", 400, "bad_request"),
    Bad("whitespace-only", b"  \n ", 400, "bad_request"),
    Bad("trailing-garbage", b'{"name": "x"} {"name": "y"}', 400, "bad_request"),
    Bad("single-quotes", b"{'name': 'x'}", 400, "bad_request"),
    Bad("nan-literal", b'{"name": NaN}', 400, "bad_request"),
    Bad("infinity-literal", b'{"name": Infinity}', 400, "bad_request"),
    Bad("minus-infinity-literal", b'{"allowedDomains": [-Infinity]}', 400, "bad_request"),
    Bad("invalid-utf8", b'{"name": "\xff\xfe"}', 400, "bad_request"),
    Bad("truncated-utf8", b'{"allowedDomains": ["caf\xc3"]}', 400, "bad_request"),
    Bad("latin1-declared-as-json", '{"name": "café"}'.encode("latin-1"), 400, "bad_request"),
    Bad("huge-integer-literal", b'{"name": 1' + b"0" * 5000 + b"}", 400, "bad_request"),
    # Wrong or missing Content-Type: 415, whatever the body.
    Bad(
        "text-plain",
        b'{"name": "x"}',
        415,
        "unsupported_media_type",
        {"Content-Type": "text/plain"},
    ),
    Bad("no-content-type", b'{"name": "x"}', 415, "unsupported_media_type", {}),
    Bad(
        "form-urlencoded",
        b"name=x",
        415,
        "unsupported_media_type",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Bad(
        "xml", b"<name>x</name>", 415, "unsupported_media_type", {"Content-Type": "application/xml"}
    ),
    Bad(
        "jsonp-lookalike",
        b'{"name": "x"}',
        415,
        "unsupported_media_type",
        {"Content-Type": "application/jsonx"},
    ),
    # Parseable JSON that is not the expected shape: 422 naming the field.
    Bad("top-level-array", [{"name": "x"}], 422, "validation_failed", fields=("body",)),
    Bad("top-level-string", b'"x"', 422, "validation_failed", fields=("body",)),
    Bad("top-level-null", b"null", 422, "validation_failed", fields=("body",)),
    Bad("empty-object", {}, 422, "validation_failed"),
    # Deeply nested junk that still parses: a wrong type for the field it sits in.
    Bad(
        "nested-junk-in-field",
        b'{"name": ' + _nested(200) + b"}",
        422,
        "validation_failed",
        fields=("name",),
    ),
]

PER_TARGET: dict[str, list[Bad]] = {
    KEYS: [
        Bad(
            "unknown-field",
            {"name": "x", "admin": True},
            422,
            "validation_failed",
            fields=("admin",),
        ),
        Bad(
            "string-for-list",
            {"name": "x", "permissions": "keys:read"},
            422,
            "validation_failed",
            fields=("permissions",),
        ),
        Bad(
            "object-for-list",
            {"name": "x", "permissions": {"keys:read": True}},
            422,
            "validation_failed",
            fields=("permissions",),
        ),
        Bad("number-for-string", {"name": 123}, 422, "validation_failed", fields=("name",)),
        Bad("bool-for-string", {"name": True}, 422, "validation_failed", fields=("name",)),
        Bad("null-for-string", {"name": None}, 422, "validation_failed", fields=("name",)),
        Bad(
            "number-in-list",
            {"name": "x", "permissions": [1]},
            422,
            "validation_failed",
            fields=("permissions.0",),
        ),
        Bad("empty-string", {"name": ""}, 422, "validation_failed", fields=("name",)),
        Bad("too-long-string", {"name": "x" * 201}, 422, "validation_failed", fields=("name",)),
        Bad(
            "unknown-enum-value",
            {"name": "x", "kind": "root"},
            422,
            "validation_failed",
            fields=("kind",),
        ),
        Bad(
            "unknown-permission",
            {"name": "x", "permissions": ["root:all"]},
            422,
            "validation_failed",
            fields=("permissions",),
        ),
        Bad(
            "date-for-datetime",
            {"name": "x", "expiresAt": "tomorrow"},
            422,
            "validation_failed",
            fields=("expiresAt",),
        ),
        Bad(
            "naive-datetime",
            {"name": "x", "expiresAt": "2099-01-01T00:00:00"},
            422,
            "validation_failed",
            fields=("expiresAt",),
        ),
        Bad("lone-surrogate", b'{"name": "\\ud800x"}', 400, "bad_request"),
        Bad(
            "several-errors-at-once",
            {"name": 1, "kind": 2, "extra": 3},
            422,
            "validation_failed",
            fields=("name", "kind", "extra"),
        ),
    ],
    DOMAINS: [
        Bad(
            "unknown-field",
            {"allowedDomains": [], "wildcard": True},
            422,
            "validation_failed",
            fields=("wildcard",),
        ),
        Bad(
            "string-for-list",
            {"allowedDomains": "shop.example.com"},
            422,
            "validation_failed",
            fields=("allowedDomains",),
        ),
        Bad(
            "object-for-list",
            {"allowedDomains": {"shop.example.com": True}},
            422,
            "validation_failed",
            fields=("allowedDomains",),
        ),
        Bad(
            "number-in-list",
            {"allowedDomains": [123]},
            422,
            "validation_failed",
            fields=("allowedDomains.0",),
        ),
        Bad(
            "null-in-list",
            {"allowedDomains": ["ok.example.com", None]},
            422,
            "validation_failed",
            fields=("allowedDomains.1",),
        ),
        Bad(
            "null-for-list",
            {"allowedDomains": None},
            422,
            "validation_failed",
            fields=("allowedDomains",),
        ),
        Bad(
            "list-in-list",
            {"allowedDomains": [["shop.example.com"]]},
            422,
            "validation_failed",
            fields=("allowedDomains.0",),
        ),
        Bad(
            "too-many-entries",
            {"allowedDomains": [f"s{i}.example.com" for i in range(101)]},
            422,
            "validation_failed",
            fields=("allowedDomains",),
        ),
        Bad(
            "url-not-hostname",
            {"allowedDomains": ["https://shop.example.com/"]},
            422,
            "validation_failed",
            fields=("allowedDomains.0",),
        ),
        Bad(
            "one-bad-among-good",
            {"allowedDomains": ["a.example.com", "bad host", "b.example.com"]},
            422,
            "validation_failed",
            fields=("allowedDomains.1",),
        ),
        Bad(
            "nul-in-hostname",
            b'{"allowedDomains": ["a\\u0000b.example.com"]}',
            400,
            "bad_request",
        ),
    ],
}

CASES = [
    pytest.param(target, bad, id=f"{'keys' if target == KEYS else 'domains'}-{bad.name}")
    for target in TARGETS
    for bad in [*COMMON, *PER_TARGET[target]]
]

# Edge cases that once crashed with a 500 or were silently accepted.
EDGE_CASES = [
    pytest.param(
        KEYS,
        Bad(
            "snake-case-field",
            {"name": "x", "expires_at": "2099-01-01T00:00:00Z"},
            422,
            "validation_failed",
            fields=("expires_at",),
        ),
        id="keys-snake-case-field",
    ),
    pytest.param(
        DOMAINS,
        Bad(
            "snake-case-field",
            {"allowed_domains": ["shop.example.com"]},
            422,
            "validation_failed",
            fields=("allowed_domains", "allowedDomains"),
        ),
        id="domains-snake-case-field",
    ),
    pytest.param(
        KEYS,
        Bad("nesting-deeper-than-the-parser", _nested(100_000), 400, "bad_request"),
        id="keys-nesting-deeper-than-the-parser",
    ),
    pytest.param(
        DOMAINS,
        Bad(
            "nesting-deeper-than-the-parser",
            b'{"allowedDomains": ' + _nested(100_000) + b"}",
            400,
            "bad_request",
        ),
        id="domains-nesting-deeper-than-the-parser",
    ),
    pytest.param(
        KEYS,
        Bad("nul-in-string", b'{"name": "a\\u0000b"}', 400, "bad_request"),
        id="keys-nul-in-string",
    ),
    pytest.param(
        DOMAINS,
        Bad("lone-surrogate", b'{"allowedDomains": ["\\udc00.example.com"]}', 400, "bad_request"),
        id="domains-lone-surrogate",
    ),
    pytest.param(
        KEYS,
        Bad(
            "expiry-beyond-year-9999",
            {"name": "x", "expiresAt": "9999-12-31T23:59:59-14:00"},
            422,
            "validation_failed",
            fields=("expiresAt",),
        ),
        id="keys-expiry-beyond-year-9999",
    ),
]


@pytest.mark.parametrize(("target", "bad"), [*CASES, *EDGE_CASES])
def test_bad_body_is_rejected_in_the_envelope_and_changes_nothing(
    client: TestClient, target: str, bad: Bad
) -> None:
    merchant = new_merchant(client, domains=["before.example.com"])
    before = _state(client, merchant)
    response = _send(client, merchant, target, bad.content, bad.headers)
    _assert_rejected(response, bad.status, bad.code, bad.fields)
    assert _state(client, merchant) == before


@pytest.mark.parametrize("target", TARGETS)
def test_valid_body_is_accepted_so_the_rejections_above_are_about_the_flaw(
    client: TestClient, target: str
) -> None:
    merchant = new_merchant(client, domains=["before.example.com"])
    for headers in (JSON, {"Content-Type": "application/json; charset=utf-8"}):
        response = _send(client, merchant, target, VALID[target], headers)
        assert response.status_code in (200, 201), response.text
        assert response.json()["success"] is True


@pytest.mark.parametrize("target", TARGETS)
def test_multipart_body_is_415_and_changes_nothing(client: TestClient, target: str) -> None:
    merchant = new_merchant(client, domains=["before.example.com"])
    before = _state(client, merchant)
    payload = json.dumps(VALID[target]).encode()
    response = _send(
        client,
        merchant,
        target,
        None,
        {},
        files={"file": ("body.json", payload, "application/json")},
    )
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    _assert_rejected(response, 415, "unsupported_media_type")
    assert _state(client, merchant) == before


def test_nul_in_the_list_cursor_is_422_naming_the_parameter(client: TestClient) -> None:
    merchant = new_merchant(client)
    response = client.get("/api/keys", params={"cursor": "key_\x00"}, headers=merchant.auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == "validation_failed"
    assert [(d["field"], d["in"]) for d in body["error"]["details"]] == [("cursor", "query")]


@pytest.fixture
def small_client(backend: Backend) -> Iterator[TestClient]:
    """The app with MAX_JSON_BODY_BYTES lowered, so the limit is cheap to reach."""
    settings = make_settings(backend, MAX_JSON_BODY_BYTES=str(SMALL_LIMIT))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _padded(target: str, size: int) -> bytes:
    """A valid body of exactly `size` bytes (JSON allows trailing whitespace)."""
    body = json.dumps(VALID[target]).encode()
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("target", TARGETS)
def test_body_at_the_limit_is_accepted(small_client: TestClient, target: str) -> None:
    merchant = new_merchant(small_client)
    response = _send(small_client, merchant, target, _padded(target, SMALL_LIMIT), JSON)
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize("target", TARGETS)
def test_body_over_the_limit_with_content_length_is_413(
    small_client: TestClient, target: str
) -> None:
    merchant = new_merchant(small_client, domains=["before.example.com"])
    before = _state(small_client, merchant)
    body = _padded(target, SMALL_LIMIT + 1)
    response = _send(small_client, merchant, target, body, JSON)
    assert response.request.headers["content-length"] == str(SMALL_LIMIT + 1)
    _assert_rejected(response, 413, "payload_too_large")
    assert _state(small_client, merchant) == before


@pytest.mark.parametrize("target", TARGETS)
def test_body_over_the_limit_without_content_length_is_413(
    small_client: TestClient, target: str
) -> None:
    # Chunked upload: the size is only known while reading, and reading must stop at the limit.
    merchant = new_merchant(small_client, domains=["before.example.com"])
    before = _state(small_client, merchant)
    body = _padded(target, 50 * SMALL_LIMIT)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 512):
            yield body[start : start + 512]

    response = _send(small_client, merchant, target, chunks(), JSON)  # type: ignore[arg-type]
    assert "content-length" not in response.request.headers
    _assert_rejected(response, 413, "payload_too_large")
    assert _state(small_client, merchant) == before


@pytest.mark.parametrize("target", TARGETS)
def test_oversized_body_with_wrong_content_type_is_still_refused(
    small_client: TestClient, target: str
) -> None:
    merchant = new_merchant(small_client, domains=["before.example.com"])
    before = _state(small_client, merchant)
    response = _send(
        small_client, merchant, target, b"x" * (4 * SMALL_LIMIT), {"Content-Type": "text/plain"}
    )
    assert response.status_code in (413, 415), response.text
    assert response.json()["error"]["code"] in ("payload_too_large", "unsupported_media_type")
    assert _state(small_client, merchant) == before
