"""Catalog sync: the eight endpoints of DESIGN §8 (config, status, trigger, history, runs,
upload, inbound webhook). The work happens in app/services/catalog; these handlers translate."""

import re
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import IO, Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import undefer
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from app.db.models import ACTIVE_RUN_STATUSES, SyncConfig, SyncRun, utcnow
from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel, Page, PageQuery, split_page
from app.http.routing import Audience, Call, Endpoint
from app.parsing import natural_or_none
from app.services.catalog import config as configs
from app.services.catalog import feeds, inbound, runs
from app.services.catalog.execute import import_upload, in_background
from app.services.catalog.records import FieldName
from app.services.catalog.search import catalog_counts
from app.services.catalog.terms import (
    DEFAULT_CURRENCY,
    DEFAULT_ERROR_THRESHOLD,
    DEFAULT_FORMAT,
    DEFAULT_MAX_DELETE_RATIO,
    DEFAULT_MODE,
    Format,
    Mode,
    ReceiptAction,
    ReceiptStatus,
    RunSource,
    RunStatus,
    RunTrigger,
    SourceType,
    as_mode,
)
from app.services.netguard import UnsafeTarget, check_saved, check_url_syntax

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# PostgreSQL text cannot hold NUL: refused at the edge rather than failing in the database.
NO_NUL = r"^[^\x00]*$"
_SPOOL_BYTES = 1024 * 1024
# Room for multipart framing (boundaries, part headers) on top of the file itself.
_MULTIPART_SLACK = 64 * 1024


# --- requests -------------------------------------------------------------------------------


class AuthHeaderIn(ApiInput):
    name: str = Field("Authorization", min_length=1, max_length=100)
    value: str = Field(min_length=1, max_length=4096, description="Write-only; never returned.")

    @field_validator("name")
    @classmethod
    def _token(cls, value: str) -> str:
        if not _HEADER_NAME.match(value) or value.lower() in {"host", "content-length"}:
            raise ValueError("not a header name that can be sent")
        return value

    @field_validator("value")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(char in value for char in "\r\n\x00"):
            raise ValueError("a header value is one line")
        return value


class UploadSourceIn(ApiInput):
    type: Literal["upload"]


class UrlSourceIn(ApiInput):
    type: Literal["url"]
    url: str = Field(
        min_length=8, max_length=2048, pattern=NO_NUL, description="http(s) URL of the feed."
    )
    auth_header: AuthHeaderIn | None = Field(
        None, description="Sent with each pull. Omit to keep the stored one; null removes it."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            check_url_syntax(value)
        except UnsafeTarget as exc:
            raise ValueError(str(exc)) from None
        return value


class ScheduleIn(ApiInput):
    interval_minutes: int = Field(
        ge=15, le=10_080, strict=True, description="15 minutes to 7 days."
    )


class SyncConfigIn(ApiInput):
    source: Annotated[UploadSourceIn | UrlSourceIn, Field(discriminator="type")] = Field(
        default_factory=lambda: UploadSourceIn(type="upload")
    )
    schedule: ScheduleIn | None = Field(None, description="Scheduled pulls; needs a url source.")
    format: Format = DEFAULT_FORMAT
    mode: Mode = Field(DEFAULT_MODE, description="`full` also deletes products not in the file.")
    field_mapping: dict[
        Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)], FieldName | None
    ] = Field(
        default_factory=dict,
        max_length=200,
        description="Column name → product field (null ignores the column).",
    )
    default_currency: str = Field(DEFAULT_CURRENCY, pattern=r"^[A-Z]{3}$")
    error_threshold: float = Field(
        DEFAULT_ERROR_THRESHOLD,
        ge=0,
        le=1,
        strict=True,
        description="Share of invalid rows allowed.",
    )
    max_delete_ratio: float = Field(
        DEFAULT_MAX_DELETE_RATIO,
        ge=0,
        le=1,
        strict=True,
        description="`full` mode deletes at most this share unless forced.",
    )
    product_url_template: str | None = Field(
        None,
        max_length=2048,
        pattern=NO_NUL,
        description="Product URL when a row has none, e.g. https://shop.example/p/{id}.",
    )
    webhook_secret: str | None = Field(
        None,
        min_length=8,
        max_length=200,
        pattern=NO_NUL,
        description="Verifies inbound webhooks. Write-only; omit to keep, null to remove.",
    )

    @field_validator("product_url_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or "{id}" not in value:
            raise ValueError("expected an http(s) URL containing {id}")
        return value

    @model_validator(mode="after")
    def _schedule_needs_url(self) -> "SyncConfigIn":
        if self.schedule is not None and self.source.type != "url":
            raise ValueError("a schedule needs source.type 'url'")
        return self


class UploadQuery(BaseModel):
    format: Format | None = Field(None, description="Default: the config's (auto-detect).")
    mode: Mode | None = Field(None, description="Default: the config's.")
    force: bool = Field(False, description="Allow `full` mode past maxDeleteRatio.")
    wait: bool = Field(False, description="Answer when the run has finished.")
    filename: str | None = Field(
        None, max_length=500, pattern=NO_NUL, description="Name of a raw-body upload."
    )


class TriggerQuery(BaseModel):
    force: bool = Field(
        False, description="Download even if unchanged, and allow deleting past maxDeleteRatio."
    )


class HistoryQuery(PageQuery):
    cursor: str | None = Field(
        None, max_length=200, pattern=NO_NUL, description="The `nextCursor` of the previous page."
    )
    status: RunStatus | None = Field(None, description="Only runs with this status.")


# --- responses ------------------------------------------------------------------------------


class AuthHeaderOut(ApiModel):
    name: str
    value_masked: str | None


class SourceOut(ApiModel):
    type: SourceType
    url: str | None = None
    auth_header: AuthHeaderOut | None = None


class ScheduleOut(ApiModel):
    interval_minutes: int
    next_run_at: datetime | None


class SyncConfigOut(ApiModel):
    configured: bool = Field(description="False: defaults, nothing saved yet.")
    source: SourceOut
    schedule: ScheduleOut | None
    format: Format
    mode: Mode
    field_mapping: dict[str, str | None]
    default_currency: str
    error_threshold: float
    max_delete_ratio: float
    product_url_template: str | None
    webhook_secret_set: bool
    webhook_url: str = Field(description="Where the shop platform sends product webhooks.")
    updated_at: datetime | None

    @classmethod
    def of(cls, config: SyncConfig, *, configured: bool, base_url: str) -> "SyncConfigOut":
        auth = None
        if config.auth_header_name:
            auth = AuthHeaderOut(
                name=config.auth_header_name, value_masked=configs.mask(config.auth_header_value)
            )
        schedule = None
        if config.interval_minutes:
            schedule = ScheduleOut(
                interval_minutes=config.interval_minutes, next_run_at=config.next_run_at
            )
        return cls(
            configured=configured,
            source=SourceOut(type=config.source_type, url=config.source_url, auth_header=auth),
            schedule=schedule,
            format=config.format,
            mode=config.mode,
            field_mapping=dict(config.field_mapping or {}),
            default_currency=config.default_currency,
            error_threshold=config.error_threshold,
            max_delete_ratio=config.max_delete_ratio,
            product_url_template=config.product_url_template,
            webhook_secret_set=bool(config.webhook_secret),
            webhook_url=f"{base_url}/api/merchants/{config.merchant_id}/sync/webhook",
            updated_at=config.updated_at,
        )


class RowErrorOut(ApiModel):
    row: int = Field(description="Row in the file (CSV: the header is row 1; JSON: item number).")
    column: str | None
    reason: str


class RunCounts(ApiModel):
    rows: int
    created: int
    updated: int
    deleted: int
    unchanged: int
    invalid: int


class RunError(ApiModel):
    code: str
    message: str


class RunOut(ApiModel):
    id: str
    status: RunStatus
    source: RunSource
    trigger: RunTrigger
    mode: Mode
    force: bool
    format: str | None
    filename: str | None
    source_url: str | None
    bytes: int | None
    counts: RunCounts
    error: RunError | None
    error_sample: list[RowErrorOut] = Field(description="The first few row errors.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None

    @classmethod
    def fields_of(cls, run: SyncRun) -> dict[str, object]:
        duration = None
        if run.started_at and run.finished_at:
            duration = int((run.finished_at - run.started_at) / timedelta(milliseconds=1))
        return {
            "id": run.id,
            "status": run.status,
            "source": run.source,
            "trigger": run.trigger,
            "mode": run.mode,
            "force": run.force,
            "format": run.format,
            "filename": run.filename,
            "source_url": run.source_url,
            "bytes": run.bytes,
            "counts": RunCounts(
                rows=run.rows_total,
                created=run.created,
                updated=run.updated,
                deleted=run.deleted,
                unchanged=run.unchanged,
                invalid=run.invalid,
            ),
            "error": (
                RunError(code=run.error_code, message=run.error_message or "")
                if run.error_code
                else None
            ),
            "error_sample": [RowErrorOut(**item) for item in run.error_sample or []],
            "created_at": run.created_at,
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "duration_ms": duration,
        }

    @classmethod
    def of(cls, run: SyncRun) -> "RunOut":
        return cls(**cls.fields_of(run))


class RunDetail(RunOut):
    errors: list[RowErrorOut] = Field(description="Row errors, the first 1,000 by row.")
    errors_truncated: bool = Field(description="More rows were invalid than are listed.")

    @classmethod
    def of(cls, run: SyncRun) -> "RunDetail":
        errors = [RowErrorOut(**item) for item in run.errors or []]
        return cls(
            **cls.fields_of(run),
            errors=errors,
            errors_truncated=len(errors) >= runs.MAX_ERRORS,
        )


class RunPage(Page[RunOut]):
    pass


class CatalogCounts(ApiModel):
    products: int
    in_stock: int
    out_of_stock: int
    preorder: int
    backorder: int


class SyncStatus(ApiModel):
    state: Literal["idle", "running"]
    active_run: RunOut | None
    last_run: RunOut | None = Field(description="The latest finished run.")
    last_successful_run: RunOut | None
    next_scheduled_run_at: datetime | None
    catalog: CatalogCounts


class WebhookReceipt(ApiModel):
    status: ReceiptStatus
    action: ReceiptAction | None
    product_id: str | None


# --- handlers -------------------------------------------------------------------------------


async def _config_or_defaults(call: Call) -> tuple[SyncConfig, bool]:
    async with call.platform.sessions() as session:
        config = await configs.get_config(session, call.merchant_id)
    if config is None:
        return configs.defaults(call.merchant_id), False
    return config, True


async def get_sync_config_handler(call: Call) -> SyncConfigOut:
    config, configured = await _config_or_defaults(call)
    return SyncConfigOut.of(
        config, configured=configured, base_url=call.platform.settings.public_base_url
    )


async def put_sync_config_handler(call: Call) -> SyncConfigOut:
    body: SyncConfigIn = call.body
    settings = call.platform.settings
    update = configs.ConfigUpdate(
        source_type=body.source.type,
        format=body.format,
        mode=body.mode,
        field_mapping=dict(body.field_mapping),
        default_currency=body.default_currency,
        error_threshold=body.error_threshold,
        max_delete_ratio=body.max_delete_ratio,
        product_url_template=body.product_url_template,
        interval_minutes=body.schedule.interval_minutes if body.schedule else None,
        webhook_secret=(
            body.webhook_secret if "webhook_secret" in body.model_fields_set else configs.UNSET
        ),
    )
    if isinstance(body.source, UrlSourceIn):
        source = body.source
        _refuse_forbidden_target(source.url, settings.allow_private_network_targets)
        update = replace(update, source_url=source.url)
        if "auth_header" in source.model_fields_set:
            header = source.auth_header
            update = replace(
                update,
                auth_header_name=header.name if header else None,
                auth_header_value=header.value if header else None,
            )
        else:
            current, _ = await _config_or_defaults(call)
            # The stored credential goes on only to the origin it was given for: a key that
            # may change the URL must not be able to send it somewhere else.
            if current.source_url and _origin(current.source_url) == _origin(source.url):
                update = replace(update, auth_header_name=current.auth_header_name)
    async with call.platform.sessions() as session:
        config = await configs.save_config(session, call.merchant_id, update)
    return SyncConfigOut.of(config, configured=True, base_url=settings.public_base_url)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def _refuse_forbidden_target(url: str, allow_private: bool) -> None:
    """A refused address (in any notation) or metadata name is refused when saved; other
    hostnames are checked at each pull (their addresses can change)."""
    try:
        check_saved(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "The feed URL is not allowed.",
            details=[{"field": "source.url", "in": "body", "message": str(exc)}],
        ) from None


async def sync_status_handler(call: Call) -> SyncStatus:
    merchant_id = call.merchant_id
    async with call.platform.sessions() as session:
        active = await runs.active_run(session, merchant_id)
        finished = select(SyncRun).where(
            SyncRun.merchant_id == merchant_id,
            SyncRun.status.not_in(ACTIVE_RUN_STATUSES),
        )
        last = await session.scalar(finished.order_by(SyncRun.id.desc()).limit(1))
        last_ok = await session.scalar(
            finished.where(SyncRun.status.in_(("succeeded", "unchanged")))
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        config = await configs.get_config(session, merchant_id)
        counts = await catalog_counts(session, merchant_id)
    return SyncStatus(
        state=active.status if active else "idle",
        active_run=RunOut.of(active) if active else None,
        last_run=RunOut.of(last) if last else None,
        last_successful_run=RunOut.of(last_ok) if last_ok else None,
        next_scheduled_run_at=config.next_run_at if config else None,
        catalog=CatalogCounts(
            products=sum(counts.values()),
            in_stock=counts.get("in_stock", 0),
            out_of_stock=counts.get("out_of_stock", 0),
            preorder=counts.get("preorder", 0),
            backorder=counts.get("backorder", 0),
        ),
    )


def _conflict(run: SyncRun) -> ApiError:
    return ApiError(
        ErrorCode.CONFLICT,
        f"Sync run {run.id} is {run.status}; one run at a time. Follow it at "
        f"GET /sync/runs/{run.id} and try again when it has finished.",
        details=[{"runId": run.id, "status": run.status}],
    )


def _stale_after(call: Call) -> timedelta:
    return timedelta(seconds=call.platform.settings.sync_run_stale_seconds)


async def trigger_sync_handler(call: Call) -> RunOut:
    query: TriggerQuery = call.query
    platform = call.platform
    async with platform.sessions() as session:
        config = await configs.get_config(session, call.merchant_id)
        if config is None or config.source_type != "url":
            raise ApiError(
                ErrorCode.CONFLICT,
                "No feed is configured: PUT /sync/config with source.type 'url' first, or "
                "upload a file with POST /products/upload.",
            )
        try:
            run = await runs.start_run(
                session,
                merchant_id=call.merchant_id,
                source="feed",
                trigger="manual",
                mode=as_mode(config.mode),
                force=query.force,
                source_url=config.source_url,
                stale_after=_stale_after(call),
            )
        except runs.RunConflict as exc:
            raise _conflict(exc.run) from None
    in_background(feeds.pull(platform.sessions, platform.settings, run, config))
    return RunOut.of(run)


async def sync_history_handler(call: Call) -> RunPage:
    query: HistoryQuery = call.query
    statement = select(SyncRun).where(SyncRun.merchant_id == call.merchant_id)
    if query.status:
        statement = statement.where(SyncRun.status == query.status)
    if query.cursor:
        statement = statement.where(SyncRun.id < query.cursor)
    async with call.platform.sessions() as session:
        rows = list(
            await session.scalars(statement.order_by(SyncRun.id.desc()).limit(query.limit + 1))
        )
    page, next_cursor = split_page(rows, query.limit)
    return RunPage(items=[RunOut.of(run) for run in page], next_cursor=next_cursor)


async def _load_run(call: Call, run_id: str, *, with_errors: bool) -> SyncRun:
    statement = select(SyncRun).where(SyncRun.merchant_id == call.merchant_id, SyncRun.id == run_id)
    if with_errors:
        statement = statement.options(undefer(SyncRun.errors))
    async with call.platform.sessions() as session:
        run = await session.scalar(statement)
    if run is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such sync run.")
    return run


async def get_sync_run_handler(call: Call) -> RunDetail:
    return RunDetail.of(await _load_run(call, call.path["runId"], with_errors=True))


async def upload_products_handler(call: Call) -> RunOut:
    query: UploadQuery = call.query
    platform = call.platform
    settings = platform.settings
    async with platform.sessions() as session:
        # Refuse before reading a large body when a run is clearly in the way.
        active = await runs.active_run(session, call.merchant_id)
    if active is not None and not runs.is_abandoned(active, utcnow(), _stale_after(call)):
        raise _conflict(active)
    file, filename, content_type = await _receive_upload(
        call.request, settings.max_upload_bytes, query.filename
    )
    try:
        config, _ = await _config_or_defaults(call)
        async with platform.sessions() as session:
            run = await runs.start_run(
                session,
                merchant_id=call.merchant_id,
                source="upload",
                trigger="upload",
                mode=query.mode or as_mode(config.mode),
                force=query.force,
                filename=filename,
                stale_after=_stale_after(call),
            )
    except runs.RunConflict as exc:
        file.close()
        raise _conflict(exc.run) from None
    except BaseException:
        file.close()
        raise
    options = configs.import_options(
        config,
        format=query.format,
        mode=query.mode,
        force=query.force,
        content_type=content_type,
        filename=filename,
        max_bytes=settings.max_feed_bytes,
    )
    work = import_upload(
        platform.sessions, run, file, options, heartbeat_seconds=feeds.heartbeat_interval(settings)
    )
    if not query.wait:
        in_background(work)
        return RunOut.of(run)
    await work
    return RunOut.of(await _load_run(call, run.id, with_errors=False))


def _too_large(limit: int) -> ApiError:
    return ApiError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        f"The upload exceeds MAX_UPLOAD_BYTES ({limit} bytes); serve large catalogs as a feed "
        "URL (source.type 'url') instead.",
    )


def _empty() -> ApiError:
    return ApiError(
        ErrorCode.VALIDATION_FAILED,
        "The uploaded file is empty.",
        details=[{"field": "file", "in": "body", "message": "the file is empty"}],
    )


async def _receive_upload(
    request: Request, limit: int, filename: str | None
) -> tuple[IO[bytes], str | None, str | None]:
    """Spool the upload (multipart field `file`, or the raw body) to a temporary file that
    stays in memory only while small, refusing it past `limit` bytes."""
    content_type = request.headers.get("content-type", "")
    multipart = content_type.split(";")[0].strip().lower() == "multipart/form-data"
    allowed = limit + (_MULTIPART_SLACK if multipart else 0)
    # A malformed length is ignored: the byte count below enforces the limit anyway.
    declared = natural_or_none(request.headers.get("content-length"))
    if declared is not None and declared > allowed:
        raise _too_large(limit)

    async def capped() -> AsyncGenerator[bytes, None]:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > allowed:
                raise _too_large(limit)
            yield chunk

    if multipart:
        return await _receive_multipart(request, capped(), limit)
    spooled = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - handed on
    try:
        async for chunk in capped():
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
        raise _too_large(limit)
    if not upload.size:
        await form.close()
        raise _empty()
    return spooled, upload.filename, upload.content_type


def _disposition_filename(header: str) -> str | None:
    match = re.search(r'filename="?([^";]+)"?', header)
    return match[1][:500] if match else None


async def inbound_webhook_handler(call: Call) -> WebhookReceipt:
    request = call.request
    limit = call.platform.settings.max_json_body_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"The body exceeds {limit} bytes.")
    merchant_id = call.path["merchantId"]
    async with call.platform.sessions() as session:
        config = await configs.get_config(session, merchant_id)
        if config is None or not config.webhook_secret:
            # The same answer as a bad signature: a caller learns nothing about merchants.
            raise _unauthenticated("inbound webhooks need webhookSecret in the sync config")
        headers = {name.lower(): value for name, value in request.headers.items()}
        try:
            event = inbound.verify(config.webhook_secret, headers, bytes(body))
        except inbound.WebhookRejected as exc:
            raise _unauthenticated(str(exc)) from None
        try:
            receipt = await inbound.receive(session, config, event)
        except inbound.InvalidProduct as exc:
            raise ApiError(
                ErrorCode.VALIDATION_FAILED,
                "The product in the webhook is invalid.",
                details=[
                    {"field": error.column or "data", "in": "body", "message": error.reason}
                    for error in exc.errors
                ],
            ) from None
    return WebhookReceipt(
        status=receipt.status,
        action=receipt.action,
        product_id=receipt.product_id,
    )


def _unauthenticated(reason: str) -> ApiError:
    return ApiError(ErrorCode.UNAUTHENTICATED, f"Webhook refused: {reason}.")


_FLAG = "product_sync_enabled"
_BASE = "/api/merchants/{merchantId}"
_FILE = {"type": "string", "format": "binary"}
# The handlers read these bodies themselves (streamed, size-capped); described for clients.
# Any bytes are accepted as a file: what is wrong inside one is reported in the run.
_UPLOAD_BODY = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {**_FILE, "description": "The catalog file."}},
        }
    },
    **{
        media_type: {"schema": _FILE}
        for media_type in (
            "text/csv",
            "text/tab-separated-values",
            "application/x-ndjson",
            "application/xml",
            "application/gzip",
            "application/octet-stream",
        )
    },
    "application/json": {
        "schema": {"description": 'An array of products, or {"products": [...]}.'}
    },
}
_WEBHOOK_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "description": "Standard Webhooks: {type, data}; Shopify: the product itself.",
            "properties": {"type": {"type": "string"}, "data": {"type": "object"}},
        }
    }
}
_WEBHOOK_HEADERS = (
    {"name": "webhook-id", "schema": {"type": "string", "maxLength": 200}},
    {
        "name": "webhook-timestamp",
        "description": "Seconds since 1970, ASCII digits; within 5 minutes of now.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
    {"name": "webhook-signature", "description": "`v1,<base64>`, space-separated."},
    {"name": "X-Shopify-Hmac-Sha256", "description": "base64 HMAC-SHA256 of the body."},
    {"name": "X-Shopify-Topic", "description": "products/create, products/update, ..."},
)

ROUTES = [
    Endpoint(
        method="GET",
        path=f"{_BASE}/sync/config",
        handler=get_sync_config_handler,
        summary="Get the sync configuration (secrets masked)",
        tag="sync",
        permission="sync:read",
        response=SyncConfigOut,
        flag=_FLAG,
    ),
    Endpoint(
        method="PUT",
        path=f"{_BASE}/sync/config",
        handler=put_sync_config_handler,
        summary="Create or replace the sync configuration",
        description="Omitted secrets (source.authHeader, webhookSecret) keep their stored value.",
        tag="sync",
        permission="sync:write",
        body=SyncConfigIn,
        response=SyncConfigOut,
        flag=_FLAG,
    ),
    Endpoint(
        method="GET",
        path=f"{_BASE}/sync/status",
        handler=sync_status_handler,
        summary="Active and last runs, next scheduled pull, catalog counts",
        tag="sync",
        permission="sync:read",
        response=SyncStatus,
        flag=_FLAG,
    ),
    Endpoint(
        method="POST",
        path=f"{_BASE}/sync/trigger",
        handler=trigger_sync_handler,
        summary="Pull the configured feed now",
        description="Answers at once with the run; follow it at GET /sync/runs/{runId}.",
        tag="sync",
        permission="sync:write",
        query=TriggerQuery,
        response=RunOut,
        status=202,
        flag=_FLAG,
        errors=(ErrorCode.CONFLICT,),
    ),
    Endpoint(
        method="GET",
        path=f"{_BASE}/sync/history",
        handler=sync_history_handler,
        summary="Sync runs, newest first",
        tag="sync",
        permission="sync:read",
        query=HistoryQuery,
        response=RunPage,
        flag=_FLAG,
    ),
    Endpoint(
        method="GET",
        path=f"{_BASE}/sync/runs/{{runId}}",
        handler=get_sync_run_handler,
        summary="One sync run with its row errors",
        tag="sync",
        permission="sync:read",
        response=RunDetail,
        flag=_FLAG,
    ),
    Endpoint(
        method="POST",
        path=f"{_BASE}/products/upload",
        handler=upload_products_handler,
        summary="Upload a catalog file (CSV, TSV, JSON, NDJSON, Shopify, WooCommerce, GMC)",
        description=(
            "The file as multipart/form-data field `file`, or as the raw body with any "
            "Content-Type. Up to MAX_UPLOAD_BYTES (default 50 MB), gzip allowed. Answers 202 "
            "with the run; with `wait=true`, once the run has finished."
        ),
        tag="sync",
        permission="sync:write",
        query=UploadQuery,
        response=RunOut,
        status=202,
        flag=_FLAG,
        errors=(ErrorCode.CONFLICT, ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.BAD_REQUEST),
        raw_body=_UPLOAD_BODY,
    ),
    Endpoint(
        method="POST",
        path=f"{_BASE}/sync/webhook",
        handler=inbound_webhook_handler,
        summary="Inbound product webhook from the shop platform (signed, no API key)",
        description=(
            "Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature) or Shopify "
            "(X-Shopify-Hmac-Sha256, X-Shopify-Topic), signed with the config's webhookSecret. "
            "A replayed id changes nothing."
        ),
        tag="sync",
        audience=Audience.PUBLIC,
        response=WebhookReceipt,
        flag=_FLAG,
        errors=(
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.VALIDATION_FAILED,
            ErrorCode.PAYLOAD_TOO_LARGE,
        ),
        raw_body=_WEBHOOK_BODY,
        headers=tuple(
            {"schema": {"type": "string", "maxLength": 1000}, **header}
            for header in _WEBHOOK_HEADERS
        ),
    ),
]
