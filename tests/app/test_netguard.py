"""The SSRF guard (app/services/netguard.py) against real HTTP servers on loopback: which
addresses are refused with and without ALLOW_PRIVATE_NETWORK_TARGETS, names that resolve to
loopback, and redirects — every hop checked again, credentials never carried to another
origin."""

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from app.services.netguard import (
    GuardedTransport,
    UnsafeTarget,
    check_saved,
    check_target,
    check_url_syntax,
    send_guarded,
)


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """Answers each request with what `route(path)` returns: (status, headers)."""

    route: Callable[[str], tuple[int, dict[str, str]]]
    hits: list[Hit] = field(default_factory=list)
    port: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str], tuple[int, dict[str, str]]]], Server]]:
    servers: list[ThreadingHTTPServer] = []

    def start(route: Callable[[str], tuple[int, dict[str, str]]]) -> Server:
        state = Server(route)

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
                state.hits.append(
                    Hit(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                status, headers = state.route(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        state.port = server.server_address[1]
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _check(url: str, *, allow_private: bool) -> None:
    asyncio.run(check_target(url, allow_private=allow_private))


def _send(
    request_url: str,
    *,
    allow_private: bool = True,
    max_redirects: int = 5,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    body: bytes = b"payload",
) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as client:
            request = client.build_request(method, request_url, headers=headers, content=body)
            return await send_guarded(
                client, request, allow_private=allow_private, max_redirects=max_redirects
            )

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.9.8.7:8080/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://localhost/", "loopback"),  # a name, resolved: refused by its addresses
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fc00::1]/", "private"),
        ("http://0.0.0.0/", "private"),
        ("http://[::]/", "private"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:169.254.1.1]/", "link-local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
    ],
)
def test_internal_addresses_are_refused_without_the_override(url: str, reason: str) -> None:
    with pytest.raises(UnsafeTarget, match=reason):
        _check(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",  # the same address, written in hex
    ],
)
def test_cloud_metadata_is_refused_even_with_the_override(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="metadata"):
        _check(url, allow_private=True)


# ECS task metadata (169.254.170.2) hands out the task role's credentials on Fargate, where
# this platform runs; every other cloud's metadata service and every notation a resolver or
# an IPv6 translator turns into one of them are refused too.
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://169.254.170.2/v2/credentials/x",
    "http://169.254.170.23/v4/x",
    "http://169.254.0.23/",  # Tencent
    "http://169.254.1.1/",  # any link-local address
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00:ec2::254]/",
    "http://[fd00:ec2::23]/",
    "http://[fd20:ce::254]/",  # GCP over IPv6
    "http://168.63.129.16/",  # Azure WireServer
    "http://100.100.100.200/",  # Alibaba
    "http://192.0.0.192/",  # Oracle
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.Google.Internal./",
    "http://metadata.goog/",
    "http://metadata/",
    "http://instance-data/latest/",
    "http://2852039170/",  # 169.254.170.2 as one decimal number
    "http://0xa9feaa02/",  # ... in hex
    "http://0251.0376.0252.02/",  # ... in octal, dotted
    "http://169.254.43522/",  # ... with its last two bytes as one number
    "http://0xa9.0xfe.0xaa.0x2/",
    "http://%31%36%39.254.170.2/",  # percent-encoded
    "http://\uff11\uff16\uff19.\uff12\uff15\uff14.\uff11\uff17\uff10.\uff12/",  # full-width
    "http://169\u3002254\u3002170\u30022/",  # ideographic full stops
    "http://[::ffff:169.254.170.2]/",  # IPv4-mapped
    "http://[::ffff:a9fe:aa02]/",
    "http://[::169.254.170.2]/",  # IPv4-compatible
    "http://[::ffff:0:a9fe:aa02]/",  # SIIT
    "http://[64:ff9b::169.254.170.2]/",  # NAT64, well-known prefix
    "http://[64:ff9b:1::a9fe:aa02]/",  # NAT64, local-use prefix
    "http://[2002:a9fe:aa02::1]/",  # 6to4
]


@pytest.mark.parametrize("allow_private", [True, False])
@pytest.mark.parametrize("url", ALWAYS_REFUSED)
def test_link_local_and_metadata_are_refused_whatever_the_override(
    url: str, allow_private: bool
) -> None:
    # When saved (no DNS) and before each connection.
    with pytest.raises(UnsafeTarget, match=r"metadata|link-local"):
        check_saved(url, allow_private=allow_private)
    with pytest.raises(UnsafeTarget, match=r"metadata|link-local"):
        _check(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "http://[64:ff9b::10.0.0.1]/",
        "http://[::127.0.0.1]/",
        "http://[2002:7f00:1::1]/",
        "http://2130706433/",  # 127.0.0.1
        "http://0x7f.1/",
    ],
)
def test_private_addresses_hidden_in_other_notations_are_refused_without_the_override(
    url: str,
) -> None:
    with pytest.raises(UnsafeTarget, match=r"loopback|private"):
        check_saved(url, allow_private=False)


def test_public_addresses_in_translated_notations_are_allowed() -> None:
    for url in ("http://[64:ff9b::5db8:d70e]/", "http://93.184.215.14/", "https://example.com/"):
        check_saved(url, allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1/", "http://[::1]/", "http://localhost/", "http://10.0.0.1/"]
)
def test_the_override_allows_private_targets(url: str) -> None:
    _check(url, allow_private=True)


def test_public_addresses_are_allowed_without_the_override() -> None:
    for url in ("http://93.184.215.14/", "https://[2606:4700:4700::1111]/"):
        _check(url, allow_private=False)


def test_carrier_grade_nat_addresses_are_refused() -> None:
    with pytest.raises(UnsafeTarget):
        _check("http://100.64.0.1/", allow_private=False)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/feed.csv", "only http"),
        ("file:///etc/passwd", "only http"),
        ("http:///path-only", "no host"),
        ("https://user:secret@example.com/", "credentials"),
    ],
)
def test_malformed_urls_are_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(UnsafeTarget, match=reason):
        check_url_syntax(url)
    with pytest.raises(UnsafeTarget, match=reason):
        _check(url, allow_private=True)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        _check("http://no-such-host.invalid/", allow_private=True)


def _get_through_transport(url: str, *, allow_private: bool) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = GuardedTransport(allow_private=allow_private)
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            return await client.get(url)

    return asyncio.run(run())


def test_the_transport_checks_the_addresses_it_connects_to(serve: Callable[..., Server]) -> None:
    # No check before the request: the connection itself resolves the name, checks each
    # answer and connects to the checked address (a DNS answer cannot change in between).
    server = serve(lambda path: (204, {}))
    named = f"http://localhost:{server.port}/hook"
    with pytest.raises(UnsafeTarget, match="loopback"):
        _get_through_transport(named, allow_private=False)
    assert server.hits == []
    assert _get_through_transport(named, allow_private=True).status_code == 204
    assert len(server.hits) == 1
    with pytest.raises(UnsafeTarget, match="metadata"):
        _get_through_transport("http://169.254.170.2/v2/credentials", allow_private=True)


def test_a_loopback_server_is_unreachable_without_the_override_and_reached_with_it(
    serve: Callable[..., Server],
) -> None:
    server = serve(lambda path: (204, {}))
    with pytest.raises(UnsafeTarget, match="loopback"):
        _send(server.origin + "/hook", allow_private=False)
    assert server.hits == []
    response = _send(server.origin + "/hook", allow_private=True)
    assert response.status_code == 204
    assert [hit.body for hit in server.hits] == [b"payload"]


def test_every_redirect_hop_is_checked_again(serve: Callable[..., Server]) -> None:
    for location in (
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://169.254.170.2/v2/credentials/x",
        "http://0xa9feaa02/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ):
        server = serve(lambda path, location=location: (302, {"location": location}))
        with pytest.raises(UnsafeTarget, match="metadata"):
            _send(server.origin + "/start", allow_private=True)
        assert len(server.hits) == 1


def test_a_redirect_to_loopback_is_refused_without_the_override(
    serve: Callable[..., Server],
) -> None:
    inner = serve(lambda path: (200, {}))

    async def run() -> None:
        # The first hop is a public-looking URL served by a mock transport; its redirect
        # points at the loopback server, which must never be contacted.
        def public(request: httpx.Request) -> httpx.Response:
            return httpx.Response(307, headers={"location": inner.origin + "/internal"})

        async with httpx.AsyncClient(transport=httpx.MockTransport(public)) as client:
            request = client.build_request("POST", "http://93.184.215.14/hook", content=b"x")
            await send_guarded(client, request, allow_private=False)

    with pytest.raises(UnsafeTarget, match="loopback"):
        asyncio.run(run())
    assert inner.hits == []


def test_credentials_are_dropped_when_a_redirect_leaves_the_origin(
    serve: Callable[..., Server],
) -> None:
    other = serve(lambda path: (200, {}))
    first = serve(lambda path: (307, {"location": other.origin + "/next"}))
    headers = {
        "Authorization": "Bearer feed-token",
        "Cookie": "session=abc",
        "X-Api-Key": "k",
        "X-Request-Id": "req_1",
        "User-Agent": "ragassist-test",
    }
    response = _send(first.origin + "/start", headers=headers)
    assert response.status_code == 200
    (hop,) = other.hits
    assert "authorization" not in hop.headers
    assert "cookie" not in hop.headers and "x-api-key" not in hop.headers
    assert hop.headers["x-request-id"] == "req_1"
    assert hop.headers["user-agent"] == "ragassist-test"
    # 307 keeps the method and the body.
    assert hop.method == "POST" and hop.body == b"payload"


def test_credentials_are_kept_on_a_same_origin_redirect(serve: Callable[..., Server]) -> None:
    server = serve(lambda path: (308, {"location": "/moved"}) if path == "/start" else (200, {}))
    _send(server.origin + "/start", headers={"Authorization": "Bearer feed-token"})
    _, moved = server.hits
    assert moved.path == "/moved"
    assert moved.headers["authorization"] == "Bearer feed-token"


def test_303_turns_into_a_get_without_a_body(serve: Callable[..., Server]) -> None:
    server = serve(lambda path: (303, {"location": "/result"}) if path == "/start" else (200, {}))
    _send(server.origin + "/start")
    _, result = server.hits
    assert result.method == "GET" and result.body == b""


def test_without_redirects_a_3xx_is_returned_as_it_is(serve: Callable[..., Server]) -> None:
    target = serve(lambda path: (200, {}))
    first = serve(lambda path: (302, {"location": target.origin + "/"}))
    response = _send(first.origin + "/", max_redirects=0)
    assert response.status_code == 302
    assert target.hits == []


def test_redirect_loops_and_redirects_without_location_are_refused(
    serve: Callable[..., Server],
) -> None:
    looping = serve(lambda path: (302, {"location": "/again"}))
    with pytest.raises(UnsafeTarget, match="more than 3 redirects"):
        _send(looping.origin + "/", max_redirects=3)
    assert len(looping.hits) == 4
    nowhere = serve(lambda path: (301, {}))
    with pytest.raises(UnsafeTarget, match="without a Location"):
        _send(nowhere.origin + "/")
