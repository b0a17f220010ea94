"""Request bodies read with a byte cap: the one reader for JSON bodies, uploads and inbound
webhooks, so every route refuses an oversized body the same way (413, before and while reading).
"""

from collections.abc import AsyncGenerator

from starlette.requests import Request

from app.http.errors import ApiError, ErrorCode
from app.parsing import natural_or_none


def too_large(limit: int, hint: str = "") -> ApiError:
    return ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"The body exceeds the {limit}-byte limit{hint}.")


async def read_capped(
    request: Request, limit: int, *, hint: str = ""
) -> AsyncGenerator[bytes, None]:
    """The body's chunks, refused with 413 once more than `limit` bytes arrive (or are
    declared: a malformed Content-Length is ignored, the count enforces the limit anyway).
    `hint` ends the error message, e.g. what to do instead."""
    declared = natural_or_none(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise too_large(limit, hint)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit, hint)
        yield chunk


async def read_all_capped(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in read_capped(request, limit):
        body += chunk
    return bytes(body)
