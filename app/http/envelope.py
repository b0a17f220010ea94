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


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None) -> Response:
    # pydantic-core serializes models nested in the envelope in one pass (camelCase aliases,
    # datetimes as ISO 8601) without an intermediate dict.
    content = pydantic_core.to_json(body, by_alias=True)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(data, PreparedJson):
        tail = pydantic_core.to_json({"timestamp": _timestamp(), "requestId": request_id_var.get()})
        # The same bytes the dict below would give, with `data` spliced in as prepared.
        content = b'{"success":true,"data":' + data + b"," + tail[1:]
        return Response(content, status_code=status, headers=headers, media_type="application/json")
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
