"""Pooled HTTP clients for the services that call out (the language model, an embeddings
endpoint): one per app instance and purpose, so that connections are reused across questions,
and closed when the app stops.

A client belongs to the event loop it was made on; tests run several apps, each on its own
loop, so a client found for another loop is replaced.
"""

import asyncio
import weakref

import httpx

# owner (the app's Platform) → purpose → (its event loop, its client)
_Entry = tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]
_CLIENTS: "weakref.WeakKeyDictionary[object, dict[str, _Entry]]" = weakref.WeakKeyDictionary()


def pooled_client(
    owner: object, purpose: str, *, max_connections: int, max_keepalive: int
) -> httpx.AsyncClient:
    """The owner's client for `purpose`, made on first use on the running loop."""
    loop = asyncio.get_running_loop()
    clients = _CLIENTS.setdefault(owner, {})
    entry = clients.get(purpose)
    if entry is None or entry[0] is not loop:
        client = httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_keepalive
            ),
            follow_redirects=False,
        )
        clients[purpose] = entry = (loop, client)
    return entry[1]


async def close_clients(owner: object) -> None:
    """Close every client of the owner (when its app stops)."""
    for _, client in _CLIENTS.pop(owner, {}).values():
        await client.aclose()
