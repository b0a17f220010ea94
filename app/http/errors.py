"""The closed list of error codes (DESIGN §4) and the exception services and routes raise."""

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONFLICT = "conflict"
    GONE = "gone"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    VALIDATION_FAILED = "validation_failed"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    FEATURE_DISABLED = "feature_disabled"


STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.ORIGIN_NOT_ALLOWED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.GONE: 410,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_FAILED: 422,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.UPSTREAM_UNAVAILABLE: 502,
    ErrorCode.FEATURE_DISABLED: 503,
}

DESCRIPTIONS = {
    ErrorCode.BAD_REQUEST: "The body could not be parsed (malformed JSON, bad encoding).",
    ErrorCode.UNAUTHENTICATED: "No API key, or the key is unknown, revoked or expired.",
    ErrorCode.FORBIDDEN: "The key lacks the permission the route needs (named in details).",
    ErrorCode.ORIGIN_NOT_ALLOWED: "The browser Origin is not one of the merchant's domains.",
    ErrorCode.NOT_FOUND: "No such resource for this merchant.",
    ErrorCode.METHOD_NOT_ALLOWED: "The path exists but not with this method (see Allow).",
    ErrorCode.CONFLICT: "The request conflicts with the current state (e.g. a run in progress).",
    ErrorCode.GONE: "The endpoint was retired; the message names its replacement.",
    ErrorCode.PAYLOAD_TOO_LARGE: "The body is larger than the route accepts.",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "The Content-Type is not one the route accepts.",
    ErrorCode.VALIDATION_FAILED: "The body or query is well-formed but invalid; details name "
    "each field.",
    ErrorCode.RATE_LIMITED: "Too many requests; retry after Retry-After seconds.",
    ErrorCode.INTERNAL_ERROR: "An unexpected error; quote the requestId when reporting it.",
    ErrorCode.UPSTREAM_UNAVAILABLE: "A service we depend on failed or timed out.",
    ErrorCode.FEATURE_DISABLED: "The feature is switched off by an operator flag.",
}


class ApiError(Exception):
    """An error the client should see, rendered in the error envelope by the HTTP layer."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []
        self.status = status or STATUS[code]
        self.headers = headers or {}
