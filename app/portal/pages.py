"""Every portal page, registered once: `ROUTES` is what /portal serves."""

from starlette.routing import BaseRoute

from app.portal import (
    account,
    analytics,
    auth,
    catalog,
    docs,
    domains,
    keys,
    overview,
    team,
    webhooks,
    widget_install,
)
from app.portal.web import PortalApp

ROUTES: list[BaseRoute] = [
    *auth.ROUTES,
    *overview.ROUTES,
    *keys.ROUTES,
    *domains.ROUTES,
    *team.ROUTES,
    *account.ROUTES,
    *analytics.ROUTES,
    *webhooks.ROUTES,
    *catalog.ROUTES,
    *docs.ROUTES,
    *widget_install.ROUTES,
]


def portal_app() -> PortalApp:
    return PortalApp(ROUTES)
