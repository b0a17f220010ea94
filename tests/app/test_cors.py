"""CORS for widget and admin routes (DESIGN §6), through the real middleware stack."""

from starlette.testclient import TestClient

from app.http.cors import CorsAudiences, CorsMiddleware
from app.http.routing import Audience, Call, Endpoint
from app.platform import Platform
from app.routes import ROUTES
from app.settings import load_settings
from tests.conftest import ADMIN_ORIGIN, MerchantKeys, new_merchant
from tests.metrics import sample

EXPOSED = {
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "deprecation",
    "sunset",
    "link",
}


def _rejections(audience: str) -> float:
    return sample("cors_rejections_total", audience=audience)


def _widget_get(client: TestClient, merchant: MerchantKeys, origin: str):
    return client.get("/api/widget/config", headers={"Origin": origin, **merchant.widget_auth})


def _preflight(client: TestClient, path: str, origin: str):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_widget_preflight_is_answered_for_any_origin(client: TestClient) -> None:
    response = _preflight(client, "/api/widget/config", "https://anything.example.net")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://anything.example.net"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Authorization" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-max-age"] == "600"
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-credentials" not in response.headers


def test_widget_request_from_an_allowed_domain_is_allowed(client: TestClient) -> None:
    shop = new_merchant(client, domains=["shop.example.com"])
    response = _widget_get(client, shop, "https://shop.example.com")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example.com"
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed == EXPOSED
    assert "Origin" in response.headers["vary"]


def test_widget_request_matching_a_wildcard_is_allowed_on_any_port(client: TestClient) -> None:
    shop = new_merchant(client, domains=["*.example.com"])
    response = _widget_get(client, shop, "http://eu.store.example.com:8080")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://eu.store.example.com:8080"


def test_widget_request_from_an_idn_origin_matches_its_punycode(client: TestClient) -> None:
    shop = new_merchant(client, domains=["bücher.de"])
    response = _widget_get(client, shop, "https://xn--bcher-kva.de")
    assert response.status_code == 200


def test_widget_request_from_a_foreign_origin_is_refused_and_counted(client: TestClient) -> None:
    shop = new_merchant(client, domains=["shop.example.com"])
    before = _rejections("widget")
    response = _widget_get(client, shop, "https://evil.example.org")
    assert response.status_code == 403
    body = response.json()
    assert body["error"]["code"] == "origin_not_allowed"
    assert "evil.example.org" in body["error"]["message"]
    # Readable by the widget on that page (so it can explain), but carrying no data.
    assert response.headers["access-control-allow-origin"] == "https://evil.example.org"
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert exposed == EXPOSED
    assert set(body) == {"success", "error", "timestamp", "requestId"}
    assert "access-control-allow-credentials" not in response.headers
    assert "Origin" in response.headers["vary"]
    assert _rejections("widget") == before + 1
    # Lookalike hosts are foreign too.
    assert _widget_get(client, shop, "https://shop.example.com.evil.io").status_code == 403


def test_merchant_without_domains_accepts_any_origin(client: TestClient) -> None:
    shop = new_merchant(client)
    response = _widget_get(client, shop, "https://wherever.example.io")
    assert response.status_code == 200


def test_domain_changes_apply_to_cors_at_once(client: TestClient) -> None:
    shop = new_merchant(client, domains=["old.example.com"])
    assert _widget_get(client, shop, "https://new.example.com").status_code == 403
    client.put(
        f"/api/merchants/{shop.id}/domains",
        headers=shop.auth,
        json={"allowedDomains": ["new.example.com"]},
    )
    assert _widget_get(client, shop, "https://new.example.com").status_code == 200
    assert _widget_get(client, shop, "https://old.example.com").status_code == 403


def test_widget_request_with_a_bad_key_gets_a_readable_401(client: TestClient) -> None:
    response = client.get(
        "/api/widget/config",
        headers={"Origin": "https://shop.example.com", "Authorization": "Bearer pk_live_nope"},
    )
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "https://shop.example.com"


def test_admin_route_allows_only_admin_origins(client: TestClient) -> None:
    owner = new_merchant(client)
    allowed = client.get("/api/keys", headers={"Origin": ADMIN_ORIGIN, **owner.auth})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ADMIN_ORIGIN
    assert "x-ratelimit-remaining" in allowed.headers["access-control-expose-headers"].lower()

    before = _rejections("admin")
    refused = client.get("/api/keys", headers={"Origin": "https://shop.example.com", **owner.auth})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in refused.headers
    assert _rejections("admin") == before + 1


def test_admin_preflight_from_a_foreign_origin_is_refused(client: TestClient) -> None:
    before = _rejections("admin")
    response = _preflight(client, "/api/keys", "https://shop.example.com")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert _rejections("admin") == before + 1
    ok = _preflight(client, "/api/keys", ADMIN_ORIGIN)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ADMIN_ORIGIN


def test_shop_domain_cannot_call_admin_routes_even_with_a_secret_key(client: TestClient) -> None:
    shop = new_merchant(client, domains=["shop.example.com"])
    response = client.put(
        f"/api/merchants/{shop.id}/domains",
        headers={"Origin": "https://shop.example.com", **shop.auth},
        json={"allowedDomains": []},
    )
    assert response.status_code == 403
    own = client.get(f"/api/merchants/{shop.id}/domains", headers=shop.auth)
    assert own.json()["data"]["allowedDomains"] == ["shop.example.com"]


def test_requests_without_origin_are_not_cors_and_get_vary(client: TestClient) -> None:
    owner = new_merchant(client)
    response = client.get("/api/keys", headers=owner.auth)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers["vary"]


def test_report_only_mode_lets_foreign_origins_through_but_counts_them(
    backend, monkeypatch
) -> None:
    from app.main import create_app
    from tests.conftest import make_settings

    monkeypatch.setenv("FLAG_CORS_MODE", "report-only")
    with TestClient(create_app(make_settings(backend))) as client:
        shop = new_merchant(client, domains=["shop.example.com"])
        before = _rejections("widget")
        response = _widget_get(client, shop, "https://evil.example.org")
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://evil.example.org"
        assert _rejections("widget") == before + 1


def _vary_through_cors(headers: list[tuple[bytes, bytes]]) -> list[str]:
    """The Vary headers of an API response the app below the CORS layer answered with
    `headers`."""

    async def answer(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    app = CorsMiddleware(answer, platform=Platform(load_settings()), endpoints=[])
    return TestClient(app).get("/api/anything").headers.get_list("vary")


def test_origin_is_added_to_vary_once() -> None:
    assert _vary_through_cors([(b"content-type", b"application/json")]) == ["Origin"]
    merged = _vary_through_cors([(b"vary", b"Accept-Encoding"), (b"content-length", b"2")])
    assert merged == ["Accept-Encoding, Origin"]
    assert _vary_through_cors([(b"vary", b"origin, Accept")]) == ["origin, Accept"]


def test_report_only_mode_leaves_admin_routes_closed_to_foreign_origins(
    backend, monkeypatch
) -> None:
    from app.main import create_app
    from tests.conftest import make_settings

    # The lever reverts the widget's CORS only; the admin console keeps ADMIN_ORIGINS.
    monkeypatch.setenv("FLAG_CORS_MODE", "report-only")
    with TestClient(create_app(make_settings(backend))) as client:
        owner = new_merchant(client)
        before = _rejections("admin")
        refused = client.get("/api/keys", headers={"Origin": "https://evil.test", **owner.auth})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in refused.headers
        assert _rejections("admin") == before + 1
        allowed = client.get("/api/keys", headers={"Origin": ADMIN_ORIGIN, **owner.auth})
        assert allowed.headers["access-control-allow-origin"] == ADMIN_ORIGIN


def test_widget_routes_are_the_route_tables_widget_endpoints() -> None:
    audiences = CorsAudiences(ROUTES)

    assert audiences.of("/api/widget/config") == "widget"
    assert audiences.of("/api/sessions") == "widget"
    assert audiences.of("/api/chat/sessions/ses_1/messages") == "widget"
    # A path a widget prefix would have covered but no widget endpoint declares.
    assert audiences.of("/api/chat/sessions/ses_1/export") == "admin"
    assert audiences.of("/api/widget/unknown") == "admin"
    assert audiences.of("/api/merchants/m_1/sync/config") == "admin"
    assert audiences.of("/healthz") is None
    for endpoint in ROUTES:
        concrete = endpoint.path.replace("{", "x").replace("}", "")
        if endpoint.audience is Audience.WIDGET:
            assert audiences.of(concrete) == "widget", endpoint.path


async def _hello(call: Call) -> dict[str, str]:
    return {"hello": "shop"}


def test_an_endpoint_declared_widget_gets_widget_cors_wherever_its_path_is(backend) -> None:
    from app.main import create_app
    from tests.conftest import make_settings

    endpoint = Endpoint(
        method="GET",
        path="/api/merchants/{merchantId}/shop-hello",
        handler=_hello,
        summary="Hello from a widget route outside the widget prefixes",
        tag="test",
        audience=Audience.WIDGET,
    )
    with TestClient(create_app(make_settings(backend), endpoints=[*ROUTES, endpoint])) as client:
        shop = new_merchant(client, domains=["shop.example.com"])
        path = f"/api/merchants/{shop.id}/shop-hello"
        assert _preflight(client, path, "https://shop.example.com").status_code == 204
        shop_origin = {"Origin": "https://shop.example.com", **shop.widget_auth}
        allowed = client.get(path, headers=shop_origin)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
        refused = client.get(path, headers={"Origin": "https://evil.test", **shop.widget_auth})
        assert refused.status_code == 403
        # Widget refusals are readable by the page (admin ones are not).
        assert refused.headers["access-control-allow-origin"] == "https://evil.test"
