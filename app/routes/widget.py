"""Public widget configuration, read by the widget with its publishable key (DESIGN §11)."""

from app.http.errors import ApiError, ErrorCode
from app.http.models import ApiModel
from app.http.routing import Audience, Call, Endpoint
from app.services.merchants import get_merchant

DEFAULT_GREETING = "Hi! Ask me anything about our products."


class WidgetTheme(ApiModel):
    primary_color: str = "#1f6feb"
    position: str = "bottom-right"


class WidgetConfig(ApiModel):
    merchant_id: str
    merchant_name: str
    greeting: str
    theme: WidgetTheme


async def widget_config_handler(call: Call) -> WidgetConfig:
    async with call.platform.sessions() as session:
        merchant = await get_merchant(session, call.merchant_id)
    if merchant is None:
        raise ApiError(ErrorCode.NOT_FOUND, "No such merchant.")
    return WidgetConfig(
        merchant_id=merchant.id,
        merchant_name=merchant.name,
        greeting=DEFAULT_GREETING,
        theme=WidgetTheme(),
    )


ROUTES = [
    Endpoint(
        method="GET",
        path="/api/widget/config",
        handler=widget_config_handler,
        summary="Widget settings for the key's merchant (name, greeting, theme)",
        tag="widget",
        permission="chat:write",
        audience=Audience.WIDGET,
        response=WidgetConfig,
    ),
]
