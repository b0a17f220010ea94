"""The ASGI application: `app.main:app`, or `create_app()` for tests and custom settings."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount

from app.http.application import ApiApplication
from app.http.cors import CorsMiddleware
from app.http.docs import docs_routes
from app.http.envelope import error_response
from app.http.errors import ApiError, ErrorCode
from app.http.observability import ObservabilityMiddleware
from app.http.routing import Endpoint, build_routes
from app.jobs import JOBS
from app.logs import configure_logging
from app.platform import Platform
from app.portal.pages import portal_app
from app.routes import ROUTES
from app.routes.widget import widget_files
from app.services.chat.embeddings import warm_embedder
from app.settings import Settings, SettingsError, load_settings
from app.worker import Worker

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}


def app_version() -> str:
    try:
        return version("ragassist")
    except PackageNotFoundError:
        return "0.0.0+unknown"


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
    message = {
        ErrorCode.NOT_FOUND: f"No route {request.url.path}; see /api/docs for the API.",
        ErrorCode.METHOD_NOT_ALLOWED: (
            f"{request.method} is not allowed on {request.url.path}; "
            f"use {(exc.headers or {}).get('Allow', 'another method')}."
        ),
    }.get(code, str(exc.detail))
    headers = dict(exc.headers) if exc.headers else None
    return error_response(ApiError(code, message, status=exc.status_code, headers=headers))


def create_app(
    settings: Settings | None = None,
    *,
    endpoints: list[Endpoint] | None = None,
    run_worker: bool = False,
) -> ApiApplication:
    """The API. `run_worker=True` also runs the background jobs in this process (`invoke up`);
    in production they run in `ragassist worker` processes instead."""
    settings = settings or load_settings()
    endpoints = ROUTES if endpoints is None else endpoints
    platform = Platform(settings)

    @asynccontextmanager
    async def lifespan(app: ApiApplication) -> AsyncIterator[None]:
        await platform.start()
        await warm_embedder(settings)
        # What exists now (modules, the route table, schemas, pools) lives as long as the
        # process: freezing it keeps each garbage collection from walking it all over again,
        # which under load cost about a tenth of the CPU (measured with `invoke bench`).
        gc.freeze()
        worker = Worker(platform, JOBS) if run_worker else None
        task = asyncio.create_task(worker.run()) if worker else None
        try:
            yield
        finally:
            if worker and task:
                worker.stop()
                await task
            await platform.stop()

    app = ApiApplication(
        api_routes=build_routes(endpoints, platform),
        routes=[
            *docs_routes(endpoints, version=app_version(), server=settings.public_base_url),
            # widget/dist/ with the CDN's cache headers, for local use (DESIGN §11).
            Mount("/widget", app=widget_files(), name="widget"),
            # The developer portal: cookie sessions, same origin, never an API credential.
            Mount("/portal", app=portal_app(), name="portal"),
        ],
        middleware=[
            Middleware(ObservabilityMiddleware),
            Middleware(CorsMiddleware, platform=platform, endpoints=endpoints),
        ],
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.state.platform = platform
    return app


def _module_app() -> ApiApplication:
    """`uvicorn app.main:app`: settings from the environment, JSON logs on stderr."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise SystemExit(str(exc)) from None
    configure_logging(settings.log_level)
    return create_app(settings)


app = _module_app()
