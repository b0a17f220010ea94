"""Feature flags: env and JSON file sources, a short cache, and 503 when a feature is off."""

import asyncio
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.flags import EnvFlagSource, Flags, FlagStore, JsonFileFlagSource
from app.http.routing import Call, Endpoint
from app.main import create_app
from tests.conftest import make_settings, new_merchant


def test_env_source_reads_typed_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG_PRODUCT_SYNC_ENABLED", "false")
    monkeypatch.setenv("FLAG_CORS_MODE", "report-only")
    flags = asyncio.run(FlagStore(EnvFlagSource(), ttl=0).current())
    assert flags == Flags(product_sync_enabled=False, cors_mode="report-only")


def test_file_source_is_cached_for_its_ttl(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"legacy_sessions_endpoint": False}))
    store = FlagStore(JsonFileFlagSource(path), ttl=3600)
    assert asyncio.run(store.current()).legacy_sessions_endpoint is False
    path.write_text(json.dumps({"legacy_sessions_endpoint": True}))
    assert asyncio.run(store.current()).legacy_sessions_endpoint is False  # still cached
    store.ttl = 0
    assert asyncio.run(store.current()).legacy_sessions_endpoint is True


def test_fresh_flags_are_the_cached_ones_only_within_the_ttl(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"rate_limit_headers": False}))
    store = FlagStore(JsonFileFlagSource(path), ttl=3600)
    assert store.fresh() is None  # never read: the caller must await current()
    asyncio.run(store.current())
    path.write_text(json.dumps({"rate_limit_headers": True}))
    assert store.fresh() == Flags(rate_limit_headers=False)
    store.ttl = 0
    assert store.fresh() is None  # stale: current() reads the source again
    assert asyncio.run(store.current()).rate_limit_headers is True


def test_unreadable_or_bad_source_keeps_the_last_good_flags(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"product_sync_enabled": False}))
    store = FlagStore(JsonFileFlagSource(path), ttl=0)
    assert asyncio.run(store.current()).product_sync_enabled is False
    for broken in ("{not json", json.dumps({"cors_mode": "sideways"}), json.dumps([1])):
        path.write_text(broken)
        assert asyncio.run(store.current()).product_sync_enabled is False
    path.unlink()
    assert asyncio.run(store.current()).product_sync_enabled is False


def test_disabled_feature_answers_503_feature_disabled(backend, tmp_path: Path) -> None:
    async def sync_status_handler(call: Call) -> dict:
        return {"running": False}

    flagged = Endpoint(
        method="GET",
        path="/api/sync-demo",
        handler=sync_status_handler,
        summary="s",
        tag="t",
        flag="product_sync_enabled",
    )
    path = tmp_path / "flags.json"
    path.write_text(json.dumps({"product_sync_enabled": True}))
    settings = make_settings(backend, FLAGS_SOURCE=f"file:{path}", FLAGS_CACHE_SECONDS="0")
    with TestClient(create_app(settings, endpoints=[flagged])) as client:
        owner = new_merchant(client)
        assert client.get("/api/sync-demo", headers=owner.auth).status_code == 200
        path.write_text(json.dumps({"product_sync_enabled": False}))
        response = client.get("/api/sync-demo", headers=owner.auth)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "feature_disabled"
        assert "product_sync_enabled" in response.json()["error"]["message"]
