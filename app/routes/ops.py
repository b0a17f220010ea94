"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiModel
from app.http.routing import Audience, Call, Endpoint
from app.metrics import REGISTRY


class Health(ApiModel):
    status: str


class Readiness(ApiModel):
    status: str
    checks: dict[str, str]


async def healthz_handler(call: Call) -> Health:
    return Health(status="ok")


async def readyz_handler(call: Call) -> Readiness:
    checks = await call.platform.readiness()
    if "error" in checks.values():
        raise ApiError(
            ErrorCode.UPSTREAM_UNAVAILABLE,
            "Not ready: a dependency is unreachable.",
            details=[{"dependency": name, "status": state} for name, state in checks.items()],
            status=503,
        )
    return Readiness(status="ready", checks=checks)


async def metrics_handler(call: Call) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


ROUTES = [
    Endpoint(
        method="GET",
        path="/healthz",
        handler=healthz_handler,
        summary="Liveness: the process is up",
        tag="operations",
        audience=Audience.PUBLIC,
        response=Health,
    ),
    Endpoint(
        method="GET",
        path="/readyz",
        handler=readyz_handler,
        summary="Readiness: the database and Redis are reachable",
        tag="operations",
        audience=Audience.PUBLIC,
        response=Readiness,
        errors=((ErrorCode.UPSTREAM_UNAVAILABLE, 503),),
    ),
    Endpoint(
        method="GET",
        path="/metrics",
        handler=metrics_handler,
        summary="Prometheus metrics",
        tag="operations",
        audience=Audience.PUBLIC,
        media_type=CONTENT_TYPE_LATEST,
    ),
]
