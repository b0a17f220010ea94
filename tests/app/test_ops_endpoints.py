"""Liveness, readiness and Prometheus metrics."""

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.conftest import new_merchant


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["data"] == {"status": "ok"}


def test_readyz_checks_database_and_redis(client: TestClient, backend) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    checks = response.json()["data"]["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] == ("ok" if backend.redis_url else "not configured")


def _samples(client: TestClient) -> list:
    text = client.get("/metrics").text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def test_metrics_use_route_templates_not_raw_paths(client: TestClient) -> None:
    owner = new_merchant(client)
    client.get(f"/api/merchants/{owner.id}/domains", headers=owner.auth)
    client.get("/api/no/such/thing")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(client)
    requests = [s for s in samples if s.name == "http_requests_total"]
    routes = {s.labels["route"] for s in requests}
    assert "/api/merchants/{merchantId}/domains" in routes
    assert "<unmatched>" in routes
    assert not any(owner.id in route or "no/such" in route for route in routes)
    hit = next(
        s
        for s in requests
        if s.labels
        == {"method": "GET", "route": "/api/merchants/{merchantId}/domains", "status": "200"}
    )
    assert hit.value >= 1
    names = {s.name for s in samples}
    assert {"http_request_duration_seconds_bucket", "ratelimit_backend_errors_total"} <= names
    # Labelled counters have no samples until first used, but are always declared.
    assert "# TYPE cors_rejections_total counter" in response.text
