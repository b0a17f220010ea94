"""Catalog sync: the eight endpoints of DESIGN §8 (config, status, trigger, history, runs,
upload, inbound webhook). The work happens in app/services/catalog; these handlers translate."""

from dataclasses import replace
from datetime import timedelta

from app.db.models import SyncConfig, SyncRun, utcnow
from app.http.body import read_all_capped
from app.http.errors import ApiError, ErrorCode
from app.http.models import split_page
from app.http.routing import Audience, Call, Endpoint
from app.http.uploads import receive_upload
from app.routes.sync_models import (
    CatalogCounts,
    HistoryQuery,
    RunDetail,
    RunOut,
    RunPage,
    SyncConfigIn,
    SyncConfigOut,
    SyncStatus,
    TriggerQuery,
    UploadQuery,
    UrlSourceIn,
    WebhookReceipt,
)
from app.services.catalog import config as configs
from app.services.catalog import feeds, inbound, runs
from app.services.catalog.execute import import_upload, in_background
from app.services.catalog.search import catalog_counts
from app.services.catalog.terms import (
    as_mode,
)
from app.services.netguard import UnsafeTarget, check_saved

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
            update = replace(update, auth_header_name=configs.kept_auth_header(current, source.url))
    async with call.platform.sessions() as session:
        config = await configs.save_config(session, call.merchant_id, update)
    return SyncConfigOut.of(config, configured=True, base_url=settings.public_base_url)


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
        last = await runs.last_finished(session, merchant_id)
        last_ok = await runs.last_finished(session, merchant_id, successful=True)
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
    async with call.platform.sessions() as session:
        rows = await runs.list_runs(
            session,
            call.merchant_id,
            status=query.status,
            before=query.cursor,
            limit=query.limit + 1,
        )
    page, next_cursor = split_page(rows, query.limit)
    return RunPage(items=[RunOut.of(run) for run in page], next_cursor=next_cursor)


async def _load_run(call: Call, run_id: str, *, with_errors: bool) -> SyncRun:
    async with call.platform.sessions() as session:
        run = await runs.get_run(session, call.merchant_id, run_id, with_errors=with_errors)
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
    file, filename, content_type = await receive_upload(
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


async def inbound_webhook_handler(call: Call) -> WebhookReceipt:
    request = call.request
    body = await read_all_capped(request, call.platform.settings.max_json_body_bytes)
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
