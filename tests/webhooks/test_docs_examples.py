"""docs/WEBHOOK_INTEGRATION.md is executable: its Node, Python and PHP receivers are extracted
from the Markdown and run against real deliveries from the worker. They must accept what we
send (also during a secret rotation), deduplicate on webhook-id, and reject a tampered body, a
signature made with another secret, a stale timestamp and missing headers. The payload examples
must match the schemas the API serves."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jsonschema
import pytest
from standardwebhooks import Webhook
from starlette.testclient import TestClient

from app.services.webhooks.events import EVENT_TYPES
from tests.conftest import REPO_ROOT, MerchantKeys, new_merchant
from tests.webhooks.conftest import (
    PRODUCT,
    Received,
    Receiver,
    Reply,
    attempts,
    create_endpoint,
    drive,
    emit,
    settled,
)

GUIDE = REPO_ROOT / "docs" / "WEBHOOK_INTEGRATION.md"
_BLOCK = re.compile(r"<!-- (example|payload): ([\w.]+) -->\n```\w+\n(.*?)\n```", re.DOTALL)


def _blocks(kind: str) -> dict[str, str]:
    return {name: code for found, name, code in _BLOCK.findall(GUIDE.read_text()) if found == kind}


@dataclass(frozen=True)
class Language:
    name: str
    file: str
    tool: str

    def command(self, script: Path, port: int) -> list[str]:
        if self.name == "php":
            return ["php", "-S", f"127.0.0.1:{port}", str(script)]
        return [sys.executable if self.name == "python" else self.tool, str(script)]


LANGUAGES = [
    Language("node", "receiver.js", "node"),
    Language("python", "receiver.py", "python"),
    Language("php", "receiver.php", "php"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Example:
    url: str
    output: Path

    def processed(self) -> list[str]:
        return re.findall(r"processed (\S+ evt_\w+)", self.output.read_text())

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.url, content=body, headers=_signed(headers), timeout=10)


@contextmanager
def _example(language: Language, tmp_path: Path, port: int, secret: str) -> Iterator[Example]:
    if shutil.which(language.tool) is None:
        pytest.skip(f"{language.tool} is not installed (CI installs it)")
    script = tmp_path / language.file
    script.write_text(_blocks("example")[language.name] + "\n")
    output = tmp_path / f"{language.name}.out"
    env = {**os.environ, "WEBHOOK_SECRET": secret, "PORT": str(port), "TMPDIR": str(tmp_path)}
    with output.open("wb") as sink:
        process = subprocess.Popen(
            language.command(script, port), env=env, stdout=sink, stderr=sink, cwd=tmp_path
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, f"{language.name} example did not start"
                time.sleep(0.05)
        yield Example(f"http://127.0.0.1:{port}/webhooks", output)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_guide_has_one_receiver_per_language_and_a_payload_per_event_type() -> None:
    assert set(_blocks("example")) == {language.name for language in LANGUAGES}
    assert set(_blocks("payload")) == set(EVENT_TYPES)
    text = GUIDE.read_text()
    for event_type in EVENT_TYPES:
        assert f"### {event_type}" in text and f"`{event_type}`" in text


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_payload_examples_in_the_guide_match_the_served_schemas(event_type: str) -> None:
    payload = json.loads(_blocks("payload")[event_type])
    event = EVENT_TYPES[event_type]
    jsonschema.validate(payload, event.schema())
    assert payload["type"] == event_type
    # Every field the model knows is documented in the example (no silent drift).
    assert set(payload["data"]) == {
        field.alias or name for name, field in event.model.model_fields.items()
    }


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.name)
def test_the_guides_receiver_verifies_real_deliveries_and_rejects_forgeries(
    client: TestClient, receiver: Receiver, tmp_path: Path, language: Language
) -> None:
    owner = new_merchant(client)
    port = _free_port()
    # Deliveries reach the example through a recording proxy, so the test can replay
    # exactly what was sent, with one thing changed at a time.
    proxy = Receiver()
    proxy.up()
    forwarded: list[tuple[Received, int]] = []
    target = f"http://127.0.0.1:{port}/webhooks"

    def forward(received: Received) -> Reply:
        answer = httpx.post(
            target, content=received.body, headers=_signed(received.headers), timeout=10
        )
        forwarded.append((received, answer.status_code))
        return Reply(answer.status_code, body=answer.content)

    proxy.respond = forward
    try:
        endpoint = create_endpoint(client, owner, proxy.url)
        create_endpoint(client, owner, receiver.url)  # another secret, the same events
        with _example(language, tmp_path, port, endpoint["secret"]) as example:
            _exercise(client, owner, endpoint, example, forwarded, receiver)
    finally:
        proxy.down()


def _signed(headers: dict[str, str]) -> dict[str, str]:
    """Only the headers a receiver verifies (no Host or Content-Length of the capture)."""
    wanted = {"content-type", "webhook-id", "webhook-timestamp", "webhook-signature"}
    return {name: value for name, value in headers.items() if name in wanted}


def _exercise(
    client: TestClient,
    owner: MerchantKeys,
    endpoint: dict,
    example: Example,
    forwarded: list[tuple[Received, int]],
    receiver: Receiver,
) -> None:
    merchant_id, auth = owner.id, owner.auth
    # Real deliveries: an event with non-ASCII text, a sync event and a test event.
    created = emit(client, merchant_id, "product.created", PRODUCT)
    synced = emit(
        client,
        merchant_id,
        "sync.completed",
        {"runId": "run_1", "source": "feed", "counts": {"updated": 2}},
    )
    drive(client, lambda: settled(client, merchant_id))
    tested = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/test", headers=auth)
    assert tested.json()["data"]["status"] == "succeeded", tested.text
    ours = [a for a in attempts(client, merchant_id=merchant_id) if a.endpoint_id == endpoint["id"]]
    assert {a.status for a in ours} == {"succeeded"} and len(ours) == 3
    assert [status for _, status in forwarded] == [204, 204, 204]
    assert sorted(example.processed()[:2]) == sorted(
        [f"product.created {created}", f"sync.completed {synced}"]
    )

    original = next(received for received, _ in forwarded if received.id == created)
    # A redelivery (same webhook-id) is acknowledged but not processed twice.
    assert example.post(original.body, original.headers).status_code == 204
    assert example.processed().count(f"product.created {created}") == 1

    # A body changed by one character.
    tampered = original.body.replace(b"trail", b"trial")
    assert example.post(tampered, original.headers).status_code == 400
    # The same event, signed by a real delivery with another endpoint's secret.
    foreign = next(r for r in receiver.requests if r.id == created)
    assert foreign.body == original.body
    assert example.post(foreign.body, foreign.headers).status_code == 400
    # A correct signature over a timestamp ten minutes old (a replayed capture).
    stale = datetime.now(UTC) - timedelta(minutes=10)
    signature = Webhook(endpoint["secret"]).sign(created, stale, original.body.decode())
    replay = {
        **original.headers,
        "webhook-timestamp": str(int(stale.timestamp())),
        "webhook-signature": signature,
    }
    refused = example.post(original.body, replay)
    assert refused.status_code == 400 and "timestamp" in refused.text
    # Missing headers.
    assert example.post(original.body, {"content-type": "application/json"}).status_code == 400

    # During a rotation the receiver still holds the old secret and keeps accepting.
    rotated = client.post(f"/api/webhooks/endpoints/{endpoint['id']}/rotate-secret", headers=auth)
    assert rotated.status_code == 200
    deleted = emit(client, merchant_id, "product.deleted", {"id": PRODUCT["id"]})
    drive(client, lambda: settled(client, merchant_id))
    last, status = forwarded[-1]
    assert last.id == deleted and len(last.headers["webhook-signature"].split(" ")) == 2
    assert status == 204
    assert f"product.deleted {deleted}" in example.processed()
