"""Find the API key a request presents (DESIGN §5); `app.services.keys` resolves it."""

from starlette.datastructures import QueryParams
from starlette.types import Scope

from app.services import keys


def presented_key(scope: Scope) -> str | None:
    """`Authorization: Bearer <key>`, or `?key=` for publishable keys (sendBeacon sets no
    headers). Secret keys in URLs would end up in logs, so they are only taken from headers."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header: str = value.decode("latin-1")
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    if scope["query_string"]:
        query_key = QueryParams(scope["query_string"]).get("key")
        if query_key and keys.kind_of(query_key) == "publishable":
            return query_key
    return None
