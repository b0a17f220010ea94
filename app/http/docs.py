"""Serve the OpenAPI document and Swagger UI, with Swagger's assets from the installed package
(no CDN: the docs work offline and under a strict CSP)."""

import json
from functools import cache
from typing import Any

import swagger_ui_bundle
import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.http.openapi import build_spec
from app.http.routing import Endpoint

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>RAG Assistant API</title>
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
"""
_INIT = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  // The default would send our spec to validator.swagger.io: no third-party calls from docs.
  validatorUrl: null,
});
"""


def docs_routes(endpoints: list[Endpoint], *, version: str, server: str) -> list[BaseRoute]:
    @cache
    def spec() -> dict[str, Any]:
        return build_spec(endpoints, title="RAG Assistant API", version=version, server=server)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec())

    async def openapi_yaml(request: Request) -> Response:
        text = yaml.safe_dump(json.loads(json.dumps(spec())), sort_keys=False, allow_unicode=True)
        return Response(text, media_type="application/yaml")

    async def page(request: Request) -> Response:
        return HTMLResponse(_PAGE)

    async def init(request: Request) -> Response:
        return Response(_INIT, media_type="text/javascript")

    return [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/api/docs", page, methods=["GET"]),
        Route("/api/docs/init.js", init, methods=["GET"]),
        Mount("/api/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)),
    ]
