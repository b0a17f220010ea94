"""Catalog uploads: a multipart field `file` or the raw body, spooled to a temporary file that
stays in memory only while small, and refused past the upload limit (DESIGN §8)."""

import re
import tempfile
from collections.abc import AsyncGenerator
from typing import IO

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from app.http.body import read_capped, too_large
from app.http.errors import ApiError, ErrorCode

_SPOOL_BYTES = 1024 * 1024
# Room for multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_SLACK = 64 * 1024
# Where a catalog too large to upload should go instead.
_UPLOAD_HINT = " (MAX_UPLOAD_BYTES); serve large catalogs as a feed URL (source.type 'url')"


def _empty() -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_FAILED,
        "The uploaded file is empty.",
        details=[{"field": "file", "in": "body", "message": "the file is empty"}],
    )


async def receive_upload(
    request: Request, limit: int, filename: str | None
) -> tuple[IO[bytes], str | None, str | None]:
    """Spool the upload (multipart field `file`, or the raw body) to a temporary file that
    stays in memory only while small, refusing it past `limit` bytes."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        stream = read_capped(request, limit + _MULTIPART_SLACK, hint=_UPLOAD_HINT)
        return await _receive_multipart(request, stream, limit)
    spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - handed on
    try:
        async for chunk in read_capped(request, limit, hint=_UPLOAD_HINT):
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    if spooled.tell() == 0:
        spooled.close()
        raise _empty()
    name = filename or _disposition_filename(request.headers.get("content-disposition", ""))
    return spooled, name, content_type or None


async def _receive_multipart(
    request: Request, stream: AsyncGenerator[bytes, None], limit: int
) -> tuple[IO[bytes], str | None, str | None]:
    parser = MultiPartParser(request.headers, stream, max_files=1, max_fields=20)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(ErrorCode.BAD_REQUEST, f"The multipart body is malformed: {exc}") from None
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "Send the catalog in a multipart field named `file`.",
            details=[{"field": "file", "in": "body", "message": "missing"}],
        )
    spooled = upload.file
    if (upload.size or 0) > limit:
        await form.close()
        raise too_large(limit, _UPLOAD_HINT)
    if not upload.size:
        await form.close()
        raise _empty()
    return spooled, upload.filename, upload.content_type


def _disposition_filename(header: str) -> str | None:
    match = re.search(r'filename="?([^";]+)"?', header)
    return match[1][:500] if match else None
