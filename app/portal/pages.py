"""Every portal page, registered once: `ROUTES` is what /portal serves."""

from starlette.routing import BaseRoute

from app.portal import analytics, auth, catalog, domains, keys, overview, webhooks
from app.portal.web import PortalApp

ROUTES: list[BaseRoute] = [
    *auth.ROUTES,
    *overview.ROUTES,
    *keys.ROUTES,
    *domains.ROUTES,
    *analytics.ROUTES,
    *webhooks.ROUTES,
    *catalog.ROUTES,
]


def portal_app() -> PortalApp:
    return PortalApp(ROUTES)
