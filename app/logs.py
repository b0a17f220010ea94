"""JSON logs, one object per line, each carrying the request id of the request it belongs to.

`LogFields` is the logging contract (DESIGN §18): the names of the fields runbook queries,
metric filters and alerts read. Pass them as `extra=LogFields(...)` so a misspelt field fails
type checking instead of silently breaking a runbook query.
"""

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TypedDict

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class LogFields(TypedDict, total=False):
    """Every field a log line may carry besides time, level, logger and message."""

    requestId: str | None  # also added from the request context when not given
    merchantId: str | None
    keyPrefix: str | None  # the shown part of an API key (`pk_live_Ab12Cd`), never the key
    keyId: str | None
    origin: str
    audience: str
    runId: str
    source: str  # a sync run's source: upload, feed, webhook
    endpointId: str
    eventId: str
    eventType: str
    attempt: int  # 1 for the first delivery attempt of an event to an endpoint
    status: int | str | None  # HTTP status, or a sync run's status
    errorCode: str | None
    embedder: str  # the embeddings provider's name
    count: int
    userId: str  # a portal user
    retryAfter: float  # seconds until a throttled caller may try again
    exceptionType: str  # the class of an unhandled exception: a 5xx is a bug to find by it
    error: str | None
    method: str
    path: str
    route: str
    replacement: str
    durationMs: float | None
    elapsedMs: float
    afterSeconds: float
    provider: str
    widgetVersion: str | None
    sessionId: str
    job: str
    jobs: list[str]
    dropped: int


# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as a field.
# uvicorn's `color_message` repeats the message with terminal colours.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes one access line per request with the request id; uvicorn's would
    # duplicate it without one.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs full URLs (feed and webhook URLs may carry tokens); alembic's plugin chatter
    # says nothing an operator needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
