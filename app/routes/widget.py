"""What the widget reads and reports with its publishable key (DESIGN §11), and the widget's
own files served at /widget/ (the CDN's stand-in when running locally)."""

import logging
import os
import re
from os import PathLike
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiInput, ApiModel
from app.http.routing import Audience, Call, Endpoint
from app.logs import LogFields
from app.services import analytics
from app.services.chat.vocabulary import vocabulary_for
from app.services.merchants import get_merchant

log = logging.getLogger(__name__)

DEFAULT_GREETING = "Hi! Ask me anything about our products."
MAX_BEACONS = 50
WIDGET_DIST = Path(__file__).resolve().parents[2] / "widget" / "dist"
# The CDN's cache rules (stacks/widget_cdn.py, ops/cdn.py): versioned files never change;
# the loader and manifest are aliases re-pointed on every release.
_IMMUTABLE = re.compile(r"^rag-assistant\.[^/]+\.js(\.map)?$")
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
ALIAS_CACHE = "public, max-age=60"


class WidgetTheme(ApiModel):
    primary_color: str = "#1f6feb"
    position: str = "bottom-right"


class WidgetConfig(ApiModel):
    merchant_id: str
    merchant_name: str
    greeting: str
    theme: WidgetTheme
    suggestions: list[str] = Field(
        description="Popular categories of the catalog, offered as first questions."
    )


async def widget_config_handler(call: Call) -> WidgetConfig:
    async with call.platform.sessions() as session:
        merchant = await get_merchant(session, call.merchant_id)
    if merchant is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such merchant.")
    vocabulary = await vocabulary_for(call.platform.sessions, merchant.id)
    return WidgetConfig(
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        greeting=DEFAULT_GREETING,
        theme=WidgetTheme(),
        suggestions=list(vocabulary.popular_categories[:4]),
    )


class WidgetEventIn(ApiInput):
    type: Literal["widget_loaded", "widget_load_failed", "api_error", "api_latency"]
    # Strict: a boolean or a numeric string is a client bug, not a number.
    duration_ms: float | None = Field(
        None,
        strict=True,
        ge=0,
        le=600_000,
        description="`widget_loaded`: from the loader's start to ready; `api_latency`: the "
        "call's duration.",
    )
    code: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="`api_error`: the error code; `widget_load_failed`: why (e.g. `integrity`).",
    )
    route: str | None = Field(
        None, max_length=100, description="API route template, e.g. `POST /api/chat/sessions`."
    )
    status: int | None = Field(
        None, strict=True, ge=0, le=599, description="HTTP status (0: no response)."
    )
    widget_version: str | None = Field(None, max_length=32, pattern=r"^[0-9A-Za-z.+-]+$")
    session_id: str | None = Field(None, pattern=r"^ses_[0-9A-Z]{26}$")

    @model_validator(mode="after")
    def _duration_where_needed(self) -> "WidgetEventIn":
        if self.type in {"widget_loaded", "api_latency"} and self.duration_ms is None:
            raise ValueError(f"{self.type} needs durationMs")
        return self


class WidgetEventsIn(ApiInput):
    events: list[WidgetEventIn] = Field(min_length=1, max_length=MAX_BEACONS)


class EventsAccepted(ApiModel):
    accepted: int


async def widget_events_handler(call: Call) -> EventsAccepted:
    body: WidgetEventsIn = call.body
    beacons = [
        analytics.Beacon(
            type=event.type,
            duration_ms=event.duration_ms,
            code=event.code,
            route=event.route,
            status=event.status,
            widget_version=event.widget_version,
            session_id=event.session_id,
        )
        for event in body.events
    ]
    origin = call.request.headers.get("origin")
    async with call.platform.sessions() as session:
        accepted = await analytics.record_beacons(
            session, call.merchant_id, beacons, origin=origin[:300] if origin else None
        )
    analytics.count_in_metrics(beacons)
    for beacon in beacons:
        if beacon.type == "widget_load_failed":
            # Which shop, page and bundle (WidgetLoadFailureRate runbook).
            log.warning(
                "widget load failed",
                extra=LogFields(
                    merchantId=call.merchant_id,
                    origin=(origin or "")[:200],
                    errorCode=beacon.code,
                    widgetVersion=beacon.widget_version,
                ),
            )
    return EventsAccepted(accepted=accepted)


class WidgetFiles(StaticFiles):
    """widget/dist/ with the CDN's headers: cache rules per file kind, and CORS for any origin
    (the bundle is loaded with `crossorigin` for its integrity check; the loader fetches the
    manifest). No cookies are ever involved."""

    def file_response(
        self,
        full_path: str | PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        name = Path(full_path).name
        immutable = _IMMUTABLE.match(name) is not None
        response.headers["Cache-Control"] = IMMUTABLE_CACHE if immutable else ALIAS_CACHE
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if name.endswith(".js"):
            response.headers["Content-Type"] = "text/javascript; charset=utf-8"
        return response


def widget_files(directory: Path = WIDGET_DIST) -> WidgetFiles:
    """Serves whatever `invoke widget.build` left in `directory`, even if built later."""
    return WidgetFiles(directory=directory, check_dir=False)


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/widget/config",
        handler=widget_config_handler,
        summary="Widget settings for the key's merchant (name, greeting, theme)",
        tag="widget",
        permission="chat:write",
        audience=Audience.WIDGET,
        response=WidgetConfig,
    ),
    Endpoint(
        method="POST",
        path="/api/widget/events",
        handler=widget_events_handler,
        summary="Widget telemetry: load time, load failures, API latency and errors",
        tag="widget",
        permission="chat:write",
        audience=Audience.WIDGET,
        body=WidgetEventsIn,
        response=EventsAccepted,
        status=202,
        description=(
            "Feeds `widget_loads_total{status}`, `widget_load_seconds` and the analytics "
            f"summary. At most {MAX_BEACONS} events per call. The widget sends them with "
            "`fetch(..., {keepalive: true})`, which outlives the page like sendBeacon does."
        ),
    ),
]
