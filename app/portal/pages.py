"""Every portal page, registered once: `ROUTES` is what /portal serves."""

from starlette.routing import BaseRoute

from app.portal import analytics, auth, overview
from app.portal.web import PortalApp

ROUTES: list[BaseRoute] = [
    *auth.ROUTES,
    *overview.ROUTES,
    *analytics.ROUTES,
]


def portal_app() -> PortalApp:
    return PortalApp(ROUTES)
