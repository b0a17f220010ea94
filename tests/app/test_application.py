"""The route index answers exactly as Starlette's router would, only without scanning."""

import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from app.http.application import RouteIndex
from tests.conftest import new_merchant


def test_static_and_templated_routes_head_and_wrong_methods(client: TestClient) -> None:
    owner = new_merchant(client)
    assert client.get("/api/permissions", headers=owner.auth).status_code == 200
    head = client.head("/api/permissions", headers=owner.auth)
    assert head.status_code == 200 and head.content == b""
    domains = client.get(f"/api/merchants/{owner.id}/domains", headers=owner.auth)
    assert domains.status_code == 200
    # The index hands these on to Starlette's router: 405 with Allow, 404, trailing slash.
    wrong = client.delete("/api/permissions", headers=owner.auth)
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    assert client.get("/api/permissions/extra", headers=owner.auth).status_code == 404
    slash = client.get("/api/permissions/", headers=owner.auth, follow_redirects=False)
    assert slash.status_code == 307 and slash.headers["location"].endswith("/api/permissions")


def test_behind_a_root_path_routes_are_still_matched_by_starlette_rules(settings) -> None:
    from app.main import create_app

    app = create_app(settings)
    with TestClient(app, root_path="/shop-api") as client:
        owner = new_merchant(client)
        response = client.get("/shop-api/api/permissions", headers=owner.auth)
        assert response.status_code == 200
        assert response.json()["data"]["items"]


def test_a_path_both_static_and_matched_by_a_template_is_refused() -> None:
    async def endpoint(request: object) -> PlainTextResponse:
        return PlainTextResponse("")

    routes = [Route("/api/keys/{keyId}", endpoint), Route("/api/keys/new", endpoint)]
    with pytest.raises(AssertionError, match="/api/keys/new is also matched by"):
        RouteIndex(routes, fallback=endpoint)  # type: ignore[arg-type]
