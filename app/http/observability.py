"""Outermost middleware: request id, access log, HTTP metrics and the last-resort 500.

It sits outside everything else so that even a crash deep in the stack answers in the envelope
with the request id, and is logged with its traceback here rather than sent to the client.
"""

import logging
import re
import time
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.envelope import error_response
from app.http.errors import ApiError, ErrorCode
from app.http.headers import header_list
from app.ids import new_request_id
from app.logs import request_id_var
from app.metrics import HTTP_TRAFFIC

log = logging.getLogger("app.access")
# A client's id is kept only if it cannot smuggle anything into logs or headers.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            return incoming if _VALID_REQUEST_ID.match(incoming) else None
    return None


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or new_request_id()
        encoded_id = request_id.encode("latin-1")
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        # Any 5xx from a request is a bug: its access line names the exception to look for.
        exception_type: str | None = None

        # A plain function handing back `send`'s awaitable: every message passes through here,
        # and a coroutine of our own per message would only add to its cost.
        def send_with_id(message: Message) -> Awaitable[None]:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                header_list(message).append((b"x-request-id", encoded_id))
            return send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            exception_type = type(exc).__name__
            log.exception(
                "unhandled error", extra={"path": scope["path"], "exceptionType": exception_type}
            )
            if response_started:
                raise
            response = error_response(
                ApiError(ErrorCode.INTERNAL_ERROR, "Something went wrong on our side.")
            )
            await response(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            HTTP_TRAFFIC.observe(method, route, str(status), elapsed)
            if log.isEnabledFor(logging.INFO):
                fields: dict[str, object] = {
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "durationMs": round(elapsed * 1000, 2),
                }
                if exception_type is not None:
                    fields["exceptionType"] = exception_type
                log.info("request", extra=fields)
            request_id_var.reset(token)
