"""Runs are atomic: all valid rows or nothing, guarded deletions, one run at a time, an honest
record of what happened (status, history, counts, errors, metrics)."""

import os
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.testclient import TestClient

from app.db.models import SyncRun, utcnow
from app.metrics import REGISTRY
from app.services.catalog import importer, runs
from tests.catalog.conftest import (
    all_products,
    by_external_id,
    catalog_rows,
    csv_catalog,
    db,
    run_detail,
    upload,
)
from tests.conftest import MerchantKeys, new_merchant


def _put_config(client: TestClient, merchant: MerchantKeys, **config: object) -> None:
    response = client.put(
        f"/api/merchants/{merchant.id}/sync/config", headers=merchant.auth, json=config
    )
    assert response.status_code == 200, response.text


def test_reimport_counts_created_updated_unchanged(client: TestClient) -> None:
    merchant = new_merchant(client)
    first = upload(client, merchant, b"sku,title,price\nA,Apple,1.00\nB,Banana,2.00\nC,Cherry,3\n")
    assert first["counts"] == {
        "rows": 3,
        "created": 3,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "invalid": 0,
    }
    before = by_external_id(all_products(client, merchant))
    # Same values written differently (3 vs 3.00) are unchanged; B changed; D is new.
    second = upload(
        client, merchant, b"sku,title,price\nA,Apple,1.00\nB,Banana,2.50\nC,Cherry,3.00\nD,Date,4\n"
    )
    assert second["counts"] == {
        "rows": 4,
        "created": 1,
        "updated": 1,
        "deleted": 0,
        "unchanged": 2,
        "invalid": 0,
    }
    after = by_external_id(all_products(client, merchant))
    assert after["A"]["updatedAt"] == before["A"]["updatedAt"]
    assert after["B"]["updatedAt"] != before["B"]["updatedAt"] and after["B"]["price"] == "2.50"
    assert after["B"]["id"] == before["B"]["id"]  # updated in place, same id
    # Incremental mode leaves products absent from the file alone.
    third = upload(client, merchant, b"sku,title,price\nA,Apple,1.00\n")
    assert third["counts"]["unchanged"] == 1 and len(all_products(client, merchant)) == 4


def test_full_mode_deletes_missing_products_within_max_delete_ratio(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(10))
    # 3 of 10 missing (30% <= 50%): deleted.
    run = upload(client, merchant, csv_catalog(7), mode="full")
    assert run["status"] == "succeeded" and run["counts"]["deleted"] == 3
    assert len(all_products(client, merchant)) == 7


def test_max_delete_ratio_refuses_a_truncated_feed_unless_forced(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(10))
    before = catalog_rows(client, merchant)
    # A truncated file: 6 of 10 would go (60% > 50%). Nothing changes, not even the updates.
    truncated = csv_catalog(4, price="99.00")
    run = upload(client, merchant, truncated, mode="full")
    assert run["status"] == "failed" and run["error"]["code"] == "delete_guard"
    assert "6 of 10" in run["error"]["message"] and "force=true" in run["error"]["message"]
    assert catalog_rows(client, merchant) == before
    forced = upload(client, merchant, truncated, mode="full", force=True)
    assert forced["status"] == "succeeded" and forced["counts"]["deleted"] == 6
    assert forced["counts"]["updated"] == 4 and forced["force"] is True
    assert {p["price"] for p in all_products(client, merchant)} == {"99.00"}


def test_max_delete_ratio_and_mode_come_from_the_config(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(10))
    _put_config(client, merchant, mode="full", maxDeleteRatio=0.2)
    run = upload(client, merchant, csv_catalog(7))
    assert run["mode"] == "full" and run["error"]["code"] == "delete_guard"
    assert upload(client, merchant, csv_catalog(9))["counts"]["deleted"] == 1


def test_error_threshold_fails_the_run_and_changes_nothing(client: TestClient) -> None:
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(10))
    before = catalog_rows(client, merchant)
    # 10 good rows (all updated) and 2 bad: 2/12 = 16.7% > 10%.
    content = csv_catalog(10, price="20.00") + b"BAD-1,Bad,,,,,\nBAD-2,Bad,free,,,,\n"
    run = upload(client, merchant, content)
    assert run["status"] == "failed" and run["error"]["code"] == "too_many_invalid_rows"
    assert run["counts"]["invalid"] == 2 and run["counts"]["rows"] == 12
    assert catalog_rows(client, merchant) == before
    _put_config(client, merchant, errorThreshold=0.25)
    run = upload(client, merchant, content)
    assert run["status"] == "succeeded" and run["counts"]["updated"] == 10
    assert [e["row"] for e in run["errorSample"]] == [12, 13]


def _active_run(client: TestClient, merchant: MerchantKeys, **changes: object) -> SyncRun:
    async def start(session: AsyncSession) -> SyncRun:
        run = await runs.start_run(
            session,
            merchant_id=merchant.id,
            source="upload",
            trigger="upload",
            mode="incremental",
            force=False,
        )
        if changes:
            await session.execute(update(SyncRun).where(SyncRun.id == run.id).values(**changes))
        return run

    return db(client, start)


def test_one_run_at_a_time_409_names_the_running_run(client: TestClient) -> None:
    merchant = new_merchant(client)
    running = _active_run(client, merchant)
    body = upload(client, merchant, csv_catalog(1), expect=409)
    assert body["error"]["code"] == "conflict"
    assert running.id in body["error"]["message"]
    assert body["error"]["details"] == [{"runId": running.id, "status": "running"}]
    _put_config(client, merchant, source={"type": "url", "url": "https://feeds.example.com/x.csv"})
    trigger = client.post(f"/api/merchants/{merchant.id}/sync/trigger", headers=merchant.auth)
    assert trigger.status_code == 409 and running.id in trigger.text
    status = client.get(f"/api/merchants/{merchant.id}/sync/status", headers=merchant.auth)
    assert status.json()["data"]["state"] == "running"
    assert status.json()["data"]["activeRun"]["id"] == running.id
    # Another merchant is not held up.
    assert upload(client, new_merchant(client), csv_catalog(1))["status"] == "succeeded"


def test_a_run_whose_process_died_is_interrupted_and_does_not_block(client: TestClient) -> None:
    merchant = new_merchant(client)
    # An API instance on another host that crashed an hour ago: its heartbeat went silent.
    stale = utcnow() - timedelta(hours=1)
    dead = _active_run(client, merchant, heartbeat_at=stale, owner="api-7f3c:1:0a1b2c3d4e5f")
    run = upload(client, merchant, csv_catalog(1))
    assert run["status"] == "succeeded"
    old = run_detail(client, merchant, dead.id)
    assert old["status"] == "interrupted" and old["error"]["code"] == "interrupted"


def test_recovery_marks_runs_of_dead_processes_interrupted(client: TestClient) -> None:
    merchant = new_merchant(client)
    fresh_but_dead = _active_run(client, merchant, owner=f"{runs.socket.gethostname()}:999999:x")
    other = new_merchant(client)
    alive = _active_run(client, other)  # this very process: alive
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]
    marked = client.portal.call(runs.recover_interrupted_runs, sessions)  # type: ignore[union-attr]
    assert marked >= 1
    assert run_detail(client, merchant, fresh_but_dead.id)["status"] == "interrupted"
    assert run_detail(client, other, alive.id)["status"] == "running"


def test_status_history_and_run_detail(client: TestClient) -> None:
    merchant = new_merchant(client)
    url = f"/api/merchants/{merchant.id}"
    empty = client.get(f"{url}/sync/status", headers=merchant.auth).json()["data"]
    assert empty["state"] == "idle" and empty["lastRun"] is None
    assert empty["catalog"]["products"] == 0
    ok = upload(
        client, merchant, csv_catalog(10) + b"X,,Nameless,1.00,,,\n", filename="week-48.csv"
    )
    bad = upload(client, merchant, b"sku,title,price\nA,B,-1\n")
    status = client.get(f"{url}/sync/status", headers=merchant.auth).json()["data"]
    assert status["state"] == "idle" and status["activeRun"] is None
    assert status["lastRun"]["id"] == bad["id"] and status["lastRun"]["status"] == "failed"
    assert status["lastSuccessfulRun"]["id"] == ok["id"]
    assert status["catalog"] == {
        "products": 10,
        "inStock": 10,
        "outOfStock": 0,
        "preorder": 0,
        "backorder": 0,
    }
    detail = run_detail(client, merchant, ok["id"])
    assert detail["filename"] == "week-48.csv" and detail["source"] == "upload"
    assert detail["durationMs"] >= 0 and detail["bytes"] > 0
    assert detail["errors"] == [{"row": 12, "column": "title", "reason": "title is required"}]
    assert detail["errorsTruncated"] is False
    for _ in range(3):
        upload(client, merchant, csv_catalog(1))
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"{url}/sync/history", headers=merchant.auth, params=params)
        data = page.json()["data"]
        seen += [item["id"] for item in data["items"]]
        cursor = data["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)  # newest first
    failed = client.get(f"{url}/sync/history", headers=merchant.auth, params={"status": "failed"})
    assert [item["id"] for item in failed.json()["data"]["items"]] == [bad["id"]]
    missing = client.get(f"{url}/sync/runs/run_00000000000000000000000000", headers=merchant.auth)
    assert missing.status_code == 404


def test_runs_and_products_of_one_merchant_are_invisible_to_another(client: TestClient) -> None:
    owner, intruder = new_merchant(client), new_merchant(client)
    run = upload(client, owner, csv_catalog(2, prefix="SECRET"))
    product_id = all_products(client, owner)[0]["id"]
    # Through the intruder's own merchant id: its own (empty) data only.
    own = f"/api/merchants/{intruder.id}"
    assert client.get(f"{own}/sync/runs/{run['id']}", headers=intruder.auth).status_code == 404
    assert client.get(f"{own}/products/{product_id}", headers=intruder.auth).status_code == 404
    assert all_products(client, intruder) == []
    assert all_products(client, intruder, q="secret") == []
    history = client.get(f"{own}/sync/history", headers=intruder.auth).json()["data"]["items"]
    assert history == []
    # Through the owner's merchant id: 404, nothing leaks, nothing is synced into the owner.
    theirs = f"/api/merchants/{owner.id}"
    for path in ("/sync/status", "/sync/history", f"/sync/runs/{run['id']}", "/products"):
        response = client.get(theirs + path, headers=intruder.auth)
        assert response.status_code == 404 and "SECRET" not in response.text
    sneaky = client.post(
        f"{theirs}/products/upload",
        headers={**intruder.auth, "Content-Type": "text/csv"},
        content=csv_catalog(1, prefix="EVIL"),
    )
    assert sneaky.status_code == 404
    assert {p["externalId"] for p in all_products(client, owner)} == {
        "SECRET-000000",
        "SECRET-000001",
    }


def _metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_runs_are_counted_in_metrics(client: TestClient) -> None:
    merchant = new_merchant(client)
    succeeded = _metric("sync_runs_total", {"source": "upload", "status": "succeeded"})
    failed = _metric("sync_runs_total", {"source": "upload", "status": "failed"})
    created = _metric("sync_rows_total", {"status": "created"})
    invalid = _metric("sync_rows_total", {"status": "invalid"})
    upload(client, merchant, csv_catalog(20) + b"Z,,1,,,,\n")
    upload(client, merchant, b"sku,title,price\nA,B,x\n")
    assert _metric("sync_runs_total", {"source": "upload", "status": "succeeded"}) == succeeded + 1
    assert _metric("sync_runs_total", {"source": "upload", "status": "failed"}) == failed + 1
    assert _metric("sync_rows_total", {"status": "created"}) == created + 20
    assert _metric("sync_rows_total", {"status": "invalid"}) == invalid + 2


def test_upload_without_wait_answers_at_once_and_runs_in_the_background(
    client: TestClient,
) -> None:
    from tests.catalog.conftest import settle

    merchant = new_merchant(client)
    response = client.post(
        f"/api/merchants/{merchant.id}/products/upload",
        headers={**merchant.auth, "Content-Type": "text/csv"},
        content=csv_catalog(50),
    )
    assert response.status_code == 202
    run = response.json()["data"]
    assert run["status"] == "running" and run["trigger"] == "upload"
    settle(client)
    assert run_detail(client, merchant, run["id"])["status"] == "succeeded"
    assert len(all_products(client, merchant)) == 50


# --- fault injection ------------------------------------------------------------------------

LARGE = 12_000  # three staging batches


class Injected(RuntimeError):
    pass


@pytest.mark.parametrize("stage", ["staged", "deleted", "updated", "inserted"])
def test_a_failure_half_way_leaves_the_catalog_byte_for_byte(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    merchant = new_merchant(client)
    prefix = f"FAULT{stage}"  # a word only this catalog has, to search for
    upload(client, merchant, csv_catalog(LARGE // 2, prefix=prefix))
    before = catalog_rows(client, merchant)
    calls: dict[str, int] = {}

    async def explode(at: str, connection: AsyncConnection) -> None:
        calls[at] = calls.get(at, 0) + 1
        # Per-batch steps fail in the second batch, once the first is already applied.
        if at == stage and calls[at] == (1 if stage == "deleted" else 2):
            raise Injected(f"injected at {at}")

    monkeypatch.setattr(importer, "checkpoint", explode)
    # Half updates (new price), half new rows, full mode: every kind of write is in flight.
    content = csv_catalog(LARGE, prefix=prefix, price="11.00", start=LARGE // 4)
    run = upload(client, merchant, content, mode="full", force=True)
    assert run["status"] == "failed" and run["error"]["code"] == "internal_error"
    assert run["id"] in run["error"]["message"]
    assert catalog_rows(client, merchant) == before
    assert len(all_products(client, merchant, q=prefix)) == LARGE // 2  # search index too
    # The app is fine afterwards: the same file goes through.
    monkeypatch.undo()
    again = upload(client, merchant, content, mode="full", force=True)
    assert again["status"] == "succeeded"
    assert again["counts"]["created"] == LARGE - LARGE // 4
    assert again["counts"]["deleted"] == LARGE // 4


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs DATABASE_URL (set in CI)")
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite has no connection to drop
def test_a_dropped_database_connection_changes_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = client.app.state.platform.sessions.kw["bind"]  # type: ignore[attr-defined]
    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(LARGE // 2))
    before = catalog_rows(client, merchant)

    async def drop_connection(at: str, connection: AsyncConnection) -> None:
        if at == "updated":
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            async with engine.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    monkeypatch.setattr(importer, "checkpoint", drop_connection)
    run = upload(client, merchant, csv_catalog(LARGE, price="11.00"))
    assert run["status"] == "failed"
    assert catalog_rows(client, merchant) == before
    monkeypatch.undo()
    assert upload(client, merchant, csv_catalog(3))["status"] == "succeeded"


def test_db_level_one_active_run_index_holds_under_a_race(client: TestClient) -> None:
    merchant = new_merchant(client)
    _active_run(client, merchant)

    async def second(session: AsyncSession) -> str:
        try:
            await runs.start_run(
                session,
                merchant_id=merchant.id,
                source="feed",
                trigger="schedule",
                mode="incremental",
                force=False,
            )
        except runs.RunConflict as exc:
            return exc.run.id
        return "started"

    assert db(client, second).startswith("run_")
    active = db(
        client,
        lambda s: s.scalars(
            select(SyncRun.id).where(
                SyncRun.merchant_id == merchant.id, SyncRun.status == "running"
            )
        ),
    )
    assert len(list(active)) == 1


_KILLED_MID_IMPORT = """
import asyncio, os, signal, sys
from app.db.engine import create_engine, session_factory
from app.services.catalog import importer, runs

async def main(database_url, merchant_id, path):
    async def die(stage, connection):
        if stage == "updated":  # half-way through the catalog transaction
            os.kill(os.getpid(), signal.SIGKILL)

    importer.checkpoint = die
    engine = create_engine(database_url, pool_size=2)
    sessions = session_factory(engine)
    async with sessions() as session:
        run = await runs.start_run(
            session, merchant_id=merchant_id, source="upload", trigger="upload",
            mode="full", force=True,
        )
    print(run.id, flush=True)
    options = importer.ImportOptions(mode="full", force=True)
    with open(path, "rb") as file:
        await importer.import_file(engine, run, file, options)

asyncio.run(main(*sys.argv[1:]))
"""


def test_a_killed_process_leaves_an_interrupted_run_and_the_catalog_as_it_was(
    client: TestClient, tmp_path
) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    merchant = new_merchant(client)
    upload(client, merchant, csv_catalog(LARGE // 2))
    before = catalog_rows(client, merchant)
    path = tmp_path / "catalog.csv"
    path.write_bytes(csv_catalog(LARGE, price="11.00", start=LARGE // 4))
    settings = client.app.state.platform.settings  # type: ignore[attr-defined]
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_IMPORT, settings.database_url, merchant.id, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    run_id = child.stdout.strip()
    assert run_detail(client, merchant, run_id)["status"] == "running"  # as the crash left it
    # The next start-up (or the worker's sweep) recovers it.
    sessions = client.app.state.platform.sessions  # type: ignore[attr-defined]
    assert client.portal.call(runs.recover_interrupted_runs, sessions) >= 1  # type: ignore[union-attr]
    run = run_detail(client, merchant, run_id)
    assert run["status"] == "interrupted" and "nothing was changed" in run["error"]["message"]
    assert catalog_rows(client, merchant) == before
    assert (
        upload(client, merchant, csv_catalog(3), mode="full", force=True)["status"] == "succeeded"
    )
