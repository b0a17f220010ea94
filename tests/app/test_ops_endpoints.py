"""Liveness, readiness and Prometheus metrics."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from app.metrics import HttpTraffic
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


def test_http_traffic_exports_prometheus_counters_and_cumulative_histograms() -> None:
    registry = CollectorRegistry()
    traffic = HttpTraffic(buckets=(0.01, 0.1))
    registry.register(traffic)
    for seconds in (0.005, 0.01, 0.05, 0.1, 3.0):  # the bounds themselves count as "le"
        traffic.observe("GET", "/api/keys", "200", seconds)
    traffic.observe("POST", "/api/keys", "422", 0.002)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    get = (("method", "GET"), ("route", "/api/keys"))
    assert samples[("http_requests_total", (*get, ("status", "200")))] == 5
    post = (("method", "POST"), ("route", "/api/keys"), ("status", "422"))
    assert samples[("http_requests_total", post)] == 1
    assert samples[("http_request_duration_seconds_bucket", (("le", "0.01"), *get))] == 2
    assert samples[("http_request_duration_seconds_bucket", (("le", "0.1"), *get))] == 4
    assert samples[("http_request_duration_seconds_bucket", (("le", "+Inf"), *get))] == 5
    assert samples[("http_request_duration_seconds_count", get)] == 5
    assert samples[("http_request_duration_seconds_sum", get)] == pytest.approx(3.165)
