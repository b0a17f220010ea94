"""A spooled catalog file opened for parsing: gzip undone, encoding found, lines bounded.

Files arrive as spooled temporary files (uploads, feed downloads). Nothing here reads a whole
file into memory: the encoding check streams through it once, parsers stream it again, and a
physical line longer than `MAX_LINE` is refused instead of buffered.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MAX_LINE = 4 * 1024 * 1024  # characters in one physical line (a CSV row or an NDJSON object)
HEAD_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class FileError(Exception):
    """The file as a whole cannot be imported; `message` tells the merchant why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Reader(io.RawIOBase):
    """A read-only view of a file that never closes it (parsers wrap and drop their readers;
    the run still owns the file), optionally capping how many bytes it produces: undoing gzip
    could otherwise turn a small file into an endless one."""

    def __init__(self, inner: IO[bytes] | gzip.GzipFile, limit: int | None = None) -> None:
        self.inner = inner
        self.limit = limit
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self.inner.read(len(view))
        except (OSError, EOFError, zlib.error) as exc:
            raise FileError("invalid_file", f"the gzip data is corrupt: {exc}") from None
        self.produced += len(data)
        if self.limit is not None and self.produced > self.limit:
            raise FileError(
                "file_too_large", f"the file is larger than {self.limit} bytes uncompressed"
            )
        view[: len(data)] = data
        return len(data)


@dataclass(slots=True)
class OpenedFile:
    """A catalog file ready for a parser: `binary()` restarts it from the beginning."""

    raw: IO[bytes]
    gzipped: bool
    limit: int
    encoding: str = "utf-8"

    def binary(self) -> IO[bytes]:
        self.raw.seek(0)
        if not self.gzipped:
            return io.BufferedReader(_Reader(self.raw), buffer_size=_CHUNK)
        unzipped = gzip.GzipFile(fileobj=self.raw, mode="rb")
        return io.BufferedReader(_Reader(unzipped, self.limit), buffer_size=_CHUNK)

    def head(self) -> bytes:
        return self.binary().read(HEAD_BYTES)

    def text(self) -> io.TextIOWrapper:
        # newline="": the csv module sees \r\n and newlines inside quotes as they are.
        stream = io.TextIOWrapper(self.binary(), encoding=self.encoding, newline="")
        return stream

    def lines(self) -> Iterator[str]:
        """Physical lines, refusing any longer than MAX_LINE instead of buffering it."""
        stream = self.text()
        number = 0
        while True:
            try:
                line = stream.readline(MAX_LINE + 1)
            except UnicodeDecodeError as exc:
                raise FileError("invalid_encoding", f"undecodable text: {exc.reason}") from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE:
                raise FileError(
                    "line_too_long", f"line {number} is longer than {MAX_LINE} characters"
                )
            yield line


def open_file(raw: IO[bytes], *, limit: int, text: bool = True) -> OpenedFile:
    """Recognise gzip and, for text formats, settle the encoding by reading the file once."""
    raw.seek(0)
    magic = raw.read(2)
    opened = OpenedFile(raw=raw, gzipped=magic == b"\x1f\x8b", limit=limit)
    head = opened.head()
    if not head.strip():
        raise FileError("empty_file", "the file is empty")
    if not text:
        return opened
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            opened.encoding = encoding
            return opened
    if b"\x00" in head[:8192]:
        raise FileError("binary_file", "the file is binary (it contains NUL bytes), not text")
    opened.encoding = _encoding(opened)
    return opened


def _encoding(opened: OpenedFile) -> str:
    """UTF-8 if the whole file decodes as UTF-8, else Windows-1252 if it decodes as that."""
    failures: list[str] = []
    for encoding in ("utf-8", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        stream = opened.binary()
        offset = 0
        try:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError as exc:
            failures.append(
                f"{encoding}: byte 0x{exc.object[exc.start]:02x} at {offset + exc.start}"
            )
    raise FileError(
        "invalid_encoding",
        "the file is neither UTF-8 nor Windows-1252 text (" + "; ".join(failures) + ")",
    )
