"""The response envelope every JSON answer wears (DESIGN §4)."""

from datetime import UTC, datetime
from typing import Any

import pydantic_core
from starlette.responses import Response

from app.http.errors import ApiError
from app.logs import request_id_var


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None) -> Response:
    # pydantic-core serializes models nested in the envelope in one pass (camelCase aliases,
    # datetimes as ISO 8601) without an intermediate dict.
    content = pydantic_core.to_json(body, by_alias=True)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def ok(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
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
