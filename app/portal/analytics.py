"""Analytics over a chosen range of days: the API's summary as headline figures, and each
series as a server-drawn SVG chart with its CSV (seed Tasks 4.1, 4.2)."""

from datetime import UTC, date, datetime, timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.bridge import call_api
from app.portal.charts import Series, Threshold, bar_chart, line_chart
from app.portal.web import api_permission, platform_of, raise_not_found, render, require
from app.services.accounts import SignedIn
from app.services.analytics_series import (
    DELIVERY_OBJECTIVE_PCT,
    GROUPS,
    LOAD_BUDGET_MS,
    SERIES,
    DailyAnalytics,
    InvalidRange,
    check_range,
    daily_analytics,
    questions_csv,
    series_csv,
)

SUMMARY = ("GET", "/api/analytics/summary")
DEFAULT_DAYS = 30
QUESTION_EXPORTS = {"top-questions", "no-product-questions"}


def _range(request: Request) -> tuple[date, date, dict[str, str]]:
    """The days asked for (default: the last 30 up to today, UTC) and any problem, by field."""
    today = datetime.now(UTC).date()
    problems: dict[str, str] = {}
    parsed: dict[str, date] = {}
    defaults = {"from": today - timedelta(days=DEFAULT_DAYS - 1), "to": today}
    for name, fallback in defaults.items():
        text = request.query_params.get(name, "").strip()
        try:
            parsed[name] = date.fromisoformat(text) if text else fallback
        except ValueError:
            problems[name] = "Enter a date as YYYY-MM-DD."
            parsed[name] = fallback
    if not problems:
        try:
            check_range(parsed["from"], parsed["to"])
        except InvalidRange as exc:
            problems["from"] = str(exc).capitalize() + "."
    return parsed["from"], parsed["to"], problems


async def _daily(request: Request, user: SignedIn, first: date, last: date) -> DailyAnalytics:
    async with platform_of(request).sessions() as session:
        return await daily_analytics(session, user.merchant_id, first, last)


def _charts(data: DailyAnalytics) -> list[tuple[str, Markup]]:
    """(CSV group, chart) in page order."""
    labels = [f"{day:%b} {day.day}" for day in data.days]

    def series(*keys: str) -> list[Series]:
        return [Series(SERIES[key].label, data.values[key]) for key in keys]

    return [
        (
            "widget-loads",
            bar_chart(
                "chart-loads",
                "Widget loads and load failures per day",
                labels,
                series("widget_loads", "widget_load_failures"),
            ),
        ),
        (
            "widget-loads",
            line_chart(
                "chart-load-failures",
                "Widget load failures (% of loads)",
                labels,
                series("widget_load_failure_pct"),
                unit="%",
            ),
        ),
        (
            "load-time",
            line_chart(
                "chart-load-time",
                "Widget load time, p50 and p95, against the 2 s budget",
                labels,
                series("load_p50_ms", "load_p95_ms"),
                unit=" ms",
                threshold=Threshold(LOAD_BUDGET_MS, "2 s budget"),
            ),
        ),
        (
            "chat",
            bar_chart(
                "chart-chat",
                "Chat sessions and questions per day",
                labels,
                series("sessions", "messages"),
            ),
        ),
        (
            "api",
            line_chart(
                "chart-api-latency",
                "API latency seen by the widget, p50 and p95",
                labels,
                series("api_latency_p50_ms", "api_latency_p95_ms"),
                unit=" ms",
            ),
        ),
        (
            "api",
            line_chart(
                "chart-api-errors",
                "API error rate seen by the widget (%)",
                labels,
                series("api_error_pct"),
                unit="%",
            ),
        ),
        (
            "sync",
            line_chart(
                "chart-sync",
                "Catalog sync success rate (%)",
                labels,
                series("sync_success_pct"),
                unit="%",
            ),
        ),
        (
            "webhooks",
            line_chart(
                "chart-webhooks",
                "Webhook delivery rate (%) against the 95 % objective",
                labels,
                series("webhook_delivery_pct"),
                unit="%",
                threshold=Threshold(DELIVERY_OBJECTIVE_PCT, "95 % objective"),
            ),
        ),
    ]


async def analytics_page(request: Request) -> Response:
    user = await require(request, api_permission(*SUMMARY))
    first, last, problems = _range(request)
    context: dict[str, object] = {
        "first": first,
        "last": last,
        "problems": problems,
        "range_query": f"from={first.isoformat()}&to={last.isoformat()}",
    }
    if problems:
        return render(request, "analytics.html", context, status=422, active="/portal/analytics")
    summary = await call_api(
        request,
        user,
        *SUMMARY,
        query={
            "from": datetime.combine(first, datetime.min.time(), UTC).isoformat(),
            "to": datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC).isoformat(),
        },
    )
    data = await _daily(request, user, first, last)
    context |= {"summary": summary, "data": data, "charts": _charts(data)}
    return render(request, "analytics.html", context, active="/portal/analytics")


async def analytics_export(request: Request) -> Response:
    user = await require(request, api_permission(*SUMMARY))
    group = request.path_params["group"]
    if group not in GROUPS and group not in QUESTION_EXPORTS:
        raise_not_found("export")
    first, last, problems = _range(request)
    if problems:
        return render(
            request,
            "analytics.html",
            {"first": first, "last": last, "problems": problems, "range_query": ""},
            status=422,
            active="/portal/analytics",
        )
    data = await _daily(request, user, first, last)
    if group == "top-questions":
        text = questions_csv(data.top_questions)
    elif group == "no-product-questions":
        text = questions_csv(data.no_product_questions)
    else:
        text = series_csv(data, group)
    name = f"{group}_{first.isoformat()}_{last.isoformat()}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


ROUTES = [
    Route("/analytics", analytics_page, methods=["GET"]),
    Route("/analytics/export/{group}.csv", analytics_export, methods=["GET"]),
]
