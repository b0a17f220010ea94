"""Allowed domains: hostnames, `*.` wildcards and IDNs in; schemes, paths, ports, IPs out."""

import pytest
from starlette.testclient import TestClient

from app.services.domains import DomainError, host_allowed, normalize_domain
from tests.conftest import new_merchant


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        ("shop.example.com", "shop.example.com"),
        ("  Shop.Example.COM. ", "shop.example.com"),
        ("*.example.com", "*.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("*.bücher.de", "*.xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("localhost", "localhost"),
        ("my-shop.co.uk", "my-shop.co.uk"),
    ],
)
def test_valid_domains_are_normalized(entry: str, stored: str) -> None:
    assert normalize_domain(entry) == stored


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("https://shop.example.com", "remove the scheme"),
        ("shop.example.com/path", "remove the path"),
        ("shop.example.com:8443", "remove the port"),
        ("192.168.1.10", "IP addresses"),
        ("[::1]", "IP addresses"),
        ("shop.*.com", "leading '*.'"),
        ("*example.com", "leading '*.'"),
        ("*.com", "wildcard needs a domain"),
        ("example", "full hostname"),
        ("-bad-.example.com", "not a valid hostname"),
        ("sh op.example.com", "not a valid hostname"),
        ("user@example.com", "'@'"),
        ("", "empty"),
        ("a." * 130 + "com", "not a valid hostname"),
    ],
)
def test_invalid_domains_are_rejected_with_the_reason(entry: str, reason: str) -> None:
    with pytest.raises(DomainError, match=reason.replace("*", r"\*").replace(".", r"\.")):
        normalize_domain(entry)


@pytest.mark.parametrize(
    ("host", "domains", "allowed"),
    [
        ("shop.example.com", ("shop.example.com",), True),
        ("other.example.com", ("shop.example.com",), False),
        ("a.example.com", ("*.example.com",), True),
        ("a.b.example.com", ("*.example.com",), True),
        ("example.com", ("*.example.com",), False),
        ("evilexample.com", ("*.example.com",), False),
        ("example.com.evil.io", ("*.example.com",), False),
    ],
)
def test_origin_matching(host: str, domains: tuple[str, ...], allowed: bool) -> None:
    assert host_allowed(host, domains) is allowed


def test_put_then_get_domains(client: TestClient) -> None:
    owner = new_merchant(client)
    url = f"/api/merchants/{owner.id}/domains"
    assert client.get(url, headers=owner.auth).json()["data"] == {"allowedDomains": []}
    response = client.put(
        url,
        headers=owner.auth,
        json={"allowedDomains": ["Shop.Example.com", "*.bücher.de", "shop.example.com"]},
    )
    assert response.status_code == 200
    expected = ["shop.example.com", "*.xn--bcher-kva.de"]
    assert response.json()["data"]["allowedDomains"] == expected
    assert client.get(url, headers=owner.auth).json()["data"]["allowedDomains"] == expected


def test_bad_entries_are_all_reported_and_nothing_changes(client: TestClient) -> None:
    owner = new_merchant(client, domains=["keep.example.com"])
    url = f"/api/merchants/{owner.id}/domains"
    response = client.put(
        url,
        headers=owner.auth,
        json={"allowedDomains": ["ok.example.com", "https://x.com", "10.0.0.1"]},
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [d["field"] for d in details] == ["allowedDomains.1", "allowedDomains.2"]
    assert "scheme" in details[0]["message"] and "IP" in details[1]["message"]
    assert client.get(url, headers=owner.auth).json()["data"]["allowedDomains"] == [
        "keep.example.com"
    ]
