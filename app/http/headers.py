"""Adding headers to a response on its way out, shared by the pure ASGI middlewares."""

from starlette.types import Message


def header_list(message: Message) -> list[tuple[bytes, bytes]]:
    """The `http.response.start` message's headers as a list to add to in place, as
    Starlette's own middleware does (MutableHeaders): each answer's list is its own."""
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    return headers
