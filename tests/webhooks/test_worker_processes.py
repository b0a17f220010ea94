"""The delivery worker as it runs in production: `ragassist worker` processes. Killed with
SIGKILL mid-delivery it loses nothing; two of them share a queue without ever sending the same
attempt at once."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from app.services.webhooks import emit_event
from tests.conftest import REPO_ROOT, Backend, new_merchant
from tests.webhooks.conftest import (
    PRODUCT,
    WEBHOOK_ENV,
    Receiver,
    Reply,
    attempts,
    create_endpoint,
    emit,
    platform_of,
    settled,
)


@contextmanager
def worker(backend: Backend, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`ragassist worker` (the same entry point, run by this interpreter), once it is up."""
    env = {
        **os.environ,
        **WEBHOOK_ENV,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
        "LOG_LEVEL": "INFO",
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 30
        while '"worker started"' not in log.read_text():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=15)


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_worker_killed_mid_delivery_loses_nothing_and_keeps_the_webhook_id(
    client: TestClient, receiver: Receiver, backend: Backend, tmp_path: Path
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    killed = threading.Event()
    # Until the kill, the receiver holds every request, so deliveries are in flight.
    receiver.respond = lambda received: Reply(204) if killed.is_set() else Reply(204, delay=1.5)
    events = [emit(client, owner.id, "product.updated", {**PRODUCT, "n": i}) for i in range(10)]

    with worker(backend, tmp_path / "first.log") as first:
        receiver.wait_for(3, timeout=20)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    killed.set()
    in_flight = set(receiver.ids())
    assert in_flight and in_flight <= set(events)
    # The dead worker's claims are still held: nothing was recorded, nothing is lost.
    assert {a.status for a in attempts(client, merchant_id=owner.id)} <= {"sending", "pending"}

    with worker(backend, tmp_path / "second.log"):
        _wait(lambda: settled(client, owner.id), 30, "the restarted worker did not finish")
    received = receiver.requests
    assert set(receiver.ids()) == set(events)
    per_event = Counter(receiver.ids())
    for event_id in in_flight:
        # Redelivered with the same webhook-id and the same bytes.
        assert per_event[event_id] >= 2
        bodies = {r.body for r in received if r.id == event_id}
        assert len(bodies) == 1
    logged = attempts(client, merchant_id=owner.id)
    assert sorted(a.event_id for a in logged) == sorted(events)  # one attempt each, taken over
    assert {a.status for a in logged} == {"succeeded"}
    assert receiver.overlaps == []


def test_two_workers_deliver_a_thousand_events_each_once_and_never_concurrently(
    client: TestClient, receiver: Receiver, backend: Backend, tmp_path: Path
) -> None:
    owner = new_merchant(client)
    create_endpoint(client, owner, receiver.url)
    receiver.respond = lambda received: Reply(204, delay=0.005)
    sessions = platform_of(client).sessions

    async def queue_thousand() -> list[str]:
        async with sessions() as session:
            ids = [
                await emit_event(
                    session,
                    merchant_id=owner.id,
                    event_type="product.updated",
                    data={**PRODUCT, "n": i},
                )
                for i in range(1000)
            ]
            await session.commit()
            return ids

    with worker(backend, tmp_path / "a.log"), worker(backend, tmp_path / "b.log"):
        events = client.portal.call(queue_thousand)  # type: ignore[union-attr]
        _wait(lambda: len(receiver.requests) >= 1000 and settled(client, owner.id), 60, "slow")
    assert sorted(receiver.ids()) == sorted(events)  # each exactly once
    assert receiver.overlaps == []
    logged = attempts(client, merchant_id=owner.id)
    assert len(logged) == 1000 and {a.status for a in logged} == {"succeeded"}
    workers = {(a.claimed_by or "").split("/")[0] for a in logged}
    assert len(workers) == 2, workers  # both took part
