"""The application class: Starlette, with the route table's routes found without a scan.

Every API request goes through the same few layers — observability, CORS, then one `Endpoint`
wrapper — and nothing else: the route is found in one dict lookup (paths without parameters)
or a scan of the parameterised paths only, and called directly. Whatever the index cannot
answer outright (an unknown path, a method the path lacks, the docs, the widget files) goes to
Starlette's router behind its exception middleware, which answers 404 and 405 as it always has.
"""

from typing import Any

from starlette.applications import Starlette
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class RouteIndex:
    def __init__(self, routes: list[Route], fallback: ASGIApp) -> None:
        self.fallback = fallback
        self.templated = [route for route in routes if route.param_convertors]
        self.static = {route.path: route for route in routes if not route.param_convertors}
        for path in self.static:
            # Starlette takes the first route that matches; a lookup by path must agree with it.
            clash = next((r.path for r in self.templated if r.path_regex.match(path)), None)
            assert clash is None, f"{path} is also matched by {clash}: rename one of them"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.static.get(scope["path"])
            if route is None:
                for candidate in self.templated:
                    # matches() decides: it knows about root_path, methods and convertors.
                    match, child_scope = candidate.matches(scope)
                    if match is Match.FULL:
                        scope["route"] = candidate
                        scope.update(child_scope)
                        await candidate.app(scope, receive, send)
                        return
            elif scope["method"] in (route.methods or ()) and not scope.get("root_path"):
                # The exact path of a route without parameters: what matches() would say.
                scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, {}
                await route.app(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


class ApiApplication(Starlette):
    """`api_routes` are served through the index; `routes` (docs, static files) only through
    Starlette's router, which also holds the API routes so that 404, 405 and redirects stay its.

    Starlette's outermost ServerErrorMiddleware is left out: the first user middleware
    (observability) already turns any exception into the 500 envelope and logs it."""

    def __init__(self, *, api_routes: list[Route], routes: list[Any], **kwargs: Any) -> None:
        super().__init__(routes=[*api_routes, *routes], **kwargs)
        self.api_routes = api_routes

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = RouteIndex(
            self.api_routes,
            fallback=ExceptionMiddleware(self.router, handlers=dict(self.exception_handlers)),
        )
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app
