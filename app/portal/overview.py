"""The overview: an integration checklist with live state, each item linking to its fix."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.portal.web import render, require


async def overview_page(request: Request) -> Response:
    user = await require(request)
    return render(request, "overview.html", {"merchant_id": user.merchant_id}, active="/portal/")


ROUTES = [Route("/", overview_page, methods=["GET"])]
