"""SSRF guard for every outgoing request to a merchant-supplied URL (feeds, webhooks).

A target is refused when any address its host resolves to is private, loopback, link-local,
multicast, reserved or unspecified — unless ALLOW_PRIVATE_NETWORK_TARGETS is set (tests, on-prem
installs). Cloud metadata endpoints are refused even then. Redirects are followed by hand so
that every hop is checked again, and the check runs at send time, not only when the URL was
saved, because DNS can change.
"""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers that may follow a redirect to another host; credentials never do.
_CROSS_ORIGIN_SAFE = frozenset({"user-agent", "accept", "accept-encoding", "x-request-id"})


class UnsafeTarget(ValueError):
    """The URL may not be fetched; the message says why, for the merchant to read."""


def check_url_syntax(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise UnsafeTarget("only http:// and https:// URLs are allowed")
    if not parts.hostname:
        raise UnsafeTarget("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("put credentials in the auth header setting, not in the URL")
    return parts.hostname


def _refusal(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool
) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "cloud metadata addresses are never allowed"
    if allow_private:
        return None
    if address.is_loopback:
        return "loopback addresses are not allowed"
    if address.is_link_local:
        return "link-local addresses are not allowed"
    if address.is_multicast:
        return "multicast addresses are not allowed"
    if address.is_private or address.is_reserved or address.is_unspecified:
        return "private network addresses are not allowed"
    if not address.is_global:
        # Shared address space (100.64/10, carrier-grade NAT) is internal in many clouds.
        return "non-public addresses are not allowed"
    return None


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeTarget unless every address the URL's host resolves to is allowed."""
    host = check_url_syntax(url)
    port = urlsplit(url).port or (443 if url.lower().startswith("https") else 80)
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = {literal}
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror:
            raise UnsafeTarget(f"the host {host} does not resolve") from None
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    for address in addresses:
        reason = _refusal(address, allow_private)
        if reason:
            raise UnsafeTarget(f"{host} resolves to {address}: {reason}")


async def send_guarded(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    allow_private: bool,
    max_redirects: int = 5,
    stream: bool = False,
) -> httpx.Response:
    """Send `request`, checking the target before the first hop and before every redirect.

    With `max_redirects=0` a redirect is returned as is (webhooks treat 3xx as a failure).
    """
    for _ in range(max_redirects + 1):
        await check_target(str(request.url), allow_private=allow_private)
        response = await client.send(request, stream=stream, follow_redirects=False)
        if response.status_code not in _REDIRECTS or max_redirects == 0:
            return response
        location = response.headers.get("location")
        await response.aclose()
        if not location:
            raise UnsafeTarget("a redirect without a Location header")
        next_url = request.url.join(location)
        method = "GET" if response.status_code == 303 else request.method
        same_origin = (next_url.scheme, next_url.host, next_url.port) == (
            request.url.scheme,
            request.url.host,
            request.url.port,
        )
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {"host", "content-length"}
            and (same_origin or name.lower() in _CROSS_ORIGIN_SAFE)
        }
        keeps_body = method == request.method and response.status_code in {307, 308}
        body = request.content if keeps_body else None
        request = client.build_request(method, next_url, headers=headers, content=body)
    raise UnsafeTarget(f"more than {max_redirects} redirects")
