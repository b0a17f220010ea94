"""The OpenAPI document is generated from the route table, is valid OpenAPI 3.1, says what each
route needs and answers, and Swagger UI is served by the app itself (DESIGN §4, issue 2 item 10)."""

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pydantic import BaseModel
from starlette.testclient import TestClient

from app.http.errors import STATUS, ErrorCode
from app.http.routing import Audience, Endpoint
from app.main import create_app
from app.routes import ROUTES
from app.services.permissions import PERMISSIONS
from tests.conftest import Backend, make_settings

REF_PREFIX = "#/components/schemas/"
ERROR_ENVELOPE = {"application/json": {"schema": {"$ref": f"{REF_PREFIX}ErrorEnvelope"}}}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_CONVERTER = re.compile(r"{([^}:]+):[^}]+}")


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


def _spec_path(endpoint: Endpoint) -> str:
    """`/x/{id:path}` in Starlette is `/x/{id}` in OpenAPI."""
    return _CONVERTER.sub(r"{\1}", endpoint.path)


@pytest.fixture(scope="module")
def served(backend: Backend) -> Iterator[TestClient]:
    """One running app per backend for the whole module: these tests only read documents."""
    with TestClient(create_app(make_settings(backend))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def spec(served: TestClient) -> dict[str, Any]:
    response = served.get("/api/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operation(spec: dict[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    return spec["paths"][_spec_path(endpoint)][endpoint.method.lower()]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["$ref"]
    assert ref.startswith(REF_PREFIX), ref
    return spec["components"]["schemas"][ref.removeprefix(REF_PREFIX)]


def _model_schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode=mode, ref_template=REF_PREFIX + "{model}")  # type: ignore[arg-type]
    schema.pop("$defs", None)
    return schema


def _expected_error_statuses(endpoint: Endpoint) -> set[int]:
    """What DESIGN §4-§7 say a route can answer besides success, derived here independently."""
    statuses = {500}
    if endpoint.audience is not Audience.PUBLIC:
        statuses |= {401, 403, 429}
    if "{" in endpoint.path:
        statuses.add(404)
    if endpoint.query is not None or endpoint.body is not None:
        statuses.add(422)
    if endpoint.body is not None:
        statuses |= {400, 413, 415}
    if endpoint.flag is not None:
        statuses.add(503)
    for extra in endpoint.errors:
        statuses.add(extra[1] if isinstance(extra, tuple) else STATUS[extra])
    return statuses


def test_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_spec_lists_exactly_the_routes_of_the_route_table(spec: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    assert documented == {(e.method, _spec_path(e)) for e in ROUTES}
    operation_ids = [
        operation["operationId"]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids))


def test_spec_declares_both_key_schemes_as_bearer_tokens(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"secretKey", "publishableKey"}
    assert all(s["type"] == "http" and s["scheme"] == "bearer" for s in schemes.values())
    # No global requirement: each operation states its own, so public routes stay public.
    assert "security" not in spec


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_operation_states_the_permission_and_keys_its_route_requires(
    spec: dict[str, Any], endpoint: Endpoint
) -> None:
    operation = _operation(spec, endpoint)
    assert operation.get("x-permission") == endpoint.permission
    if endpoint.permission is not None:
        assert endpoint.permission in PERMISSIONS
        assert f"`{endpoint.permission}`" in operation["description"]
    requirements = operation["security"]
    if endpoint.audience is Audience.ADMIN:
        assert requirements == [{"secretKey": []}]
    elif endpoint.audience is Audience.WIDGET:
        # Alternatives: either key alone is enough.
        assert sorted(requirements, key=str) == [{"publishableKey": []}, {"secretKey": []}]
    else:
        assert requirements == []
        assert "x-permission" not in operation


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_operation_documents_its_request_body_from_the_pydantic_model(
    spec: dict[str, Any], endpoint: Endpoint
) -> None:
    operation = _operation(spec, endpoint)
    if endpoint.raw_body is not None:
        # Read by the handler itself (an upload, a signed webhook): described as it is sent.
        assert operation["requestBody"] == {"required": True, "content": endpoint.raw_body}
        return
    if endpoint.body is None:
        assert "requestBody" not in operation
        return
    body = operation["requestBody"]
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]
    documented = _resolve(spec, body["content"]["application/json"]["schema"])
    assert documented == _model_schema(endpoint.body, "validation")
    # Unknown fields are rejected by the app, so the document must say so too.
    if endpoint.body.model_config.get("extra") == "forbid":
        assert documented["additionalProperties"] is False


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_operation_documents_its_query_parameters(spec: dict[str, Any], endpoint: Endpoint) -> None:
    parameters = _operation(spec, endpoint)["parameters"]
    path_names = re.findall(r"{([^}:]+)", endpoint.path)
    assert [p["name"] for p in parameters if p["in"] == "path"] == path_names
    assert all(p["required"] for p in parameters if p["in"] == "path")
    query = {p["name"] for p in parameters if p["in"] == "query"}
    expected = set(endpoint.query.model_fields) if endpoint.query is not None else set()
    assert query == expected


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_operation_documents_its_success_envelope(spec: dict[str, Any], endpoint: Endpoint) -> None:
    responses = _operation(spec, endpoint)["responses"]
    assert [s for s in responses if s.startswith("2")] == [str(endpoint.status)]
    success = responses[str(endpoint.status)]
    if endpoint.media_type != "application/json":
        assert list(success["content"]) == [endpoint.media_type]
        return
    envelope = success["content"]["application/json"]["schema"]
    assert envelope["type"] == "object"
    assert set(envelope["required"]) == {"success", "data", "timestamp", "requestId"}
    properties = envelope["properties"]
    assert properties["success"] == {"const": True}
    assert properties["timestamp"]["format"] == "date-time"
    assert properties["requestId"]["type"] == "string"
    if endpoint.response is None:
        assert properties["data"] == {"type": "null"}
    else:
        documented = _resolve(spec, properties["data"])
        assert documented == _model_schema(endpoint.response, "serialization")
    if endpoint.audience is not Audience.PUBLIC:
        assert {"X-RateLimit-Limit", "RateLimit", "RateLimit-Policy"} <= set(success["headers"])


@pytest.mark.parametrize("endpoint", ROUTES, ids=_id)
def test_operation_lists_every_error_it_can_answer_as_an_error_envelope(
    spec: dict[str, Any], endpoint: Endpoint
) -> None:
    responses = _operation(spec, endpoint)["responses"]
    errors = {int(s): response for s, response in responses.items() if int(s) >= 400}
    assert _expected_error_statuses(endpoint) <= set(errors)
    overrides = {item for item in endpoint.errors if isinstance(item, tuple)}
    for status, response in errors.items():
        assert response["content"] == ERROR_ENVELOPE, status
        # Each documented status names the error codes behind it, and only codes that
        # really answer with that status.
        named = set(re.findall(r"`([a-z_]+)`", response["description"]))
        assert named, status
        assert named <= {code.value for code in ErrorCode}
        for code in map(ErrorCode, named):
            assert STATUS[code] == status or (code, status) in overrides, (code, status)
    if endpoint.audience is not Audience.PUBLIC:
        assert "`origin_not_allowed`" in errors[403]["description"]
    if 429 in errors:
        assert "Retry-After" in errors[429]["headers"]


def test_admin_operations_document_the_403_a_foreign_origin_gets(
    served: TestClient, spec: dict[str, Any]
) -> None:
    undocumented = []
    for endpoint in (e for e in ROUTES if e.audience is Audience.ADMIN):
        # The app really answers it (DESIGN §6: admin routes only admit ADMIN_ORIGINS) ...
        url = re.sub(r"{[^}]+}", "x", _spec_path(endpoint))
        response = served.request(endpoint.method, url, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, _id(endpoint)
        assert response.json()["error"]["code"] == "origin_not_allowed"
        # ... so the document must list it.
        if (
            "`origin_not_allowed`"
            not in _operation(spec, endpoint)["responses"]["403"]["description"]
        ):
            undocumented.append(_id(endpoint))
    assert undocumented == []


def test_error_envelope_schema_lists_the_closed_set_of_error_codes(spec: dict[str, Any]) -> None:
    envelope = spec["components"]["schemas"]["ErrorEnvelope"]
    assert set(envelope["required"]) == {"success", "error", "timestamp", "requestId"}
    assert envelope["properties"]["success"] == {"const": False}
    error = envelope["properties"]["error"]
    assert set(error["required"]) == {"code", "message", "details"}
    assert error["properties"]["code"]["enum"] == [code.value for code in ErrorCode]


def test_yaml_document_is_the_same_as_the_json_one(served: TestClient) -> None:
    as_json = served.get("/api/openapi.json")
    as_yaml = served.get("/api/openapi.yaml")
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_yaml.status_code == 200
    assert "yaml" in as_yaml.headers["content-type"]
    assert yaml.safe_load(as_yaml.text) == as_json.json()


def test_documents_need_no_key(served: TestClient) -> None:
    for path in ("/api/openapi.json", "/api/openapi.yaml", "/api/docs"):
        assert served.get(path).status_code == 200, path


@pytest.mark.parametrize("path", sorted({_spec_path(e) for e in ROUTES}))
def test_405_lists_exactly_the_documented_methods_of_the_path_in_allow(
    served: TestClient, spec: dict[str, Any], path: str
) -> None:
    documented = {m.upper() for m in spec["paths"][path] if m in HTTP_METHODS}
    undocumented = sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - documented)[0]
    url = re.sub(r"{[^}]+}", "x", path)
    response = served.request(undocumented, url)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    # HEAD comes free with GET.
    assert allowed - {"HEAD"} == documented


class _AssetCollector(HTMLParser):
    """Every URL the page makes the browser load, plus inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.other: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_script = "src" not in values
            if values.get("src"):
                self.scripts.append(values["src"] or "")
        elif tag == "link" and values.get("href"):
            target = self.stylesheets if values.get("rel") == "stylesheet" else self.other
            target.append(values["href"] or "")
        elif values.get("src"):
            self.other.append(values["src"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def _same_origin(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


def _docs_page(served: TestClient) -> tuple[str, _AssetCollector]:
    response = served.get("/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _AssetCollector()
    page.feed(response.text)
    return response.text, page


def _swagger_config(served: TestClient) -> str:
    """The JavaScript that configures Swagger UI: inline scripts and the page's own init file."""
    _, page = _docs_page(served)
    own = [served.get(url).text for url in page.scripts if "swagger-ui" not in url]
    return "\n".join(page.inline + own)


def test_swagger_ui_page_loads_only_same_origin_assets(served: TestClient) -> None:
    html, page = _docs_page(served)
    assert page.scripts and page.stylesheets
    for url in [*page.scripts, *page.stylesheets, *page.other]:
        assert _same_origin(url), url
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html), "absolute URL in the page"
    for cdn in ("unpkg", "jsdelivr", "cdnjs", "googleapis", "cloudflare"):
        assert cdn not in html


def test_swagger_ui_assets_are_served_with_script_and_style_types(served: TestClient) -> None:
    _, page = _docs_page(served)
    for url in page.scripts:
        response = served.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] in {
            "text/javascript",
            "application/javascript",
        }, url
        assert response.content
    for url in page.stylesheets:
        response = served.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] == "text/css", url
        assert response.content


def test_swagger_ui_reads_the_apps_own_document(served: TestClient) -> None:
    config = _swagger_config(served)
    urls = re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", config)
    assert urls, "Swagger UI is not pointed at a document"
    for url in urls:
        assert _same_origin(url), url
        assert served.get(url).status_code == 200


def test_swagger_ui_does_not_call_the_public_validator(served: TestClient) -> None:
    # Swagger UI's default `validatorUrl` makes every browser fetch a badge from
    # validator.swagger.io with the document's URL in it: a third-party request the page
    # does not serve itself. It must be switched off in the page's configuration.
    config = _swagger_config(served)
    assert re.search(r"""validatorUrl\s*:\s*(null|["']none["'])""", config), config
