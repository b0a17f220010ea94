"""Send one attempt over HTTP and describe what happened; never raises.

The whole send — SSRF check (DNS included), connect, request, response — fits in the
timeout, so a worker's lease always outlives its sends. Only 2xx counts as delivered:
redirects are not followed (3xx fails), because a signed event must reach the URL the merchant
registered, and every address is checked again at send time since DNS can change.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import httpx

from app.db.models import utcnow
from app.ids import new_request_id
from app.services.netguard import UnsafeTarget, send_guarded
from app.services.webhooks.policy import RETRY_AFTER_STATUSES, parse_retry_after
from app.services.webhooks.signing import webhook_headers

USER_AGENT = "RAGAssistant-Webhooks/1.0"
SNIPPET_BYTES = 1024  # what the delivery log keeps of a response body


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one attempt needs, read when it was claimed."""

    attempt_id: str
    claim: str
    merchant_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int
    trigger: str
    url: str
    secrets: tuple[str, ...]
    payload: str
    request_id: str | None
    endpoint_enabled: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    sent: bool  # False: nothing went on the wire (the endpoint was disabled meanwhile)
    succeeded: bool
    attempted_at: datetime
    latency_ms: float | None = None
    response_status: int | None = None
    snippet: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def gone(self) -> bool:
        return self.response_status == 410


async def send(
    client: httpx.AsyncClient,
    delivery: Delivery,
    *,
    deadline: float,
    allow_private: bool,
    gate: asyncio.Semaphore,
) -> Outcome:
    """POST the attempt; `gate` caps concurrent requests to the endpoint's origin, and the
    wait for it counts against `deadline` like everything else."""
    attempted_at = utcnow()
    if not delivery.endpoint_enabled:
        return Outcome(
            sent=False, succeeded=False, attempted_at=attempted_at, error="endpoint is disabled"
        )
    started: float | None = None
    try:
        async with asyncio.timeout(deadline), gate:
            # Signed when it really goes out, so the timestamp is as fresh as it can be.
            attempted_at = utcnow()
            started = time.perf_counter()
            response, snippet = await _post(client, delivery, attempted_at, allow_private)
    except TimeoutError:
        waited = "" if started is not None else " waiting for a connection (endpoint busy)"
        return _failure(attempted_at, started, f"timed out after {deadline:g} s{waited}")
    except UnsafeTarget as exc:
        return _failure(attempted_at, started, f"refused by the SSRF guard: {exc}")
    except httpx.HTTPError as exc:
        return _failure(attempted_at, started, _describe(exc))
    assert started is not None  # set before the request went out
    latency = _elapsed_ms(started)
    status = response.status_code
    retry_after = None
    if status in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after"), utcnow())
    error = None
    if not 200 <= status < 300:
        error = f"HTTP {status}"
        if 300 <= status < 400:
            error += ": redirects are not followed; register the final URL"
    return Outcome(
        sent=True,
        succeeded=error is None,
        attempted_at=attempted_at,
        latency_ms=latency,
        response_status=status,
        snippet=snippet,
        error=error,
        retry_after=retry_after,
    )


async def _post(
    client: httpx.AsyncClient, delivery: Delivery, attempted_at: datetime, allow_private: bool
) -> tuple[httpx.Response, str]:
    body = delivery.payload.encode()
    headers = webhook_headers(
        delivery.secrets, delivery.event_id, int(attempted_at.timestamp()), body
    )
    headers["content-type"] = "application/json"
    headers["x-request-id"] = delivery.request_id or new_request_id()
    request = client.build_request("POST", delivery.url, content=body, headers=headers)
    response = await send_guarded(
        client, request, allow_private=allow_private, max_redirects=0, stream=True
    )
    try:
        return response, await _read_snippet(response)
    finally:
        await response.aclose()


async def _read_snippet(response: httpx.Response) -> str:
    # Read at most a little: a receiver must not be able to make us buffer a huge body.
    kept = bytearray()
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= SNIPPET_BYTES:
            break
    return bytes(kept[:SNIPPET_BYTES]).decode("utf-8", errors="replace")


def _failure(attempted_at: datetime, started: float | None, error: str) -> Outcome:
    return Outcome(
        sent=True,
        succeeded=False,
        attempted_at=attempted_at,
        latency_ms=_elapsed_ms(started) if started is not None else None,
        error=error[:500],
    )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc) or exc.__class__.__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    return f"{exc.__class__.__name__}: {detail}"
