"""Webhooks: endpoints (create, enable, disable, delete, rotate the secret), the simulator and
the delivery log with filters and retry (seed Tasks 2.3, 4.4). Each action runs the API route
that does the same (`call_api`); the simulator, which has no API twin, checks the permission of
the API's test send and calls `services.webhooks.simulator`."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.db.models import utcnow
from app.http.errors import ApiError
from app.portal.bridge import Invalid, call_api
from app.portal.web import (
    api_permission,
    field,
    form,
    platform_of,
    raise_not_found,
    redirect,
    render,
    require,
)
from app.services.accounts import SignedIn
from app.services.webhooks import endpoints as endpoint_service
from app.services.webhooks.events import EVENT_TYPES
from app.services.webhooks.simulator import (
    InvalidPayload,
    parse_payload,
    sample_payload,
    simulate,
)

ENDPOINTS = "/api/webhooks/endpoints"
ENDPOINT = "/api/webhooks/endpoints/{endpointId}"
DELIVERIES = "/api/webhooks/deliveries"
ACTIVE = "/portal/webhooks"
_FILTERS = ("endpointId", "eventType", "status", "cursor")


async def _page(request: Request, user: SignedIn, *, status: int = 200, **extra: Any) -> Response:
    endpoints = await call_api(request, user, "GET", ENDPOINTS, query={"limit": 100})
    filters = {
        name: request.query_params[name] for name in _FILTERS if request.query_params.get(name)
    }
    try:
        deliveries = await call_api(
            request, user, "GET", DELIVERIES, query={**filters, "limit": 25}
        )
        filter_problem = None
    except Invalid as exc:
        deliveries, filter_problem = None, "; ".join(exc.errors.values())
    context = {
        "endpoints": endpoints.items,
        "deliveries": deliveries,
        "filters": filters,
        "filter_problem": filter_problem,
        "event_types": list(EVENT_TYPES.values()),
        "statuses": ("pending", "sending", "succeeded", "failed"),
        "errors": {},
        "values": {},
        "secret": None,
        **extra,
    }
    return render(request, "webhooks.html", context, status=status, active=ACTIVE)


async def webhooks_page(request: Request) -> Response:
    user = await require(request, api_permission("GET", ENDPOINTS))
    return await _page(request, user)


async def create_endpoint(request: Request) -> Response:
    user = await require(request, api_permission("POST", ENDPOINTS))
    data = await form(request, max_files=0, max_fields=20)
    values = {
        "url": field(data, "url"),
        "description": field(data, "description"),
        "eventTypes": [str(v) for v in data.getlist("eventTypes")],
    }
    try:
        created = await call_api(request, user, "POST", ENDPOINTS, body=values)
    except Invalid as exc:
        return await _page(request, user, status=422, errors=exc.errors, values=values)
    except ApiError as exc:
        # The SSRF check and the endpoint limit answer as the API does, next to the URL.
        return await _page(
            request, user, status=exc.status, errors={"url": exc.message}, values=values
        )
    return await _page(request, user, secret={"endpoint": created, "rotated": False})


async def endpoint_action(request: Request) -> Response:
    action = request.path_params["action"]
    routes = {
        "enable": ("POST", ENDPOINT + "/enable"),
        "disable": ("POST", ENDPOINT + "/disable"),
        "rotate-secret": ("POST", ENDPOINT + "/rotate-secret"),
        "delete": ("DELETE", ENDPOINT),
    }
    if action not in routes:
        raise_not_found("action")
    user = await require(request, api_permission(*routes[action]))
    await form(request, max_files=0, max_fields=5)
    result = await call_api(
        request, user, *routes[action], path_params={"endpointId": request.path_params["id"]}
    )
    if action == "rotate-secret":
        return await _page(request, user, secret={"endpoint": result, "rotated": True})
    return redirect(ACTIVE)


async def retry_delivery(request: Request) -> Response:
    path = DELIVERIES + "/{deliveryId}/retry"
    user = await require(request, api_permission("POST", path))
    await form(request, max_files=0, max_fields=5)
    await call_api(
        request, user, "POST", path, path_params={"deliveryId": request.path_params["id"]}
    )
    return redirect(f"{ACTIVE}?status=pending#deliveries")


# ---- the simulator ----------------------------------------------------------------------

SEND = ("POST", ENDPOINT + "/test")


async def _simulator(
    request: Request,
    user: SignedIn,
    *,
    event_type: str,
    endpoint_id: str,
    payload: str | None,
    status: int = 200,
    **extra: Any,
) -> Response:
    if event_type not in EVENT_TYPES:
        event_type = "sync.failed"
    endpoints = await call_api(request, user, "GET", ENDPOINTS, query={"limit": 100})
    context = {
        "event_types": list(EVENT_TYPES.values()),
        "event": EVENT_TYPES[event_type],
        "endpoints": endpoints.items,
        "endpoint_id": endpoint_id,
        "payload": payload
        or sample_payload(event_type, now=utcnow(), endpoint_id=endpoint_id or None),
        "problem": None,
        "result": None,
        **extra,
    }
    return render(request, "webhook_simulator.html", context, status=status, active=ACTIVE)


async def simulator_page(request: Request) -> Response:
    user = await require(request, api_permission("GET", "/api/webhooks/event-types"))
    return await _simulator(
        request,
        user,
        event_type=request.query_params.get("type", ""),
        endpoint_id=request.query_params.get("endpoint", ""),
        payload=None,
    )


async def simulator_send(request: Request) -> Response:
    user = await require(request, api_permission(*SEND))
    data = await form(request, max_files=0, max_fields=10)
    event_type, endpoint_id = field(data, "type"), field(data, "endpoint")
    text = str(data.get("payload") or "")
    async with platform_of(request).sessions() as session:
        endpoint = await endpoint_service.get_endpoint(session, user.merchant_id, endpoint_id)
    if endpoint is None:
        raise_not_found("webhook endpoint")
    try:
        payload = parse_payload(event_type, text)
    except InvalidPayload as exc:
        return await _simulator(
            request,
            user,
            event_type=event_type,
            endpoint_id=endpoint_id,
            payload=text,
            status=422,
            problem=str(exc),
        )
    settings = platform_of(request).settings
    result = await simulate(
        endpoint,
        payload,
        deadline=settings.webhook_timeout_seconds,
        allow_private=settings.allow_private_network_targets,
    )
    return await _simulator(
        request, user, event_type=event_type, endpoint_id=endpoint_id, payload=text, result=result
    )


ROUTES = [
    Route("/webhooks", webhooks_page, methods=["GET"]),
    Route("/webhooks/endpoints", create_endpoint, methods=["POST"]),
    Route("/webhooks/endpoints/{id}/{action}", endpoint_action, methods=["POST"]),
    Route("/webhooks/deliveries/{id}/retry", retry_delivery, methods=["POST"]),
    Route("/webhooks/simulator", simulator_page, methods=["GET"]),
    Route("/webhooks/simulator", simulator_send, methods=["POST"]),
]
