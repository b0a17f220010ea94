"""The drill's loopback receivers, in one HTTP server on a free port.

`POST /alerts` is Alertmanager's webhook receiver: every notification is kept with the time it
arrived, so the drill can say which alert reached on-call, when, and with which runbook.
`POST /hooks` is the merchant's webhook endpoint: it answers 200, 500 (the failing endpoint of
the WebhookFailureRate fault) or 200 after a pause (so a worker can be killed mid-delivery),
and keeps every event id it was sent and every one it accepted. `GET /feed.csv` is the
merchant's catalog feed, served after a pause so a worker can be killed in the middle of a sync.
"""

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["AlertNote", "Receiver"]

Mode = Literal["ok", "fail", "slow"]


@dataclass(frozen=True, slots=True)
class AlertNote:
    at: float  # time.time()
    name: str
    status: str  # firing | resolved
    runbook_url: str
    severity: str


@dataclass
class _State:
    mode: Mode = "ok"
    slow_seconds: float = 2.0
    feed: bytes = b""
    alerts: list[AlertNote] = field(default_factory=list)
    attempted: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receiver:
    def __init__(self) -> None:
        self.state = _State()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_mode(self, mode: Mode) -> None:
        self.state.mode = mode

    def set_feed(self, content: str) -> None:
        self.state.feed = content.encode()

    def alerts(self) -> list[AlertNote]:
        with self.state.lock:
            return list(self.state.alerts)

    def delivered(self) -> set[str]:
        with self.state.lock:
            return set(self.state.delivered)

    def attempted(self) -> set[str]:
        with self.state.lock:
            return set(self.state.attempted)

    def in_flight(self) -> int:
        return self.state.in_flight


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def handle(self) -> None:
            # A worker killed mid-delivery or mid-pull drops the connection: that is the fault
            # the drill injected, not an error of the receiver's.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        def do_GET(self) -> None:
            if self.path != "/feed.csv":
                self._answer(404)
                return
            time.sleep(state.slow_seconds)
            self.send_response(200)
            self.send_header("content-type", "text/csv")
            self.send_header("content-length", str(len(state.feed)))
            self.end_headers()
            self.wfile.write(state.feed)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path == "/alerts":
                self._alerts(json.loads(body))
            elif self.path == "/hooks":
                self._hook(self.headers.get("webhook-id", ""))
            else:
                self._answer(404)

        def _alerts(self, payload: dict[str, Any]) -> None:
            now = time.time()
            notes = [
                AlertNote(
                    now,
                    alert["labels"].get("alertname", ""),
                    alert["status"],
                    alert["annotations"].get("runbook_url", ""),
                    alert["labels"].get("severity", ""),
                )
                for alert in payload.get("alerts", [])
            ]
            with state.lock:
                state.alerts.extend(notes)
            self._answer(200)

        def _hook(self, event_id: str) -> None:
            mode = state.mode
            with state.lock:
                state.attempted.add(event_id)
                state.in_flight += 1
            try:
                if mode == "slow":
                    time.sleep(state.slow_seconds)
                if mode == "fail":
                    self._answer(500)
                    return
                self._answer(200)
                with state.lock:
                    state.delivered.add(event_id)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the drill reports what matters."""

    return Handler
