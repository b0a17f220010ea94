"""OpenAPI 3.1, generated from the route table and its pydantic models (never hand-written)."""

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, JsonSchemaValue, models_json_schema

from app.http.errors import DESCRIPTIONS, STATUS, ErrorCode
from app.http.routing import Audience, Endpoint

# Each (model, mode) pair to its `$ref` in components.schemas.
_Refs = dict[Any, JsonSchemaValue]

_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")
_REF = "#/components/schemas/{model}"

_RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per window.",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "Epoch seconds at which the full quota is back.",
    "RateLimit-Policy": 'IETF draft-11 policy, e.g. "default";q=600;w=60.',
    "RateLimit": 'IETF draft-11 state, e.g. "default";r=599;t=42.',
}


def build_spec(
    endpoints: list[Endpoint], *, title: str, version: str, server: str
) -> dict[str, Any]:
    schemas, refs = _component_schemas(endpoints)
    schemas["ErrorEnvelope"] = _error_envelope()
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation = _operation(endpoint, refs)
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", endpoint.path), {})[endpoint.method.lower()] = (
            operation
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Every JSON response is an envelope `{success, data, timestamp, requestId}`; "
                "errors carry `error.code` from a closed list (see ErrorEnvelope)."
            ),
        },
        "servers": [{"url": server}],
        "tags": [{"name": tag} for tag in dict.fromkeys(e.tag for e in endpoints)],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "secretKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "sk_live_...",
                    "description": "Server-side secret key; permissions are per key.",
                },
                "publishableKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "pk_live_...",
                    "description": "Widget key; reaches widget routes from allowed domains.",
                },
            },
        },
    }


def _component_schemas(
    endpoints: list[Endpoint],
) -> tuple[dict[str, Any], _Refs]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for endpoint in endpoints:
        if endpoint.body is not None:
            wanted[(endpoint.body, "validation")] = None
        if isinstance(endpoint.response, type) and issubclass(endpoint.response, BaseModel):
            wanted[(endpoint.response, "serialization")] = None
    if not wanted:
        return {}, {}
    refs, top = models_json_schema(list(wanted), ref_template=_REF)
    return dict(top.get("$defs", {})), refs


def _operation(endpoint: Endpoint, refs: _Refs) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "x-audience": endpoint.audience.value,
        "parameters": _parameters(endpoint),
        "responses": _responses(endpoint, refs),
    }
    description = endpoint.description
    if endpoint.audience is Audience.PUBLIC:
        operation["security"] = []
    else:
        needed = f"`{endpoint.permission}`" if endpoint.permission else "any valid key"
        description = f"Requires {needed}. {description}".strip()
        operation["x-permission"] = endpoint.permission
        operation["security"] = (
            [{"secretKey": []}]
            if endpoint.audience is Audience.ADMIN
            else [{"publishableKey": []}, {"secretKey": []}]
        )
    if endpoint.flag:
        operation["x-feature-flag"] = endpoint.flag
    operation["description"] = description
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    elif endpoint.raw_body is not None:
        operation["requestBody"] = {"required": True, "content": endpoint.raw_body}
    return operation


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(endpoint.path)
    ]
    parameters += [{"in": "header", "required": False, **header} for header in endpoint.headers]
    if endpoint.query is not None:
        schema = endpoint.query.model_json_schema(mode="validation")
        required = set(schema.get("required", []))
        for name, field_schema in schema.get("properties", {}).items():
            field_schema = dict(field_schema)
            description = field_schema.pop("description", None)
            field_schema.pop("title", None)
            parameter = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": field_schema,
            }
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    return parameters


def _responses(endpoint: Endpoint, refs: _Refs) -> dict[str, Any]:
    responses: dict[str, Any] = {str(endpoint.status): _success(endpoint, refs)}
    for code, status_code in _error_codes(endpoint):
        status = str(status_code)
        entry = responses.setdefault(
            status,
            {
                "description": "",
                "content": {
                    "application/json": {"schema": {"$ref": _REF.format(model="ErrorEnvelope")}}
                },
            },
        )
        line = f"`{code.value}`: {DESCRIPTIONS[code]}"
        entry["description"] = f"{entry['description']}\n\n{line}".strip()
        if code is ErrorCode.RATE_LIMITED:
            entry["headers"] = _rate_limit_headers() | {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
            }
    return responses


def _error_codes(endpoint: Endpoint) -> list[tuple[ErrorCode, int]]:
    codes = [ErrorCode.INTERNAL_ERROR]
    if endpoint.audience is not Audience.PUBLIC:
        codes += [
            ErrorCode.UNAUTHENTICATED,
            ErrorCode.FORBIDDEN,
            ErrorCode.ORIGIN_NOT_ALLOWED,
            ErrorCode.RATE_LIMITED,
        ]
    if _PATH_PARAM.search(endpoint.path):
        codes.append(ErrorCode.NOT_FOUND)
    if endpoint.query is not None or endpoint.body is not None:
        codes.append(ErrorCode.VALIDATION_FAILED)
    if endpoint.body is not None:
        codes += [
            ErrorCode.BAD_REQUEST,
            ErrorCode.PAYLOAD_TOO_LARGE,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ]
    if endpoint.flag is not None:
        codes.append(ErrorCode.FEATURE_DISABLED)
    pairs = [(code, STATUS[code]) for code in codes]
    pairs += [item if isinstance(item, tuple) else (item, STATUS[item]) for item in endpoint.errors]
    return list(dict.fromkeys(pairs))


def _success(endpoint: Endpoint, refs: _Refs) -> dict[str, Any]:
    content: dict[str, Any]
    if endpoint.media_type != "application/json":
        content = {endpoint.media_type: {"schema": {"type": "string"}}}
    else:
        data = (
            refs[(endpoint.response, "serialization")]
            if endpoint.response is not None
            else {"type": "null"}
        )
        content = {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["success", "data", "timestamp", "requestId"],
                    "properties": {
                        "success": {"const": True},
                        "data": data,
                        "timestamp": {"type": "string", "format": "date-time"},
                        "requestId": {"type": "string"},
                    },
                }
            }
        }
    response: dict[str, Any] = {"description": endpoint.summary, "content": content}
    if endpoint.audience is not Audience.PUBLIC:
        response["headers"] = _rate_limit_headers()
    return response


def _rate_limit_headers() -> dict[str, Any]:
    return {
        name: {"description": text, "schema": {"type": "string"}}
        for name, text in _RATE_LIMIT_HEADERS.items()
    }


def _error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["success", "error", "timestamp", "requestId"],
        "properties": {
            "success": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            },
            "timestamp": {"type": "string", "format": "date-time"},
            "requestId": {"type": "string"},
        },
    }
