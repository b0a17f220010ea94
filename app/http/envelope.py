"""The response envelope every JSON answer wears (DESIGN §4)."""

import time
from datetime import UTC, datetime
from typing import Any

import pydantic_core
from starlette.responses import Response

from app.http.errors import ApiError
from app.logs import request_id_var


class PreparedJson(bytes):
    """`data` serialized once, for answers that never change (the permission catalogue):
    the envelope takes it as it is instead of serializing the same objects on every request."""


_second_prefix: tuple[int, str] = (0, "")


def _timestamp() -> str:
    # Every response carries one; the date and time change once a second, the rest is millis.
    global _second_prefix
    second, micros = divmod(round(time.time() * 1_000_000), 1_000_000)  # as datetime rounds
    if _second_prefix[0] != second:
        moment = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, moment)
    return f"{_second_prefix[1]}.{micros // 1000:03d}Z"


class EnvelopeResponse(Response):
    """A JSON envelope with its headers put together directly: every answer is one, and
    Starlette's general-purpose header handling cost more than the rest of building it."""

    media_type = "application/json"

    def __init__(self, content: bytes, status: int, headers: dict[str, str] | None) -> None:
        self.status_code = status
        self.body = content
        self.background = None
        self.raw_headers = [
            (b"content-length", b"%d" % len(content)),
            (b"content-type", b"application/json"),
        ]
        if headers:
            self.raw_headers += [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in headers.items()
            ]


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None) -> Response:
    # pydantic-core serializes models nested in the envelope in one pass (camelCase aliases,
    # datetimes as ISO 8601) without an intermediate dict.
    return EnvelopeResponse(pydantic_core.to_json(body, by_alias=True), status, headers)


def ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(data, PreparedJson):
        tail = pydantic_core.to_json({"timestamp": _timestamp(), "requestId": request_id_var.get()})
        # The same bytes the dict below would give, with `data` spliced in as prepared.
        content = b'{"success":true,"data":' + data + b"," + tail[1:]
        return EnvelopeResponse(content, status, headers)
    body = {
        "success": True,
        "data": data,
        "timestamp": _timestamp(),
        "requestId": request_id_var.get(),
    }
    return _json(body, status, headers)


def error_response(exc: ApiError) -> Response:
    body = {
        "success": False,
        "error": {"code": exc.code.value, "message": exc.message, "details": exc.details},
        "timestamp": _timestamp(),
        "requestId": request_id_var.get(),
    }
    return _json(body, exc.status, exc.headers)
