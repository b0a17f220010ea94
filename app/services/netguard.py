"""SSRF guard for every outgoing request to a merchant-supplied URL (feeds, webhooks).

A target is refused when any address its host resolves to is private, loopback, link-local,
multicast, reserved or unspecified — unless ALLOW_PRIVATE_NETWORK_TARGETS is set (tests, on-prem
installs). Link-local addresses and cloud metadata services (addresses and names) are refused
even then: they hand out the credentials of the machine or task we run on. An IPv6 address that
carries an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo) is judged by both, and a host
written as a number in any base (`2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`) by the
address the resolver would make of it.

Checks run when a URL is saved (`check_saved`: no DNS, the URL's form only), before each hop
(`send_guarded`: redirects are followed by hand so that every hop is checked again) and at each
TCP connection (`GuardedTransport`: the connection goes to the very addresses that were checked,
so a DNS answer that changes between the check and the connect cannot slip through).
"""

import asyncio
import functools
import ipaddress
import socket
import ssl
import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Refused whatever ALLOW_PRIVATE_NETWORK_TARGETS says.
ALWAYS_REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        # IPv4 link-local: EC2, Azure, GCP, DigitalOcean and OpenStack metadata
        # (169.254.169.254), ECS task metadata and credentials (169.254.170.2, 169.254.170.23),
        # Tencent (169.254.0.23).
        "169.254.0.0/16",
        "fe80::/10",  # IPv6 link-local
        # AWS's IPv6 service addresses: IMDS fd00:ec2::254, ECS task metadata fd00:ec2::23.
        "fd00:ec2::/32",
        "fd20:ce::254/128",  # GCP metadata over IPv6
        "168.63.129.16/32",  # Azure WireServer
        "100.100.100.200/32",  # Alibaba Cloud metadata
        "192.0.0.192/32",  # Oracle Cloud metadata (classic)
    )
)
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",  # GCP's short name, resolved by the VM's search domain
        "instance-data",  # EC2's name for IMDS
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Headers that may follow a redirect to another host; credentials never do.
_CROSS_ORIGIN_SAFE = frozenset({"user-agent", "accept", "accept-encoding", "x-request-id"})
# Dots the IDNA rules treat as "." (a resolver would too).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


class UnsafeTarget(ValueError):
    """The URL may not be fetched; the message says why, for the merchant to read."""


def check_url_syntax(url: str) -> str:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        credentials = parts.username or parts.password
        parts.port  # noqa: B018 - raises for a port that is not a number in 0-65535
    except ValueError:  # an unclosed "[" or a bad port
        raise UnsafeTarget("the URL is malformed") from None
    if parts.scheme not in {"http", "https"}:
        raise UnsafeTarget("only http:// and https:// URLs are allowed")
    if not hostname:
        raise UnsafeTarget("the URL has no host")
    if credentials:
        raise UnsafeTarget("put credentials in the auth header setting, not in the URL")
    return hostname


def _canonical_host(host: str) -> str:
    """The host as a resolver sees it: percent-decoded, full-width folded, no trailing dot."""
    folded = unicodedata.normalize("NFKC", unquote(host)).translate(_DOTS)
    return folded.strip("[]").split("%")[0].lower().rstrip(".")


def literal_address(host: str) -> Address | None:
    """The address a host written as an IP literal stands for, in any notation."""
    canonical = _canonical_host(host)
    try:
        return ipaddress.ip_address(canonical)
    except ValueError:
        pass
    try:
        # The C library's reading, as getaddrinfo's: decimal, octal, hex, 1 to 4 parts.
        return ipaddress.IPv4Address(socket.inet_aton(canonical))
    except (OSError, UnicodeError, ValueError):
        return None


def _embedded(address: Address) -> Iterable[Address]:
    """Every IPv4 address the address carries, then the address itself (the carried one is
    what the packets reach, so its reason is the one to give)."""
    if isinstance(address, ipaddress.IPv6Address):
        yield from _carried(address)
    yield address


def _carried(address: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    # IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), SIIT and NAT64 all keep the
    # IPv4 address in the last 32 bits.
    compatible = int(address) >> 32 == 0 and int(address) > 1
    translated = address in _IPV4_TRANSLATED or any(address in net for net in _NAT64)
    if address.ipv4_mapped is not None or compatible or translated:
        yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        yield address.sixtofour
    if address.teredo is not None:
        yield from address.teredo


def _always_refused(address: Address) -> bool:
    return any(
        candidate in network
        for candidate in _embedded(address)
        for network in ALWAYS_REFUSED_NETWORKS
        if candidate.version == network.version
    )


def _refusal(address: Address, allow_private: bool) -> str | None:
    if _always_refused(address):
        return "link-local and cloud metadata addresses are never allowed"
    if allow_private:
        return None
    # An address that carries an IPv4 one reaches that one: it alone says public or not
    # (a NAT64 address of a public server is public, whatever its own range is called).
    carried: list[Address] = []
    if isinstance(address, ipaddress.IPv6Address):
        carried += _carried(address)
    for candidate in carried or [address]:
        if candidate.is_loopback:
            return "loopback addresses are not allowed"
        if candidate.is_multicast:
            return "multicast addresses are not allowed"
        if candidate.is_private or candidate.is_reserved or candidate.is_unspecified:
            return "private network addresses are not allowed"
        if not candidate.is_global:
            # Shared address space (100.64/10, carrier-grade NAT) is internal in many clouds.
            return "non-public addresses are not allowed"
    return None


def _metadata_name(host: str) -> bool:
    canonical = _canonical_host(host)
    return any(canonical == name or canonical.endswith("." + name) for name in METADATA_HOSTS)


def check_saved(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeTarget for what the URL alone shows to be refused (no DNS lookup): a bad
    form, a metadata host name, or a literal address in any notation that is refused."""
    host = check_url_syntax(url)
    if _metadata_name(host):
        raise UnsafeTarget(f"{host} is a cloud metadata service: never allowed")
    literal = literal_address(host)
    if literal is not None:
        reason = _refusal(literal, allow_private)
        if reason:
            raise UnsafeTarget(f"{host} is {literal}: {reason}")


async def _resolve(host: str, port: int) -> list[Address]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeTarget(f"the host {host} does not resolve") from None
    # Ordered as the resolver prefers them, without repeats.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


async def _checked_addresses(host: str, port: int, *, allow_private: bool) -> list[Address]:
    if _metadata_name(host):
        raise UnsafeTarget(f"{host} is a cloud metadata service: never allowed")
    addresses = await _resolve(host, port)
    for address in addresses:
        reason = _refusal(address, allow_private)
        if reason:
            raise UnsafeTarget(f"{host} resolves to {address}: {reason}")
    return addresses


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeTarget unless every address the URL's host resolves to is allowed."""
    check_saved(url, allow_private=allow_private)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    await _checked_addresses(check_url_syntax(url), port, allow_private=allow_private)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked addresses themselves."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await _checked_addresses(host, port, allow_private=self.allow_private)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _resolve never answers an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeTarget("unix sockets are never a merchant's target")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; the webhook worker builds clients per
    # receiving origin, and one context serves them all.
    return httpx.create_ssl_context()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose every TCP connection goes through the guard (TLS still checks
    the certificate against the URL's host name)."""

    def __init__(self, *, allow_private: bool, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits()
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


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
