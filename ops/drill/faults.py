"""The faults of the seed's post-deployment monitoring, each as the drill injects it.

A fault has a `start` (the state change: a renamed table, a failing endpoint, a stopped Redis),
a `drive` called over and over while it lasts (the traffic that meets the fault, as users
would), a `stop` that undoes it, and for the kills a `lost` check: what, once the platform has
recovered, never made it (webhook events not delivered, chat messages not stored).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from app.db.models import ACTIVE_RUN_STATUSES
from loadtests.data import SMALL_CATALOG
from ops.drill.platform import Platform
from ops.drill.receiver import Receiver

__all__ = ["FAULTS", "SHORT", "Fault"]

Step = Callable[[Platform, Receiver], None]


def _nothing(plat: Platform, receiver: Receiver) -> None:
    """No state to change or undo: the traffic alone is the fault."""


@dataclass(frozen=True, slots=True)
class Fault:
    key: str
    title: str
    expected: str | None  # the one alert that must reach on-call; None: no alert at all
    drive: Step
    start: Step = _nothing
    stop: Step = _nothing
    hold_seconds: float = 20.0  # how long a fault without an expected alert is kept up
    drivers: int = 1  # threads driving traffic at once, where a rule needs volume
    lost: Callable[[Platform, Receiver], list[str]] | None = None
    notes: Callable[[], list[str]] | None = None  # what the fault did, for the report
    # Alerts that read the same signal and may fire with the expected one: the delivery SLO's
    # burn-rate ticket rides along with the failure-rate page.
    also: frozenset[str] = frozenset()


def _client(plat: Platform, headers: dict[str, str]) -> httpx.Client:
    # A fresh connection per round, so the proxy spreads the rounds over both API processes.
    return httpx.Client(base_url=plat.proxy, headers=headers, timeout=30)


def _upload(plat: Platform, content: str) -> None:
    with _client(plat, plat.secret()) as client:
        client.post(
            f"/api/merchants/{plat.merchant_id}/products/upload",
            params={"wait": "true"},
            files={"file": ("catalog.csv", content, "text/csv")},
        )


def _failing_syncs(plat: Platform, receiver: Receiver) -> None:
    # A file with a header and no rows: the run is created and fails with `no_products`.
    _upload(plat, SMALL_CATALOG.splitlines()[0] + "\n")
    time.sleep(1)


def _failed_widget_loads(plat: Platform, receiver: Receiver) -> None:
    events = [{"type": "widget_load_failed", "code": "integrity"}] * 20
    with _client(plat, plat.widget()) as client:
        client.post("/api/widget/events", json={"events": events})
    time.sleep(0.5)


def _rename_products(plat: Platform, receiver: Receiver) -> None:
    # A schema the code does not expect (a half-applied migration): real 5xx from real handlers.
    plat.sql("ALTER TABLE products RENAME TO products_drill_fault")


def _restore_products(plat: Platform, receiver: Receiver) -> None:
    plat.sql("ALTER TABLE products_drill_fault RENAME TO products")


def _search_products(plat: Platform, receiver: Receiver) -> None:
    with _client(plat, plat.secret()) as client:
        for _ in range(10):
            client.get(f"/api/merchants/{plat.merchant_id}/products", params={"q": "item"})
    time.sleep(0.2)


def _foreign_origins(plat: Platform, receiver: Receiver) -> None:
    headers = {**plat.widget(), "Origin": "https://evil.test"}
    with _client(plat, headers) as client:
        for _ in range(20):
            client.get("/api/widget/config")
    time.sleep(0.5)


def _endpoint_fails(plat: Platform, receiver: Receiver) -> None:
    receiver.set_mode("fail")


def _endpoint_slow(plat: Platform, receiver: Receiver) -> None:
    receiver.set_mode("slow")


def _endpoint_ok(plat: Platform, receiver: Receiver) -> None:
    receiver.set_mode("ok")


def _events(plat: Platform, receiver: Receiver) -> None:
    """A catalog upload: a sync run, and its `sync.completed` event to deliver."""
    _upload(plat, SMALL_CATALOG)
    time.sleep(0.5)


def _undelivered(plat: Platform, receiver: Receiver) -> list[str]:
    """Every event the app recorded reaches the endpoint (retries, leases) within a minute, and
    every sync run the drill started has finished (none left running for ever)."""
    deadline = time.monotonic() + 60
    while True:
        events = {str(row[0]) for row in plat.sql("SELECT id FROM webhook_events")}
        missing = sorted(events - receiver.delivered())
        active = plat.sql(
            "SELECT id FROM sync_runs WHERE status = ANY($1::text[])", list(ACTIVE_RUN_STATUSES)
        )
        if (not missing and not active) or time.monotonic() > deadline:
            return [f"webhook event {event} never delivered" for event in missing] + [
                f"sync run {row[0]} never finished" for row in active
            ]
        time.sleep(1)


def _restart_worker_of(plat: Platform, pids: set[str]) -> str | None:
    """Kill -9 the worker whose pid is among `pids` and start it again (as ECS would); its
    name, or None when no worker holds one."""
    for name, process in list(plat.processes.running.items()):
        if name.startswith("worker-") and str(process.pid) in pids:
            plat.processes.kill(name)
            plat.start_worker(name)
            return name
    return None


class _Killer:
    """Kill -9 the worker holding a delivery in flight, once, then start it again (as ECS)."""

    def __init__(self) -> None:
        self.killed: list[str] = []

    def __call__(self, plat: Platform, receiver: Receiver) -> None:
        _events(plat, receiver)
        if self.killed or receiver.in_flight() == 0:
            return
        claims = plat.sql("SELECT claimed_by FROM webhook_attempts WHERE status = 'sending'")
        pids = {str(row[0]).split("/")[0].rsplit(":", 1)[-1] for row in claims if row[0]}
        killed = _restart_worker_of(plat, pids)
        if killed:
            self.killed.append(killed)

    def notes(self) -> list[str]:
        return [
            f"{name} killed (SIGKILL) with a delivery in flight, then restarted"
            for name in self.killed
        ]

    def lost(self, plat: Platform, receiver: Receiver) -> list[str]:
        caught = [] if self.killed else ["no worker was caught mid-delivery to kill"]
        return caught + _undelivered(plat, receiver)


class _SyncKiller:
    """Kill -9 the worker running a feed sync (its feed answers slowly), then start it again."""

    def __init__(self) -> None:
        self.killed: list[str] = []

    def start(self, plat: Platform, receiver: Receiver) -> None:
        receiver.set_feed(SMALL_CATALOG)
        feed = {"type": "url", "url": f"{receiver.base}/feed.csv"}
        self._config(plat, {"source": feed, "schedule": {"intervalMinutes": 15}})

    def stop(self, plat: Platform, receiver: Receiver) -> None:
        self._config(plat, {"source": {"type": "upload"}})

    def _config(self, plat: Platform, config: dict[str, object]) -> None:
        with _client(plat, plat.secret()) as client:
            client.put(
                f"/api/merchants/{plat.merchant_id}/sync/config", json=config
            ).raise_for_status()

    def __call__(self, plat: Platform, receiver: Receiver) -> None:
        # Scheduled pulls are the worker's (a manual trigger runs in the API): make the
        # schedule due now rather than in fifteen minutes.
        plat.sql(
            "UPDATE sync_configs SET next_run_at = TIMESTAMP '2000-01-01' WHERE merchant_id = $1",
            plat.merchant_id,
        )
        time.sleep(0.5)
        if self.killed:
            return
        owners = plat.sql(
            "SELECT owner FROM sync_runs WHERE status = 'running' AND source = 'feed'"
        )
        # owner is host:pid:token
        pids = {str(row[0]).split(":")[1] for row in owners if row[0]}
        killed = _restart_worker_of(plat, pids)
        if killed:
            self.killed.append(killed)

    def notes(self) -> list[str]:
        return [
            f"{name} killed (SIGKILL) in the middle of a feed sync, then restarted"
            for name in self.killed
        ]

    def lost(self, plat: Platform, receiver: Receiver) -> list[str]:
        caught = [] if self.killed else ["no worker was caught mid-sync to kill"]
        return caught + _undelivered(plat, receiver)


class _ChatDuringOutage:
    """Shoppers keep chatting while Redis is down; every message sent must be stored."""

    def __init__(self) -> None:
        self.session = ""
        self.sent = 0

    def __call__(self, plat: Platform, receiver: Receiver) -> None:
        with _client(plat, plat.widget()) as client:
            if not self.session:
                self.session = client.post("/api/chat/sessions", json={}).json()["data"]["id"]
            response = client.post(
                f"/api/chat/sessions/{self.session}/messages", json={"content": "waterproof"}
            )
            if response.status_code == 200:
                self.sent += 1
        time.sleep(0.3)

    def notes(self) -> list[str]:
        return [f"{self.sent} chat message(s) answered while Redis was down; all checked stored"]

    def lost(self, plat: Platform, receiver: Receiver) -> list[str]:
        rows = plat.sql(
            "SELECT count(*) FROM chat_messages WHERE session_id = $1 AND role = 'user'",
            self.session,
        )
        stored = int(str(rows[0][0]))
        lost = [] if stored == self.sent else [f"{self.sent - stored} chat message(s) not stored"]
        if not self.sent:
            lost.append("no chat message went through while Redis was down")
        # Proof the outage was felt: the limiter failed open (and counted it) rather than refuse.
        if not plat.query("sum(ratelimit_backend_errors_total) > 0"):
            lost.append("the rate limiter never noticed Redis was down")
        return lost


def _redis_down(plat: Platform, receiver: Receiver) -> None:
    plat.stop_redis()


def _redis_up(plat: Platform, receiver: Receiver) -> None:
    plat.start_redis()


def faults() -> list[Fault]:
    """Fresh instances: the kill and outage faults keep what they did for their loss check."""
    killer, sync_killer, chat = _Killer(), _SyncKiller(), _ChatDuringOutage()
    return [
        Fault("sync-failures", "sync runs failing > 10 %", "ProductSyncFailureRate",
              _failing_syncs),
        Fault("widget-load-failures", "widget loads failing > 5 %", "WidgetLoadFailureRate",
              _failed_widget_loads),
        Fault("api-errors", "API errors > 1 %", "ApiErrorRate", _search_products,
              start=_rename_products, stop=_restore_products, drivers=3),
        Fault("cors-rejections", "CORS rejections > 100/h", "CorsRejections", _foreign_origins),
        Fault("webhook-failures", "webhook failures > 20 % (endpoint answers 500)",
              "WebhookFailureRate", _events, start=_endpoint_fails, stop=_endpoint_ok,
              lost=_undelivered, also=frozenset({"WebhookDeliverySlo"})),
        Fault("worker-killed", "a worker killed mid-delivery", None, killer,
              start=_endpoint_slow, stop=_endpoint_ok, lost=killer.lost, notes=killer.notes),
        Fault("worker-killed-mid-sync", "a worker killed mid-sync", None, sync_killer,
              start=sync_killer.start, stop=sync_killer.stop, lost=sync_killer.lost,
              notes=sync_killer.notes),
        Fault("redis-stopped", "Redis stopped", None, chat, start=_redis_down, stop=_redis_up,
              lost=chat.lost, notes=chat.notes),
    ]  # fmt: skip


FAULTS = tuple(fault.key for fault in faults())
# The CI drill: the fast-resolving page, a ticket, and a kill with its loss check.
SHORT = ("api-errors", "widget-load-failures", "worker-killed")
