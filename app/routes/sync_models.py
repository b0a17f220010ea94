"""The catalog sync API's request and response models (DESIGN §8): what the OpenAPI document
shows and what the handlers in `app/routes/sync.py` validate and return."""

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

from app.db.models import SyncConfig, SyncRun
from app.http.models import ApiInput, ApiModel, Page, PageQuery
from app.services.catalog import config as configs
from app.services.catalog import runs
from app.services.catalog.records import FieldName
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
)
from app.services.netguard import UnsafeTarget, check_url_syntax

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# PostgreSQL text cannot hold NUL: refused at the edge rather than failing in the database.
NO_NUL = r"^[^\x00]*$"


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
