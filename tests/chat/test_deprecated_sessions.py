"""`POST /api/sessions`, the deprecated alias (seed Task 3.1, DESIGN §9)."""

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from starlette.testclient import TestClient

from app.main import create_app
from tests.chat.conftest import widget_headers
from tests.conftest import Backend, assert_envelope, make_settings, new_merchant
from tests.metrics import sample


def _calls() -> float:
    return sample("deprecated_calls_total", route="/api/sessions")


def test_alias_answers_like_the_new_endpoint_plus_deprecation_headers(
    client: TestClient, caplog
) -> None:
    shop = new_merchant(client, domains=["shop.example.com"])
    body = {"locale": "fr-FR"}
    new = client.post("/api/chat/sessions", headers=widget_headers(shop), json=body)
    before = _calls()
    with caplog.at_level(logging.WARNING, logger="app.routes.chat"):
        old = client.post("/api/sessions", headers=widget_headers(shop), json=body)
    assert old.status_code == new.status_code == 201
    assert_envelope(old.json(), success=True)
    same = {k: v for k, v in new.json()["data"].items() if k not in {"id", "createdAt"}}
    assert {k: v for k, v in old.json()["data"].items() if k not in {"id", "createdAt"}} == same
    assert old.json()["data"]["id"].startswith("ses_")
    # The session it made is a real one, usable on the new routes.
    made = client.get(f"/api/chat/sessions/{old.json()['data']['id']}", headers=shop.widget_auth)
    assert made.status_code == 200

    # RFC 9745 Deprecation (a date), RFC 8594 Sunset (an HTTP date), and the links.
    deprecated_at = datetime.fromtimestamp(int(old.headers["deprecation"].removeprefix("@")), UTC)
    sunset = parsedate_to_datetime(old.headers["sunset"])
    assert deprecated_at < sunset
    assert sunset > datetime(2027, 1, 1, tzinfo=UTC)
    link = old.headers["link"]
    assert '/api/chat/sessions>; rel="successor-version"' in link
    assert 'rel="deprecation"' in link
    for name in ("deprecation", "sunset", "link"):
        assert name not in new.headers
    # Readable by the widget's page (exposed through CORS).
    exposed = old.headers["access-control-expose-headers"].lower()
    assert {"deprecation", "sunset", "link"} <= {h.strip() for h in exposed.split(",")}

    assert _calls() == before + 1
    warnings = [r for r in caplog.records if r.getMessage() == "deprecated endpoint called"]
    assert warnings and warnings[0].route == "/api/sessions"


def test_operators_can_retire_the_alias_with_the_flag(backend: Backend, monkeypatch) -> None:
    monkeypatch.setenv("FLAG_LEGACY_SESSIONS_ENDPOINT", "false")
    with TestClient(create_app(make_settings(backend))) as client:
        shop = new_merchant(client, domains=["shop.example.com"])
        before = _calls()
        gone = client.post("/api/sessions", headers=widget_headers(shop), json={})
        assert gone.status_code == 410
        error = gone.json()["error"]
        assert error["code"] == "gone"
        assert "POST /api/chat/sessions" in error["message"]
        assert error["details"] == [{"replacement": "POST /api/chat/sessions"}]
        assert 'rel="successor-version"' in gone.headers["link"]
        assert _calls() == before  # a retired alias is not a call to it
        # The real endpoint is unaffected.
        assert (
            client.post("/api/chat/sessions", headers=widget_headers(shop), json={}).status_code
            == 201
        )
