"""Fixtures for outgoing webhooks: a real HTTP receiver on loopback, an app whose retry schedule
is compressed to fractions of a second, and helpers that drive the delivery job in the app's
own event loop."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from app.db.models import WebhookAttempt
from app.main import create_app
from app.services.webhooks import emit_event
from app.services.webhooks.dispatcher import close_dispatcher, deliver_webhooks
from app.settings import Settings
from tests.conftest import Backend, MerchantKeys, make_settings

# Each retry a fraction of a second, so a whole schedule runs in a test.
SCHEDULE = "0.3,0.6,1.2"
WEBHOOK_ENV = {
    "ALLOW_PRIVATE_NETWORK_TARGETS": "true",
    "WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WORKER_POLL_SECONDS": "0.05",
    "WEBHOOK_LEASE_SECONDS": "4",
    # These workers share the test database with every other test's catalogs; embedding them
    # all (the worker's embedding job) would only slow the deliveries measured here.
    "EMBEDDINGS_PROVIDER": "off",
}


@dataclass(frozen=True)
class Reply:
    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every request and answers what
    `respond` says. It closes each connection after answering (HTTP/1.0), so `down()` really
    refuses the next delivery instead of serving it on a kept-alive connection."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.respond: Callable[[Received], Reply] = lambda received: Reply()
        self.overlaps: list[str] = []  # webhook-ids received while the same id was in flight
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a killed worker): nothing was delivered, as
                    # a real receiver would see it.
                    return
                received = Received(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                key = received.headers.get("webhook-id", "")
                with receiver._lock:
                    if receiver._in_flight.get(key):
                        receiver.overlaps.append(key)
                    receiver._in_flight[key] = receiver._in_flight.get(key, 0) + 1
                    receiver.requests.append(received)
                try:
                    reply = receiver.respond(received)
                    if reply.delay:
                        time.sleep(reply.delay)
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the sender gave up (timeout, killed worker)
                finally:
                    with receiver._lock:
                        receiver._in_flight[key] -= 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # a worker opens hundreds of connections at once

        server = Server(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [r.id for r in self.requests]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)}/{count} requests arrived"
            time.sleep(0.01)
        return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.up()
    yield receiver
    receiver.down()


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return make_settings(backend, **WEBHOOK_ENV)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
        platform = platform_of(test_client)
        test_client.portal.call(close_dispatcher, platform)  # type: ignore[union-attr]
        # The database lives for the whole session: leave no queued attempt to later tests.
        test_client.portal.call(_cancel_unfinished, platform)  # type: ignore[union-attr]


async def _cancel_unfinished(platform: Any) -> None:
    async with platform.sessions() as session:
        await session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.due_at.is_not(None))
            .values(status="failed", due_at=None, error="cancelled by the test teardown")
        )
        await session.commit()


def platform_of(client: TestClient) -> Any:
    return client.app.state.platform  # type: ignore[attr-defined]


def create_endpoint(client: TestClient, owner: MerchantKeys, url: str, **fields: Any) -> dict:
    response = client.post(
        "/api/webhooks/endpoints", headers=owner.auth, json={"url": url, **fields}
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def emit(client: TestClient, merchant_id: str, event_type: str, data: dict[str, Any]) -> str:
    """Emit through the outbox in a committed transaction of the app, as a feature would."""
    sessions = platform_of(client).sessions

    async def run() -> str:
        async with sessions() as session:
            event_id = await emit_event(
                session, merchant_id=merchant_id, event_type=event_type, data=data
            )
            await session.commit()
            return event_id

    return client.portal.call(run)  # type: ignore[union-attr]


def run_job(client: TestClient) -> int:
    return client.portal.call(deliver_webhooks, platform_of(client))  # type: ignore[union-attr]


def drive(client: TestClient, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run the delivery job the way the worker does (idle rounds sleep the poll interval)
    until `until()` holds."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "condition not reached in time"
        if run_job(client) == 0:
            time.sleep(platform_of(client).settings.worker_poll_seconds)


def attempts(client: TestClient, **where: Any) -> list[WebhookAttempt]:
    sessions = platform_of(client).sessions

    async def run() -> list[WebhookAttempt]:
        async with sessions() as session:
            query = select(WebhookAttempt).filter_by(**where).order_by(WebhookAttempt.id)
            return list(await session.scalars(query))

    return client.portal.call(run)  # type: ignore[union-attr]


def settled(client: TestClient, merchant_id: str) -> bool:
    """Nothing of the merchant's is queued or in flight any more."""
    return all(a.due_at is None for a in attempts(client, merchant_id=merchant_id))


PRODUCT = {"id": "prd_01JDQ2Z8X4M5N6P7Q8R9S0T1V2", "title": "Chaussure de trail — édition ☃"}
