"""The route table: every API route of the app, each declaring its permission in one place."""

from app.http.routing import Endpoint
from app.routes import analytics, chat, keys, merchants, ops, products, sync, webhooks, widget

ROUTES: list[Endpoint] = [
    *ops.ROUTES,
    *keys.ROUTES,
    *merchants.ROUTES,
    *widget.ROUTES,
    *webhooks.ROUTES,
    *sync.ROUTES,
    *products.ROUTES,
    *chat.ROUTES,
    *analytics.ROUTES,
]
