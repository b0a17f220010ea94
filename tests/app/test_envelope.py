"""The HTTP core: envelope on every answer, request ids, and no internals leaked on errors."""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import pydantic_core
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from app.http import envelope
from app.http.envelope import PreparedJson, ok
from app.http.routing import Audience, Call, Endpoint
from app.logs import request_id_var
from app.main import create_app
from tests.conftest import assert_envelope, make_settings, new_merchant


def test_unknown_path_is_404_in_the_envelope(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "not_found"
    assert body["requestId"] == response.headers["x-request-id"]


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.patch("/api/keys")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_request_id_is_generated_or_kept(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert generated.startswith("req_") and len(generated) == 30
    kept = client.get("/healthz", headers={"X-Request-Id": "edge-1234.abc"})
    assert kept.headers["x-request-id"] == "edge-1234.abc"
    assert kept.json()["requestId"] == "edge-1234.abc"
    # Anything that could forge log lines or headers is replaced.
    forged = client.get("/healthz", headers={"X-Request-Id": 'x" injected=1 ' + "a" * 200})
    assert forged.headers["x-request-id"].startswith("req_")


def _crash_endpoints() -> list[Endpoint]:
    async def crash_handler(call: Call) -> None:
        raise RuntimeError("secret internals: password=hunter2")

    async def sql_handler(call: Call) -> None:
        async with call.platform.sessions() as session:
            await session.execute(text("SELECT * FROM no_such_table_xyz"))

    return [
        Endpoint(
            method="GET",
            path="/boom",
            handler=crash_handler,
            summary="b",
            tag="t",
            audience=Audience.PUBLIC,
        ),
        Endpoint(
            method="GET",
            path="/sql",
            handler=sql_handler,
            summary="s",
            tag="t",
            audience=Audience.PUBLIC,
        ),
    ]


@pytest.mark.parametrize(
    ("path", "exception_types"),
    # A missing table is an OperationalError on SQLite, a ProgrammingError on PostgreSQL.
    [("/boom", {"RuntimeError"}), ("/sql", {"OperationalError", "ProgrammingError"})],
)
def test_crash_is_a_500_envelope_without_internals(
    backend, path: str, exception_types: set[str], caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings(backend), endpoints=_crash_endpoints())
    with TestClient(app) as client, caplog.at_level(logging.INFO, logger="app.access"):
        response = client.get(path, headers={"X-Request-Id": "crash-1"})
    assert response.status_code == 500
    body = response.json()
    assert_envelope(body, success=False)
    assert body["error"]["code"] == "internal_error"
    assert body["requestId"] == "crash-1" == response.headers["x-request-id"]
    for leak in ("hunter2", "Traceback", "no_such_table", "SELECT", "RuntimeError"):
        assert leak not in response.text
    # The operator still gets the traceback, tied to the request id.
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert record.exc_info is not None
    # A 5xx is a bug: the access line says which exception to look for, not only "500".
    (access,) = [r for r in caplog.records if r.getMessage() == "request"]
    assert access.status == 500  # type: ignore[attr-defined]
    assert access.exceptionType in exception_types  # type: ignore[attr-defined]


def test_logs_are_json_lines_carrying_the_request_id(client, capfd) -> None:
    from app.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    try:
        owner = new_merchant(client)
        client.get("/api/keys", headers={**owner.auth, "X-Request-Id": "trace-77"})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "app.access"]
    mine = next(line for line in access if line.get("requestId") == "trace-77")
    assert mine["route"] == "/api/keys" and mine["status"] == 200 and mine["method"] == "GET"
    assert owner.secret not in json.dumps(lines)


def test_prepared_data_gives_the_same_envelope_as_serializing_it() -> None:
    data = {"items": [{"name": "keys:read", "description": 'Ünïcode "quoted" </script>'}]}
    token = request_id_var.set("req_test")
    try:
        with freeze_clock(1_764_240_000.5):
            prepared = ok(PreparedJson(pydantic_core.to_json(data)), status=200).body
            serialized = ok(data).body
    finally:
        request_id_var.reset(token)
    assert prepared == serialized
    assert json.loads(prepared)["timestamp"] == "2025-11-27T10:40:00.500Z"


def test_timestamps_are_utc_iso_8601_with_milliseconds() -> None:
    for moment in (0.0, 1_764_240_000.999, 1_764_240_001.0, 1_764_240_001.0009996, 4e9 + 0.25):
        with freeze_clock(moment):
            stamp = json.loads(ok({}).body)["timestamp"]
        expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        assert stamp == expected.replace("+00:00", "Z")


@contextmanager
def freeze_clock(moment: float) -> Iterator[None]:
    with mock.patch.object(envelope, "time", SimpleNamespace(time=lambda: moment)):
        yield
