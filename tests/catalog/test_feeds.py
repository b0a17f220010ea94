"""Feed pulls against real HTTP servers on loopback: 200, 304, identical bodies, slow servers,
oversized bodies, redirects to forbidden addresses; SSRF refusals; schedules run by the job."""

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.services.catalog.jobs import run_scheduled_feeds
from tests.catalog.conftest import all_products, csv_catalog, run_detail, settle
from tests.conftest import Backend, MerchantKeys, make_settings, new_merchant

FEED = csv_catalog(5)
Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class FeedServer:
    """An HTTP server on 127.0.0.1 whose paths the test sets, recording what it was sent."""

    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = owner.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                # The client may give up first (timeouts, caps): that is the test.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()


def respond(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def with_etag(body: bytes, etag: str) -> Handler:
    def handle(request: BaseHTTPRequestHandler) -> None:
        if request.headers.get("If-None-Match") == etag:
            request.send_response(304)
            request.send_header("ETag", etag)
            request.end_headers()
            return
        respond(body, headers={"ETag": etag, "Last-Modified": "Wed, 25 Nov 2026 10:00:00 GMT"})(
            request
        )

    return handle


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def feed_client(backend: Backend) -> Iterator[TestClient]:
    """The app as tests run it against loopback feeds: private targets allowed, short timeouts,
    a small size cap."""
    settings = make_settings(
        backend,
        ALLOW_PRIVATE_NETWORK_TARGETS="true",
        FEED_READ_TIMEOUT_SECONDS="0.5",
        FEED_CONNECT_TIMEOUT_SECONDS="2",
        MAX_FEED_BYTES="65536",
    )
    with TestClient(create_app(settings)) as client:
        yield client
        settle(client)


def configure(client: TestClient, merchant: MerchantKeys, url: str, **extra: Any) -> Any:
    return client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"source": {"type": "url", "url": url, **extra.pop("source", {})}, **extra},
    )


def pull(client: TestClient, merchant: MerchantKeys, **params: Any) -> dict[str, Any]:
    response = client.post(
        f"/api/merchants/{merchant.id}/sync/trigger", headers=merchant.auth, params=params
    )
    assert response.status_code == 202, response.text
    started = response.json()["data"]
    assert started["source"] == "feed" and started["trigger"] == "manual"
    settle(client)
    return run_detail(client, merchant, started["id"])


def test_feed_is_pulled_then_a_304_records_an_unchanged_run(
    feed_client: TestClient, feeds: FeedServer
) -> None:
    feeds.routes["/catalog.csv"] = with_etag(FEED, '"v1"')
    merchant = new_merchant(feed_client)
    saved = configure(
        feed_client,
        merchant,
        f"{feeds.base}/catalog.csv",
        source={"authHeader": {"name": "Authorization", "value": "Bearer feed-secret-0123456789"}},
    )
    assert saved.status_code == 200, saved.text
    first = pull(feed_client, merchant)
    assert first["status"] == "succeeded" and first["counts"]["created"] == 5
    assert first["sourceUrl"] == f"{feeds.base}/catalog.csv"
    _, headers = feeds.seen[-1]
    assert headers["authorization"] == "Bearer feed-secret-0123456789"
    assert headers["x-request-id"].startswith("req_") and "RAGAssistant" in headers["user-agent"]
    assert "if-none-match" not in headers
    second = pull(feed_client, merchant)
    assert feeds.seen[-1][1]["if-none-match"] == '"v1"'
    assert feeds.seen[-1][1]["if-modified-since"] == "Wed, 25 Nov 2026 10:00:00 GMT"
    assert second["status"] == "unchanged" and second["counts"]["created"] == 0
    # force: downloaded and imported again, whatever the server says.
    forced = pull(feed_client, merchant, force="true")
    assert "if-none-match" not in feeds.seen[-1][1]
    assert forced["status"] == "succeeded" and forced["counts"]["unchanged"] == 5
    assert len(all_products(feed_client, merchant)) == 5


def test_an_identical_body_without_validators_is_unchanged(
    feed_client: TestClient, feeds: FeedServer
) -> None:
    feeds.routes["/plain.csv"] = respond(FEED)
    merchant = new_merchant(feed_client)
    configure(feed_client, merchant, f"{feeds.base}/plain.csv")
    assert pull(feed_client, merchant)["status"] == "succeeded"
    assert pull(feed_client, merchant)["status"] == "unchanged"
    feeds.routes["/plain.csv"] = respond(csv_catalog(6))
    changed = pull(feed_client, merchant)
    assert changed["status"] == "succeeded" and changed["counts"]["created"] == 1


def test_gzip_content_encoding_and_redirects_within_limits(
    feed_client: TestClient, feeds: FeedServer
) -> None:
    feeds.routes["/feed.ndjson"] = respond(
        gzip.compress(b'{"sku": "G-1", "title": "Zipped", "price": "3.50"}\n'),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"},
    )
    feeds.routes["/old"] = respond(b"", 301, {"Location": "/feed.ndjson"})
    merchant = new_merchant(feed_client)
    configure(feed_client, merchant, f"{feeds.base}/old")
    run = pull(feed_client, merchant)
    assert run["status"] == "succeeded" and run["format"] == "ndjson"
    assert all_products(feed_client, merchant)[0]["title"] == "Zipped"


def _slow(request: BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.send_header("Content-Length", str(len(FEED)))
    request.end_headers()
    request.wfile.write(FEED[:20])
    request.wfile.flush()
    time.sleep(3)  # silence longer than FEED_READ_TIMEOUT_SECONDS
    request.wfile.write(FEED[20:])


def _endless(request: BaseHTTPRequestHandler) -> None:
    request.send_response(200)
    request.end_headers()  # no Content-Length: the cap must hold while streaming
    for _ in range(200):
        request.wfile.write(b"x" * 1024)


@pytest.mark.parametrize(
    ("route", "code"),
    [
        (_slow, "feed_timeout"),
        (respond(b"x" * 70_000), "feed_too_large"),
        (_endless, "feed_too_large"),
        (respond(b"gone", 404), "feed_http_error"),
        (
            respond(b"", 302, {"Location": "http://169.254.169.254/latest/meta-data/"}),
            "feed_refused",
        ),
    ],
    ids=["slow", "declared too large", "streamed too large", "404", "redirect to metadata"],
)
def test_feed_failures_fail_the_run_clearly(
    feed_client: TestClient, feeds: FeedServer, route: Handler, code: str
) -> None:
    feeds.routes["/feed.csv"] = respond(FEED)
    feeds.routes["/bad"] = route
    merchant = new_merchant(feed_client)
    configure(feed_client, merchant, f"{feeds.base}/feed.csv")
    assert pull(feed_client, merchant)["status"] == "succeeded"
    configure(feed_client, merchant, f"{feeds.base}/bad")
    started = time.monotonic()
    run = pull(feed_client, merchant)
    assert run["status"] == "failed" and run["error"]["code"] == code, run["error"]
    assert time.monotonic() - started < 10
    if code == "feed_refused":
        assert "169.254.169.254" in run["error"]["message"]
    assert len(all_products(feed_client, merchant)) == 5  # the catalog as it was


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/feed.csv", "http://10.0.0.1/feed.csv", "http://[::1]/feed.csv"],
)
def test_private_targets_are_refused_without_the_override(client: TestClient, url: str) -> None:
    merchant = new_merchant(client)
    response = configure(client, merchant, url)
    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "source.url" and "not allowed" in detail["message"]


def test_a_hostname_resolving_to_loopback_is_refused_at_pull_time(
    client: TestClient, feeds: FeedServer
) -> None:
    feeds.routes["/feed.csv"] = respond(FEED)
    merchant = new_merchant(client)
    port = feeds.base.rsplit(":", 1)[1]
    assert configure(client, merchant, f"http://localhost:{port}/feed.csv").status_code == 200
    run = pull(client, merchant)
    assert run["status"] == "failed" and run["error"]["code"] == "feed_refused"
    assert "loopback" in run["error"]["message"]
    assert feeds.seen == []  # not even one request went out


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest"]
)
def test_cloud_metadata_is_refused_even_with_the_override(
    feed_client: TestClient, url: str
) -> None:
    merchant = new_merchant(feed_client)
    response = configure(feed_client, merchant, url)
    assert response.status_code == 422
    assert "metadata" in response.json()["error"]["details"][0]["message"]


def test_auth_header_is_never_returned_and_stays_with_its_origin(
    feed_client: TestClient, feeds: FeedServer
) -> None:
    merchant = new_merchant(feed_client)
    secret = "Bearer very-secret-feed-token-42"
    url = f"/api/merchants/{merchant.id}/sync/config"
    saved = configure(
        feed_client, merchant, f"{feeds.base}/a.csv", source={"authHeader": {"value": secret}}
    )
    assert secret not in saved.text
    masked = saved.json()["data"]["source"]["authHeader"]
    assert masked == {"name": "Authorization", "valueMasked": "••••n-42"}
    got = feed_client.get(url, headers=merchant.auth)
    assert secret not in got.text and got.json()["data"]["source"]["authHeader"] == masked
    # Omitted on the next PUT: kept for the same origin...
    kept = configure(feed_client, merchant, f"{feeds.base}/b.csv")
    assert kept.json()["data"]["source"]["authHeader"] == masked
    # ...but not carried to another host, where it could be read.
    moved = configure(feed_client, merchant, "https://elsewhere.example.com/b.csv")
    assert moved.json()["data"]["source"]["authHeader"] is None
    # null removes it explicitly.
    configure(
        feed_client, merchant, f"{feeds.base}/a.csv", source={"authHeader": {"value": secret}}
    )
    removed = configure(feed_client, merchant, f"{feeds.base}/a.csv", source={"authHeader": None})
    assert removed.json()["data"]["source"]["authHeader"] is None


def test_trigger_without_a_feed_is_409(client: TestClient) -> None:
    merchant = new_merchant(client)
    response = client.post(f"/api/merchants/{merchant.id}/sync/trigger", headers=merchant.auth)
    assert response.status_code == 409
    assert "source.type 'url'" in response.json()["error"]["message"]


def _job(client: TestClient) -> int:
    platform = client.app.state.platform  # type: ignore[attr-defined]
    return client.portal.call(run_scheduled_feeds, platform)  # type: ignore[union-attr]


def test_schedule_runs_through_the_worker_job(feed_client: TestClient, feeds: FeedServer) -> None:
    feeds.routes["/scheduled.csv"] = respond(FEED)
    merchant = new_merchant(feed_client)
    url = f"/api/merchants/{merchant.id}"
    too_often = configure(
        feed_client, merchant, f"{feeds.base}/scheduled.csv", schedule={"intervalMinutes": 5}
    )
    assert too_often.status_code == 422
    saved = configure(
        feed_client, merchant, f"{feeds.base}/scheduled.csv", schedule={"intervalMinutes": 60}
    )
    assert saved.status_code == 200
    assert saved.json()["data"]["schedule"]["intervalMinutes"] == 60
    assert _job(feed_client) >= 1  # a new schedule starts with a run
    settle(feed_client)
    history = feed_client.get(f"{url}/sync/history", headers=merchant.auth).json()["data"]
    scheduled = [run for run in history["items"] if run["trigger"] == "schedule"]
    assert scheduled and scheduled[0]["status"] == "succeeded"
    status = feed_client.get(f"{url}/sync/status", headers=merchant.auth).json()["data"]
    next_run = datetime.fromisoformat(status["nextScheduledRunAt"])
    finished = datetime.fromisoformat(scheduled[0]["finishedAt"])
    assert 55 * 60 < (next_run - finished).total_seconds() <= 60 * 60
    # Not due again: the job leaves it alone.
    before = len(feeds.seen)
    _job(feed_client)
    settle(feed_client)
    assert len(feeds.seen) == before


def test_a_schedule_needs_a_url_source(client: TestClient) -> None:
    merchant = new_merchant(client)
    response = client.put(
        f"/api/merchants/{merchant.id}/sync/config",
        headers=merchant.auth,
        json={"source": {"type": "upload"}, "schedule": {"intervalMinutes": 30}},
    )
    assert response.status_code == 422
    assert "schedule" in response.json()["error"]["details"][0]["message"]


def test_the_job_pauses_scheduled_pulls_while_sync_is_switched_off(
    backend: Backend, feeds: FeedServer, tmp_path: Any
) -> None:
    import json

    feeds.routes["/scheduled.csv"] = respond(FEED)
    flags = tmp_path / "flags.json"
    flags.write_text(json.dumps({"product_sync_enabled": False}))
    settings = make_settings(
        backend,
        ALLOW_PRIVATE_NETWORK_TARGETS="true",
        FLAGS_SOURCE=f"file:{flags}",
        FLAGS_CACHE_SECONDS="0",
    )
    with TestClient(create_app(settings)) as client:
        merchant = new_merchant(client)
        flags.write_text(json.dumps({"product_sync_enabled": True}))
        saved = configure(
            client, merchant, f"{feeds.base}/scheduled.csv", schedule={"intervalMinutes": 15}
        )
        assert saved.status_code == 200
        flags.write_text(json.dumps({"product_sync_enabled": False}))
        _job(client)
        settle(client)
        assert feeds.seen == []  # due, but paused
        flags.write_text(json.dumps({"product_sync_enabled": True}))
        assert _job(client) >= 1
        settle(client)
        assert len(feeds.seen) == 1
