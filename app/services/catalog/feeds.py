"""Feed pulls (`source.type: url`): download the merchant's catalog URL, then import it.

The download streams into a spooled temporary file through the SSRF guard (every redirect hop
checked), with connect/read timeouts, an overall deadline and the MAX_FEED_BYTES cap on the
decoded body. A conditional GET (ETag / Last-Modified) or an identical body records an
`unchanged` run without importing anything.
"""

import asyncio
import hashlib
import tempfile
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, urlsplit

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import SyncConfig, SyncRun
from app.ids import new_request_id
from app.logs import request_id_var
from app.parsing import natural_or_none
from app.services.catalog.config import import_options
from app.services.catalog.execute import engine_of, execute_run
from app.services.catalog.importer import import_file
from app.services.catalog.runs import RunOutcome, failed, finish_run
from app.services.netguard import GuardedTransport, UnsafeTarget, send_guarded
from app.settings import Settings

USER_AGENT = "RAGAssistant-FeedFetcher/1.0 (+catalog sync)"
_SPOOL_BYTES = 8 * 1024 * 1024


class FeedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Fetched:
    unchanged: bool
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    size: int = 0
    sha256: str | None = None


async def fetch(
    config: SyncConfig,
    settings: Settings,
    dest: IO[bytes],
    *,
    conditional: bool,
    request_id: str,
) -> Fetched:
    """Download the feed into `dest`, or report it unchanged. Raises FeedError."""
    assert config.source_url, "a feed pull needs a URL"
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*", "X-Request-Id": request_id}
    if conditional and config.feed_etag:
        headers["If-None-Match"] = config.feed_etag
    if conditional and config.feed_last_modified:
        headers["If-Modified-Since"] = config.feed_last_modified
    if config.auth_header_name and config.auth_header_value:
        headers[config.auth_header_name] = config.auth_header_value
    timeout = httpx.Timeout(
        connect=settings.feed_connect_timeout_seconds,
        read=settings.feed_read_timeout_seconds,
        write=settings.feed_read_timeout_seconds,
        pool=settings.feed_connect_timeout_seconds,
    )
    limit = settings.max_feed_bytes
    # trust_env=False: no proxy or netrc from the environment between us and the guard.
    transport = GuardedTransport(allow_private=settings.allow_private_network_targets)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport) as client:
        request = client.build_request("GET", config.source_url, headers=headers)
        try:
            async with asyncio.timeout(settings.feed_total_timeout_seconds):
                response = await send_guarded(
                    client,
                    request,
                    allow_private=settings.allow_private_network_targets,
                    stream=True,
                )
                try:
                    return await _receive(response, dest, limit)
                finally:
                    await response.aclose()
        except UnsafeTarget as exc:
            raise FeedError("feed_refused", f"the feed URL is not allowed: {exc}") from None
        except (httpx.TimeoutException, TimeoutError):
            raise FeedError(
                "feed_timeout",
                "the feed server did not answer in time (connect "
                f"{settings.feed_connect_timeout_seconds:g} s, silence "
                f"{settings.feed_read_timeout_seconds:g} s, total "
                f"{settings.feed_total_timeout_seconds:g} s)",
            ) from None
        except httpx.HTTPError as exc:
            raise FeedError("feed_unreachable", f"the feed could not be fetched: {exc}") from None


async def _receive(response: httpx.Response, dest: IO[bytes], limit: int) -> Fetched:
    if response.status_code == 304:
        return Fetched(unchanged=True)
    if not 200 <= response.status_code < 300:
        raise FeedError(
            "feed_http_error", f"the feed answered HTTP {response.status_code}, not 200"
        )
    # A malformed length is ignored: the byte count below enforces the limit anyway.
    declared = natural_or_none(response.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise FeedError("feed_too_large", f"the feed is larger than {limit} bytes")
    digest = hashlib.sha256()
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise FeedError("feed_too_large", f"the feed is larger than {limit} bytes")
        dest.write(chunk)
        digest.update(chunk)
    return Fetched(
        unchanged=False,
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
        content_type=response.headers.get("content-type"),
        size=size,
        sha256=digest.hexdigest(),
    )


def _filename(url: str) -> str | None:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name[:500] or None


async def pull(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    run: SyncRun,
    config: SyncConfig,
) -> RunOutcome:
    """Fetch and import the feed as `run`; finishes the run in every case."""
    return await execute_run(
        sessions,
        run,
        lambda: _pull(sessions, settings, run, config),
        heartbeat_seconds=heartbeat_interval(settings),
    )


def heartbeat_interval(settings: Settings) -> float:
    return min(30.0, max(0.2, settings.sync_run_stale_seconds / 5))


async def _pull(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    run: SyncRun,
    config: SyncConfig,
) -> RunOutcome:
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spooled:
        try:
            fetched = await fetch(
                config,
                settings,
                spooled,
                conditional=not run.force,
                # The triggering request's id (the task inherited its context), else a new one.
                request_id=request_id_var.get() or new_request_id(),
            )
        except FeedError as exc:
            outcome = failed(exc.code, exc.message)
            async with sessions() as session:
                await finish_run(session, run, outcome)
            return outcome
        same_body = fetched.sha256 is not None and fetched.sha256 == config.feed_sha256
        if fetched.unchanged or (same_body and not run.force):
            outcome = RunOutcome(status="unchanged", bytes=fetched.size)
            async with sessions() as session:
                await finish_run(session, run, outcome)
                await _remember(session, config.merchant_id, fetched)
            return outcome
        options = import_options(
            config,
            force=run.force,
            content_type=fetched.content_type,
            filename=_filename(config.source_url or ""),
            max_bytes=settings.max_feed_bytes,
        )
        outcome = await import_file(engine_of(sessions), run, spooled, options)
        if outcome.status == "succeeded":
            async with sessions() as session:
                await _remember(session, config.merchant_id, fetched)
        return outcome


async def _remember(session: AsyncSession, merchant_id: str, fetched: Fetched) -> None:
    """What the feed answered, for the next conditional GET (lost on failure: that only costs
    one full download next time)."""
    values: dict[str, str | None] = {"feed_sha256": fetched.sha256} if fetched.sha256 else {}
    if not fetched.unchanged:
        values |= {"feed_etag": fetched.etag, "feed_last_modified": fetched.last_modified}
    if values:
        await session.execute(
            update(SyncConfig).where(SyncConfig.merchant_id == merchant_id).values(**values)
        )
        await session.commit()
