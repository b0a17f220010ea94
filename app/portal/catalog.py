"""The catalog: sync configuration, upload with a progress bar, "sync now", run history with a
run's row errors, and product search (seed Task 1.x; DESIGN §8). Every action runs the API
route that does the same through `call_api`: the same permission, validation and service.

An upload is read once by the portal (its CSRF field travels in the same multipart body) and
then replayed as a raw body to the API's upload handler, so size limits, format detection and
the run are exactly the API's."""

from collections.abc import Mapping
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from app.http.errors import ApiError
from app.portal.bridge import Invalid, call_api
from app.portal.web import (
    PortalError,
    api_permission,
    field,
    form,
    platform_of,
    redirect,
    render,
    require,
)
from app.services.accounts import SignedIn

BASE = "/api/merchants/{merchantId}"
CONFIG = BASE + "/sync/config"
STATUS = BASE + "/sync/status"
HISTORY = BASE + "/sync/history"
RUN = BASE + "/sync/runs/{runId}"
TRIGGER = BASE + "/sync/trigger"
UPLOAD = BASE + "/products/upload"
PRODUCTS = BASE + "/products"
ACTIVE = "/portal/catalog"
FORMATS = ("auto", "csv", "tsv", "shopify", "woocommerce", "json", "ndjson", "gmc")
# Room for the multipart framing and the other fields around the file.
_MULTIPART_SLACK = 64 * 1024
_CHUNK = 64 * 1024


async def _page(request: Request, user: SignedIn, *, status: int = 200, **extra: Any) -> Response:
    config = await call_api(request, user, "GET", CONFIG)
    state = await call_api(request, user, "GET", STATUS)
    cursor = request.query_params.get("runs") or None
    try:
        history = await call_api(
            request, user, "GET", HISTORY, query={"limit": 20, "cursor": cursor}
        )
    except Invalid:
        history = await call_api(request, user, "GET", HISTORY, query={"limit": 20})
    search = {k: v for k, v in request.query_params.items() if k in ("q", "availability") and v}
    products, search_problem = None, None
    if search or request.query_params.get("cursor"):
        try:
            products = await call_api(
                request,
                user,
                "GET",
                PRODUCTS,
                query={**search, "cursor": request.query_params.get("cursor"), "limit": 20},
            )
        except Invalid as exc:
            search_problem = "; ".join(exc.errors.values())
    context = {
        "config": config,
        "state": state,
        "history": history,
        "search": search,
        "products": products,
        "search_problem": search_problem,
        "formats": FORMATS,
        "errors": {},
        "values": _values_of(config),
        "notice": request.query_params.get("done"),
        "max_upload_mb": platform_of(request).settings.max_upload_bytes // (1024 * 1024),
        **extra,
    }
    return render(request, "catalog.html", context, status=status, active=ACTIVE)


def _values_of(config: Any) -> dict[str, str]:
    """The form's fields as the stored configuration fills them."""
    return {
        "sourceType": config.source.type,
        "url": config.source.url or "",
        "authName": config.source.auth_header.name if config.source.auth_header else "",
        "interval": str(config.schedule.interval_minutes) if config.schedule else "",
        "format": config.format,
        "mode": config.mode,
        "currency": config.default_currency,
        "errorThreshold": f"{config.error_threshold * 100:g}",
        "maxDeleteRatio": f"{config.max_delete_ratio * 100:g}",
        "productUrlTemplate": config.product_url_template or "",
    }


async def catalog_page(request: Request) -> Response:
    user = await require(request, api_permission("GET", STATUS))
    return await _page(request, user)


def _number(values: Mapping[str, str], name: str, errors: dict[str, str], *, percent: bool) -> Any:
    text = values.get(name, "").strip()
    try:
        return float(text) / 100 if percent else int(text)
    except ValueError:
        errors[name] = "Enter a number." if percent else "Enter a whole number of minutes."
        return None


def _config_body(values: dict[str, str], current: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The PUT /sync/config body the form describes, or the fields it cannot even express."""
    errors: dict[str, str] = {}
    source: dict[str, Any] = {"type": values["sourceType"] or "upload"}
    if source["type"] == "url":
        source["url"] = values["url"]
        if values["authValue"]:
            source["authHeader"] = {
                "name": values["authName"] or "Authorization",
                "value": values["authValue"],
            }
        elif values["authRemove"]:
            source["authHeader"] = None
    body: dict[str, Any] = {
        "source": source,
        "format": values["format"],
        "mode": values["mode"],
        "defaultCurrency": values["currency"].upper(),
        "errorThreshold": _number(values, "errorThreshold", errors, percent=True),
        "maxDeleteRatio": _number(values, "maxDeleteRatio", errors, percent=True),
        "productUrlTemplate": values["productUrlTemplate"] or None,
        # Not on this form: kept as they are.
        "fieldMapping": dict(current.field_mapping),
    }
    if values["interval"]:
        body["schedule"] = {"intervalMinutes": _number(values, "interval", errors, percent=False)}
    return body, errors


_FORM_FIELDS = (
    "sourceType", "url", "authName", "authValue", "authRemove", "interval", "format", "mode",
    "currency", "errorThreshold", "maxDeleteRatio", "productUrlTemplate",
)  # fmt: skip
# Where each API field's error is shown on the form.
_FIELD_OF = {
    "source.url": "url", "source": "sourceType", "schedule": "interval",
    "schedule.intervalMinutes": "interval", "defaultCurrency": "currency",
    "errorThreshold": "errorThreshold", "maxDeleteRatio": "maxDeleteRatio",
    "productUrlTemplate": "productUrlTemplate", "source.authHeader.name": "authName",
    "source.authHeader.value": "authValue", "format": "format", "mode": "mode",
}  # fmt: skip


def _form_field(api_field: str) -> str:
    # The source is a tagged union: pydantic names the tag in the path (source.url.url).
    for tag in ("url", "upload"):
        api_field = api_field.replace(f"source.{tag}.", "source.", 1)
    return _FIELD_OF.get(api_field, "form")


async def save_config(request: Request) -> Response:
    user = await require(request, api_permission("PUT", CONFIG))
    data = await form(request, max_files=0, max_fields=30)
    values = {name: field(data, name) for name in _FORM_FIELDS}
    current = await call_api(request, user, "GET", CONFIG)
    body, errors = _config_body(values, current)
    if not errors:
        try:
            await call_api(request, user, "PUT", CONFIG, body=body)
            return redirect(f"{ACTIVE}?done=saved")
        except Invalid as exc:
            errors = {_form_field(name): message for name, message in exc.errors.items()}
        except ApiError as exc:
            for detail in exc.details or []:
                errors[_form_field(str(detail.get("field")))] = str(detail["message"])
            errors.setdefault("form", exc.message)
    values.pop("authValue")  # never echoed back into the page
    return await _page(request, user, status=422, errors=errors, values=values)


async def sync_now(request: Request) -> Response:
    user = await require(request, api_permission("POST", TRIGGER))
    data = await form(request, max_files=0, max_fields=5)
    run = await call_api(
        request, user, "POST", TRIGGER, query={"force": bool(field(data, "force"))}
    )
    return redirect(f"{ACTIVE}/runs/{run.id}")


def _capped(request: Request, limit: int) -> Request:
    """The request, refusing its body past `limit` bytes (Starlette's form parser has no cap)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(request)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _too_large(request)
        return message

    return Request(request.scope, receive)


def _too_large(request: Request) -> PortalError:
    limit = platform_of(request).settings.max_upload_bytes // (1024 * 1024)
    return PortalError(
        413,
        "This file is too large",
        f"Uploads are limited to {limit} MB. Serve a large catalog as a feed URL instead "
        "(Catalog → Sync configuration → Feed URL).",
    )


def _replayed(request: Request, upload: UploadFile) -> Request:
    """A request whose raw body is the uploaded file, as the API takes a raw upload."""
    upload.file.seek(0)
    headers = [
        (b"content-type", (upload.content_type or "application/octet-stream").encode("latin-1")),
        (b"content-length", str(upload.size or 0).encode()),
    ]

    async def receive() -> Message:
        chunk = upload.file.read(_CHUNK)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    return Request({**request.scope, "headers": headers}, receive)


async def upload(request: Request) -> Response:
    user = await require(request, api_permission("POST", UPLOAD))
    limit = platform_of(request).settings.max_upload_bytes + _MULTIPART_SLACK
    data: FormData = await form(_capped(request, limit), max_files=1, max_fields=10)
    file = data.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        user_errors = {"file": "Choose a catalog file to upload."}
        return await _page(request, user, status=422, errors=user_errors)
    query = {"filename": file.filename[:500], "mode": field(data, "mode") or None}
    try:
        run = await call_api(
            request, user, "POST", UPLOAD, query=query, raw_request=_replayed(request, file)
        )
    except ApiError as exc:
        return await _page(request, user, status=exc.status, errors={"file": exc.message})
    finally:
        await data.close()
    return redirect(f"{ACTIVE}/runs/{run.id}")


async def run_page(request: Request) -> Response:
    user = await require(request, api_permission("GET", RUN))
    run = await call_api(
        request, user, "GET", RUN, path_params={"runId": request.path_params["id"]}
    )
    return render(request, "catalog_run.html", {"run": run}, active=ACTIVE)


ROUTES = [
    Route("/catalog", catalog_page, methods=["GET"]),
    Route("/catalog/config", save_config, methods=["POST"]),
    Route("/catalog/sync", sync_now, methods=["POST"]),
    Route("/catalog/upload", upload, methods=["POST"]),
    Route("/catalog/runs/{id}", run_page, methods=["GET"]),
]
