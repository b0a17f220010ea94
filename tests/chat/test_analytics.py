"""Widget telemetry beacons and the analytics summary (seed Tasks 4.1, 4.2; DESIGN §11)."""

from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from app.db.models import SyncRun
from app.ids import new_id
from tests.chat.conftest import ask, start_session, widget_headers, with_catalog
from tests.conftest import MerchantKeys, new_merchant
from tests.metrics import sample


def _post(client: TestClient, keys: MerchantKeys, *events: dict):
    return client.post(
        "/api/widget/events", headers=widget_headers(keys), json={"events": list(events)}
    )


def _histogram_count() -> float:
    return sample("widget_load_seconds_count")


def test_beacons_feed_the_metrics_and_the_summary(client: TestClient) -> None:
    keys = with_catalog(client)
    ok_before = sample("widget_loads_total", status="ok")
    failed_before = sample("widget_loads_total", status="failed")
    timed_before = _histogram_count()
    response = _post(
        client,
        keys,
        {"type": "widget_loaded", "durationMs": 80, "widgetVersion": "1.0.0"},
        {"type": "widget_loaded", "durationMs": 120},
        {"type": "widget_loaded", "durationMs": 2400},
        {"type": "widget_load_failed", "code": "integrity_mismatch", "widgetVersion": "1.0.0"},
        {"type": "api_latency", "durationMs": 35.5, "route": "POST /api/chat/sessions"},
        {"type": "api_latency", "durationMs": 40, "route": "GET /api/widget/config"},
        {"type": "api_latency", "durationMs": 41, "route": "GET /api/widget/config"},
        {"type": "api_error", "code": "rate_limited", "status": 429, "route": "GET x"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["data"] == {"accepted": 8}
    assert sample("widget_loads_total", status="ok") == ok_before + 3
    assert sample("widget_loads_total", status="failed") == failed_before + 1
    assert _histogram_count() == timed_before + 3

    session = start_session(client, keys)
    ask(client, keys, session["id"], "tents")
    ask(client, keys, session["id"], "mugs")
    start_session(client, keys)
    summary = client.get("/api/analytics/summary", headers=keys.auth)
    assert summary.status_code == 200, summary.text
    data = summary.json()["data"]
    assert data["widget"] == {
        "loads": 3,
        "failures": 1,
        "failureRate": 0.25,
        "loadTimeMs": {"p50": 120.0, "p95": 2400.0, "samples": 3},
    }
    assert data["chat"] == {"sessions": 2, "messages": 2, "fallbackReplies": 0}
    assert data["api"] == {"calls": 4, "errors": 1, "errorRate": 0.25}
    assert data["sync"] == {"runs": 0, "succeeded": 0, "successRate": None}
    end = datetime.fromisoformat(data["to"])
    assert end - datetime.fromisoformat(data["from"]) == timedelta(days=7)


def test_summary_counts_finished_sync_runs_in_the_window(client: TestClient) -> None:
    keys = new_merchant(client)
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]
    now = datetime.now(UTC)

    async def runs() -> None:
        async with sessions() as session:
            for status, finished in [
                ("succeeded", now - timedelta(hours=1)),
                ("unchanged", now - timedelta(hours=2)),
                ("failed", now - timedelta(hours=3)),
                ("failed", now - timedelta(days=30)),  # outside the window
            ]:
                session.add(
                    SyncRun(
                        id=new_id("run"),
                        merchant_id=keys.id,
                        source="upload",
                        trigger="upload",
                        status=status,
                        mode="incremental",
                        created_at=finished - timedelta(minutes=1),
                        finished_at=finished,
                        error_sample=[],
                        errors=[],
                    )
                )
            await session.commit()

    client.portal.call(runs)  # type: ignore[union-attr]
    data = client.get("/api/analytics/summary", headers=keys.auth).json()["data"]
    assert data["sync"] == {"runs": 3, "succeeded": 2, "successRate": 2 / 3}


def test_summary_window_is_validated(client: TestClient) -> None:
    keys = new_merchant(client)
    url = "/api/analytics/summary"
    for params in (
        {"from": "2026-11-02T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"to": "0.5"},
        {"from": "yesterday"},
    ):
        response = client.get(url, headers=keys.auth, params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["details"][0]["in"] == "query"
    fine = client.get(
        url, headers=keys.auth, params={"from": "2026-11-01", "to": "2026-11-02T12:00:00+02:00"}
    )
    assert fine.status_code == 200
    assert fine.json()["data"]["to"].startswith("2026-11-02T10:00:00")


def test_bad_beacons_are_refused_naming_the_field(client: TestClient) -> None:
    keys = new_merchant(client)
    for events, field in (
        ([{"type": "widget_loaded"}], "events.0"),
        ([{"type": "page_view"}], "events.0.type"),
        ([{"type": "api_error", "status": "500"}], "events.0.status"),
        ([{"type": "api_latency", "durationMs": -1}], "events.0.durationMs"),
        ([{"type": "api_error", "sessionId": "../../etc"}], "events.0.sessionId"),
        ([{"type": "api_error"}] * 51, "events"),
        ([], "events"),
    ):
        response = _post(client, keys, *events)
        assert response.status_code == 422, events
        assert response.json()["error"]["details"][0]["field"] == field


def test_beacons_of_another_merchant_never_show_up_in_the_summary(client: TestClient) -> None:
    mine, theirs = new_merchant(client), new_merchant(client)
    _post(client, theirs, {"type": "widget_loaded", "durationMs": 50})
    data = client.get("/api/analytics/summary", headers=mine.auth).json()["data"]
    assert data["widget"]["loads"] == 0


def test_widget_config_offers_the_catalogs_popular_categories(client: TestClient) -> None:
    keys = with_catalog(client)
    config = client.get("/api/widget/config", headers=widget_headers(keys)).json()["data"]
    assert config["merchantId"] == keys.id
    assert config["greeting"]
    assert 1 <= len(config["suggestions"]) <= 4
    assert "Jackets" in config["suggestions"]
    # The widget reads it as a simple request (no preflight): the key in the query string.
    simple = client.get(
        "/api/widget/config",
        params={"key": keys.publishable},
        headers={"Origin": "https://shop.example.com"},
    )
    assert simple.status_code == 200
    assert simple.headers["access-control-allow-origin"] == "https://shop.example.com"
