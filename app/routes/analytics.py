"""Analytics for merchants: widget loads and speed, chat use, API errors, sync health."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, create_model

from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiModel
from app.http.routing import Call, Endpoint
from app.parsing import iso_instant, shift
from app.services.analytics import Summary, summarize

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=400)


def _iso_8601(value: Any) -> Any:
    """Only ISO 8601 text: pydantic would also take "0.5" as seconds since 1970."""
    if isinstance(value, str):
        return iso_instant(value)  # ParseError (a ValueError) → 422 naming the field
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601)]

# `from` is a Python keyword, so the query model is built from a mapping.
_SUMMARY_FIELDS: dict[str, Any] = {
    "from": (
        IsoDateTime | None,
        Field(
            None,
            description="Start (inclusive), ISO 8601, e.g. 2026-11-01T00:00:00Z; "
            "default: `to` minus 7 days.",
        ),
    ),
    "to": (IsoDateTime | None, Field(None, description="End (exclusive); default: now.")),
}
SummaryQuery: type[BaseModel] = create_model("SummaryQuery", **_SUMMARY_FIELDS)


class LoadTimes(ApiModel):
    p50: float | None = Field(description="Median widget load time in ms (null: no loads).")
    p95: float | None
    samples: int


class WidgetStats(ApiModel):
    loads: int = Field(description="Widgets that loaded (`widget_loaded` beacons).")
    failures: int = Field(description="Loads that failed (`widget_load_failed` beacons).")
    failure_rate: float | None = Field(description="failures / (loads + failures).")
    load_time_ms: LoadTimes = Field(description="From the loader's start to widget ready.")


class ChatStats(ApiModel):
    sessions: int
    messages: int = Field(description="Questions asked by shoppers.")
    fallback_replies: int = Field(
        description="Replies written offline because the language model failed or was slow."
    )


class ApiStats(ApiModel):
    calls: int = Field(description="API calls the widget reported (successes and errors).")
    errors: int
    error_rate: float | None


class SyncStats(ApiModel):
    runs: int = Field(description="Sync runs that finished in the window.")
    succeeded: int
    success_rate: float | None


class AnalyticsSummary(ApiModel):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    widget: WidgetStats
    chat: ChatStats
    api: ApiStats
    sync: SyncStats

    @classmethod
    def of(cls, summary: Summary) -> "AnalyticsSummary":
        return cls(
            start=summary.start,
            end=summary.end,
            widget=WidgetStats(
                loads=summary.widget_loads,
                failures=summary.widget_load_failures,
                failure_rate=summary.widget_load_failure_rate,
                load_time_ms=LoadTimes(
                    p50=summary.load_time_ms.p50,
                    p95=summary.load_time_ms.p95,
                    samples=summary.load_time_ms.samples,
                ),
            ),
            chat=ChatStats(
                sessions=summary.sessions,
                messages=summary.messages,
                fallback_replies=summary.replies_fallback,
            ),
            api=ApiStats(
                calls=summary.api_calls,
                errors=summary.api_errors,
                error_rate=summary.api_error_rate,
            ),
            sync=SyncStats(
                runs=summary.sync_runs,
                succeeded=summary.sync_succeeded,
                success_rate=summary.sync_success_rate,
            ),
        )


def _window(query: BaseModel) -> tuple[datetime, datetime]:
    # Both are UTC already (iso_instant); near year 1 the default start stops at the first day.
    end = getattr(query, "to") or datetime.now(UTC)  # noqa: B009 - see SummaryQuery
    start = getattr(query, "from") or shift(end, -DEFAULT_WINDOW)
    problem = None
    if start >= end:
        problem = "`from` must be before `to`"
    elif end - start > MAX_WINDOW:
        problem = f"the window may span at most {MAX_WINDOW.days} days"
    if problem:
        raise ApiError(
            ErrorCode.VALIDATION_FAILED,
            "The request query is invalid.",
            details=[{"field": "from", "in": "query", "message": problem, "type": "value_error"}],
        )
    return start, end


async def analytics_summary_handler(call: Call) -> AnalyticsSummary:
    start, end = _window(call.query)
    async with call.platform.sessions() as session:
        summary = await summarize(session, call.merchant_id, start, end)
    return AnalyticsSummary.of(summary)


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/analytics/summary",
        handler=analytics_summary_handler,
        summary="Widget, chat, API and sync figures for a time window",
        tag="analytics",
        permission="analytics:read",
        query=SummaryQuery,
        response=AnalyticsSummary,
    ),
]
