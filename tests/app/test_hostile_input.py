"""Inputs that used to answer 500 (and page on-call) now answer 4xx in the envelope naming the
field, or are ignored where they are not errors; cloud metadata targets are refused when saved
even with ALLOW_PRIVATE_NETWORK_TARGETS on. Each backend."""

import base64
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from app.main import create_app
from tests.chat.conftest import start_session, widget_headers, with_catalog
from tests.conftest import Backend, MerchantKeys, assert_envelope, make_settings, new_merchant

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def client(backend: Backend) -> Iterator[TestClient]:
    # The flag tests and on-prem installs set: metadata must be refused even so.
    settings = make_settings(backend, ALLOW_PRIVATE_NETWORK_TARGETS="1")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _post_raw(
    client: TestClient, url: str, headers: dict[str, bytes], body: bytes
) -> httpx.Response:
    """POST with header bytes exactly as given (the test client re-encodes non-ASCII ones)."""

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            return await raw.post(url, headers=headers, content=body)

    return client.portal.call(post)  # type: ignore[union-attr]


def _rejected(response: object, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert_envelope(body, success=False)
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    if field is not None:
        assert field in {detail.get("field") for detail in body["error"]["details"]}, body
    return body


@pytest.mark.parametrize(
    "params",
    [
        # Year 1 with a positive offset and year 9999 with a negative one are not in UTC's range.
        {"from": "0001-01-01T00:00:00+01:00", "to": "0001-01-05T00:00:00Z"},
        {"from": "2026-01-01T00:00:00Z", "to": "9999-12-31T23:59:59-01:00"},
        {"from": "\u0662\u0660\u0662\u0666-01-01T00:00:00Z"},  # Arabic-Indic digits
        {"to": "2026-01-01T00:00:00Z" + "0" * 200},
    ],
)
def test_analytics_dates_out_of_range_are_422_naming_the_field(
    client: TestClient, params: dict[str, str]
) -> None:
    merchant = new_merchant(client)
    response = client.get("/api/analytics/summary", params=params, headers=merchant.auth)
    body = _rejected(response, 422)
    assert {detail["field"] for detail in body["error"]["details"]} <= {"from", "to"}


def test_analytics_windows_at_the_ends_of_the_calendar_are_answered(client: TestClient) -> None:
    merchant = new_merchant(client)
    # The default start (`to` minus 7 days) would fall before year 1: it stops there.
    early = client.get(
        "/api/analytics/summary", params={"to": "0001-01-02T00:00:00Z"}, headers=merchant.auth
    )
    assert early.status_code == 200, early.text
    assert early.json()["data"]["from"].startswith("0001-01-01T00:00:00")
    late = client.get(
        "/api/analytics/summary",
        params={"from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:59:59+00:00"},
        headers=merchant.auth,
    )
    assert late.status_code == 200, late.text


@pytest.mark.parametrize(
    "number",
    ["\u00b2", "\u0661\u0662", "9" * 5000, "-1", "1e3"],
    ids=["superscript-two", "arabic-indic", "5000-digits", "negative", "exponent"],
)
def test_a_search_cursor_with_anything_but_ascii_digits_is_422(
    client: TestClient, number: str
) -> None:
    merchant = new_merchant(client)
    response = client.get(
        f"/api/merchants/{merchant.id}/products",
        params={"q": "shoes", "cursor": f"offset:{number}"[:200]},
        headers=merchant.auth,
    )
    _rejected(response, 422, "cursor")


@pytest.mark.parametrize(
    "price",
    ["\u0661\u0662", "1e5", "NaN", "1_000", "9" * 5000],
    ids=["arabic-indic", "exponent", "nan", "underscore", "5000-digits"],
)
def test_a_price_filter_is_plain_ascii_digits(client: TestClient, price: str) -> None:
    merchant = new_merchant(client)
    response = client.get(
        f"/api/merchants/{merchant.id}/products", params={"minPrice": price}, headers=merchant.auth
    )
    _rejected(response, 422, "minPrice")


@pytest.mark.parametrize(
    "question",
    [
        pytest.param("a jacket around $1" + ",000" * 30, id="around-90-digits"),
        pytest.param("running shoes under $1" + ",000" * 30, id="under-90-digits"),
        pytest.param("jackets between 1 and " + "9" * 40 + " dollars", id="between-40-digits"),
        pytest.param("boots over 999" + ",999" * 20 + " euros", id="over-63-digits"),
        pytest.param("tents around \u0661\u0662\u0663 dollars", id="arabic-indic-digits"),
    ],
)
def test_an_unreasonable_price_in_a_question_is_ignored_not_an_error(
    client: TestClient, question: str
) -> None:
    # Sent with a publishable key, as anyone on the shop's page can.
    shop = with_catalog(client)
    session = start_session(client, shop)
    response = client.post(
        f"/api/chat/sessions/{session['id']}/messages",
        headers=widget_headers(shop),
        json={"content": question},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["reply"]["products"], "the question still finds products"


@pytest.mark.parametrize(
    "path",
    [
        "/api/merchants/{merchant}/sync/runs/run_%00x",
        "/api/merchants/{merchant}/products/prd_%00",
        "/api/chat/sessions/ses_%00/messages",
        "/api/webhooks/endpoints/whe_%00",
        "/api/merchants/{merchant}/sync/runs/" + "%F0%9F%98%80" * 300,
    ],
    ids=["run-nul", "product-nul", "chat-session-nul", "endpoint-nul", "too-long"],
)
def test_an_id_with_nul_or_of_any_length_is_404(client: TestClient, path: str) -> None:
    merchant = new_merchant(client)
    response = client.get(path.format(merchant=merchant.id), headers=merchant.auth)
    assert _rejected(response, 404)["error"]["code"] == "not_found"
    if path.startswith("/api/chat"):
        # The widget's key reaches it too: anyone on a shop page.
        response = client.get(path, headers=merchant.widget_auth)
        assert _rejected(response, 404)["error"]["code"] == "not_found"
    webhook = client.post("/api/merchants/mer_%00/sync/webhook", content=b"{}")
    assert _rejected(webhook, 404)["error"]["code"] == "not_found"


@pytest.mark.parametrize("origin", ["http://[", "https://[::1", "http://[fe80::1%zz]", "null"])
def test_a_malformed_origin_is_refused_not_a_500(client: TestClient, origin: str) -> None:
    shop = new_merchant(client, domains=["shop.example.com"])
    response = client.post(
        "/api/chat/sessions", headers={**shop.widget_auth, "Origin": origin}, json={}
    )
    body = _rejected(response, 403)
    assert body["error"]["code"] == "origin_not_allowed"


def _merchant_with_webhook_secret(client: TestClient) -> MerchantKeys:
    merchant = new_merchant(client)
    response = client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"source": {"type": "upload"}, "webhookSecret": WEBHOOK_SECRET},
    )
    assert response.status_code == 200, response.text
    return merchant


@pytest.mark.parametrize(
    "timestamp",
    [b"\xb2", b"9" * 5000, "\u0661\u0662\u0663".encode(), b"1e9", b"-5", b" 17"],
    ids=["superscript-two", "5000-digits", "arabic-indic", "exponent", "negative", "space"],
)
def test_an_inbound_webhook_timestamp_that_is_not_ascii_digits_is_401(
    client: TestClient, timestamp: bytes
) -> None:
    # No key at all: anyone can send this.
    merchant = _merchant_with_webhook_secret(client)
    response = _post_raw(
        client,
        f"/api/merchants/{merchant.id}/sync/webhook",
        {"webhook-id": b"msg_1", "webhook-timestamp": timestamp, "webhook-signature": b"v1,AAAA"},
        b"{}",
    )
    body = _rejected(response, 401)
    assert body["error"]["code"] == "unauthenticated"
    assert "webhook-timestamp" in body["error"]["message"]


@pytest.mark.parametrize(
    "length",
    [b"\xb2", b"\xd9\xa1", b"9" * 5000, b"-1"],
    ids=["superscript-two", "arabic-indic-one", "5000-digits", "negative"],
)
def test_a_malformed_content_length_never_answers_500(client: TestClient, length: bytes) -> None:
    merchant = new_merchant(client)
    headers = {
        "authorization": merchant.auth["Authorization"].encode(),
        "content-type": b"application/json",
        "content-length": length,
    }
    response = _post_raw(client, "/api/keys", headers, b'{"name": "ci"}')
    assert response.status_code < 500, response.text


METADATA_URLS = [
    "http://169.254.170.2/v2/credentials/x",
    "http://[fd00:ec2::23]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://0xa9feaa02/",
    "http://[::ffff:169.254.170.2]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://168.63.129.16/",
]


@pytest.mark.parametrize("url", METADATA_URLS)
def test_a_feed_url_on_a_metadata_service_is_refused_when_saved(
    client: TestClient, url: str
) -> None:
    merchant = new_merchant(client)
    response = client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"source": {"type": "url", "url": url}},
    )
    _rejected(response, 422, "source.url")
    config = client.get(f"/api/merchants/{merchant.id}/sync/config", headers=merchant.auth)
    assert config.json()["data"]["configured"] is False


@pytest.mark.parametrize("url", METADATA_URLS)
def test_a_webhook_endpoint_on_a_metadata_service_is_refused_when_saved(
    client: TestClient, url: str
) -> None:
    merchant = new_merchant(client)
    response = client.post(
        "/api/webhooks/endpoints",
        headers=merchant.auth,
        json={"url": url, "eventTypes": ["sync.completed"]},
    )
    _rejected(response, 422, "url")
    listed = client.get("/api/webhooks/endpoints", headers=merchant.auth)
    assert listed.json()["data"]["items"] == []
