"""The overview: an integration checklist with live state, each item linking to its fix.

Every item is read with the permission of the API route that shows the same data, and an item
the role cannot read is left out rather than shown empty.
"""

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db.models import utcnow
from app.portal.web import api_permission, platform_of, render, require
from app.services import integration
from app.services.accounts import SignedIn

WEBHOOK_TARGET = 0.95  # the delivery rate the analytics page also holds webhooks to


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    state: str  # ok | todo | bad
    detail: str
    link: str
    action: str


def _catalog(state: integration.CatalogState) -> Item:
    run = state.last_run
    link, action = "/portal/catalog", "Open the catalog"
    if run is None:
        return Item("Catalog synced", "todo", "No catalog yet.", link, "Upload a catalog")
    when = run.finished_at or run.created_at
    summary = f"{state.products} products; last run {run.status} at {when:%Y-%m-%d %H:%M} UTC"
    if run.status in {"succeeded", "unchanged"} and state.products:
        return Item("Catalog synced", "ok", summary + ".", link, action)
    if run.status in {"queued", "running"}:
        return Item("Catalog synced", "todo", summary + " (in progress).", link, action)
    reason = f": {run.error_message}" if run.error_message else "."
    return Item("Catalog synced", "bad", summary + reason, link, "See what failed")


def _widget(state: integration.WidgetState) -> Item:
    if state.last_load_at is None:
        return Item(
            "Widget seen on your site",
            "todo",
            "The widget has not loaded on any page yet.",
            "/portal/widget",
            "Install the widget",
        )
    seen = f"Last loaded {state.last_load_at:%Y-%m-%d %H:%M} UTC on {state.last_origin or '?'}"
    if not state.domains:
        return Item(
            "Widget seen on your site",
            "todo",
            seen + ", but no allowed domains are set: any site can use your key.",
            "/portal/domains",
            "Set allowed domains",
        )
    if not state.origin_allowed:
        return Item(
            "Widget seen on your site",
            "bad",
            seen + ", which is not an allowed domain.",
            "/portal/domains",
            "Check allowed domains",
        )
    fresh = utcnow() - state.last_load_at <= integration.RECENT
    return Item(
        "Widget seen on your site",
        "ok" if fresh else "todo",
        seen + ("." if fresh else ": not in the last 7 days."),
        "/portal/widget",
        "Widget settings",
    )


def _webhooks(state: integration.WebhookState) -> Item:
    link = "/portal/webhooks"
    if not state.endpoints:
        return Item("Webhooks delivering", "todo", "No endpoints.", link, "Add an endpoint")
    rate = state.success_rate
    endpoints = f"{state.enabled} of {state.endpoints} endpoints enabled"
    if rate is None:
        detail = f"{endpoints}; no deliveries in the last 24 hours."
        return Item(
            "Webhooks delivering",
            "ok" if state.enabled else "todo",
            detail,
            link,
            "Send a test event",
        )
    done = state.succeeded + state.failed
    detail = f"{endpoints}; {rate:.0%} of {done} deliveries succeeded in the last 24 hours."
    state_name = "ok" if rate >= WEBHOOK_TARGET and state.enabled else "bad"
    return Item("Webhooks delivering", state_name, detail, link, "See the delivery log")


def _keys(state: integration.KeyState) -> Item:
    link = "/portal/keys"
    last = state.secret_last_used
    if last is None:
        return Item(
            "API keys in use",
            "todo",
            f"{state.active_secret} active secret keys, none used yet.",
            link,
            "Create a key",
        )
    recent = utcnow() - last <= integration.RECENT
    detail = f"Secret key last used {last:%Y-%m-%d %H:%M} UTC"
    if state.publishable_last_used:
        detail += f"; publishable key {state.publishable_last_used:%Y-%m-%d %H:%M} UTC"
    return Item("API keys in use", "ok" if recent else "todo", detail + ".", link, "Manage keys")


async def _items(request: Request, user: SignedIn) -> list[Item]:
    items = []
    async with platform_of(request).sessions() as session:
        if user.can(api_permission("GET", "/api/merchants/{merchantId}/sync/history")):
            items.append(_catalog(await integration.catalog_state(session, user.merchant_id)))
        if user.can(api_permission("GET", "/api/merchants/{merchantId}/domains")):
            items.append(_widget(await integration.widget_state(session, user.merchant_id)))
        if user.can(api_permission("GET", "/api/webhooks/endpoints")):
            items.append(_webhooks(await integration.webhook_state(session, user.merchant_id)))
        if user.can(api_permission("GET", "/api/keys")):
            items.append(_keys(await integration.key_state(session, user.merchant_id)))
    return items


async def overview_page(request: Request) -> Response:
    user = await require(request)
    items = await _items(request, user)
    return render(
        request,
        "overview.html",
        {
            "merchant_id": user.merchant_id,
            "items": items,
            "done": sum(i.state == "ok" for i in items),
        },
        active="/portal/",
    )


ROUTES = [Route("/", overview_page, methods=["GET"])]
