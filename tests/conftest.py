"""Shared fixtures: the app on SQLite and, when DATABASE_URL/REDIS_URL are set (as in CI), on
a real PostgreSQL + Redis too. Every test that takes `client` runs once per backend."""

import contextlib
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.db.migrate import upgrade
from app.main import create_app
from app.services.merchants import create_merchant
from app.settings import Settings, load_settings, normalize_database_url
from ops.databases import migrated_database

ADMIN_ORIGIN = "https://admin.example.com"
BACKENDS = ["sqlite"] + (["postgres"] if os.environ.get("DATABASE_URL") else [])


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        backend = Backend("sqlite", f"sqlite:///{path}", "")
        upgrade(normalize_database_url(backend.database_url))
        yield backend
        return
    with migrated_database(os.environ["DATABASE_URL"], prefix="ragassist_test") as url:
        yield Backend("postgres", url, os.environ.get("REDIS_URL", ""))


def make_settings(backend: Backend, **overrides: str) -> Settings:
    values = {
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "ADMIN_ORIGINS": ADMIN_ORIGIN,
        "FLAGS_SOURCE": "env",
        "RATE_LIMIT_SECRET": "100000/60",
        "RATE_LIMIT_PUBLISHABLE": "100000/60",
        "LOG_LEVEL": "WARNING",
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(backend: Backend) -> Settings:
    return make_settings(backend)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass(frozen=True)
class MerchantKeys:
    id: str
    secret: str
    publishable: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    @property
    def widget_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.publishable}"}


def new_merchant(client: TestClient, *, domains: list[str] | None = None) -> MerchantKeys:
    """A merchant created through the service layer, inside the app's own event loop."""
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]

    async def create() -> MerchantKeys:
        async with sessions() as session:
            created = await create_merchant(
                session, name=f"Shop {uuid.uuid4().hex[:6]}", domains=domains or []
            )
        return MerchantKeys(
            created.merchant.id, created.secret_key.plaintext, created.publishable_key.plaintext
        )

    return client.portal.call(create)  # type: ignore[union-attr]


@pytest.fixture
def merchant(client: TestClient) -> MerchantKeys:
    return new_merchant(client)


def assert_envelope(body: dict, *, success: bool) -> None:
    assert body["success"] is success
    assert body["requestId"].startswith("req_") or body["requestId"]
    assert body["timestamp"].endswith("Z")
    if success:
        assert "data" in body
    else:
        assert set(body["error"]) == {"code", "message", "details"}


REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto server: a real AWS API on loopback, one per test session (DESIGN §3)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@contextlib.contextmanager
def loopback_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 answering with `handler`, in threads: its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
