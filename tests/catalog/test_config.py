"""PUT/GET /sync/config: one method to create or replace it, validated, secrets write-only."""

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import MerchantKeys, new_merchant


def _url(merchant: MerchantKeys) -> str:
    return f"/api/merchants/{merchant.id}/sync/config"


def _put(client: TestClient, merchant: MerchantKeys, body: dict[str, Any]) -> Any:
    return client.put(_url(merchant), headers=merchant.auth, json=body)


def test_defaults_before_anything_is_saved(client: TestClient) -> None:
    merchant = new_merchant(client)
    config = client.get(_url(merchant), headers=merchant.auth).json()["data"]
    assert config["configured"] is False
    assert config["source"] == {"type": "upload", "url": None, "authHeader": None}
    assert (config["format"], config["mode"]) == ("auto", "incremental")
    assert (config["errorThreshold"], config["maxDeleteRatio"]) == (0.1, 0.5)
    assert config["webhookUrl"].endswith(f"/api/merchants/{merchant.id}/sync/webhook")


def test_put_creates_then_replaces(client: TestClient) -> None:
    merchant = new_merchant(client)
    body = {
        "source": {"type": "url", "url": "https://feeds.example.com/catalog.xml"},
        "schedule": {"intervalMinutes": 15},
        "format": "gmc",
        "mode": "full",
        "fieldMapping": {"Artikel": "id", "Unwichtig": None},
        "defaultCurrency": "EUR",
        "errorThreshold": 0.05,
        "maxDeleteRatio": 0.3,
        "productUrlTemplate": "https://shop.example.de/p/{id}",
        "webhookSecret": "shpss_0123456789abcdef",
    }
    saved = _put(client, merchant, body)
    assert saved.status_code == 200, saved.text
    data = saved.json()["data"]
    assert data["configured"] is True and data["schedule"]["intervalMinutes"] == 15
    assert data["schedule"]["nextRunAt"] is not None
    assert data["fieldMapping"] == {"Artikel": "id", "Unwichtig": None}
    assert data["webhookSecretSet"] is True and "shpss_" not in saved.text
    assert client.get(_url(merchant), headers=merchant.auth).json()["data"] == data
    # PUT replaces: what is left out returns to its default, except write-only secrets.
    replaced = _put(client, merchant, {"mode": "incremental"}).json()["data"]
    assert replaced["source"]["type"] == "upload" and replaced["schedule"] is None
    assert replaced["format"] == "auto" and replaced["fieldMapping"] == {}
    assert replaced["webhookSecretSet"] is True
    cleared = _put(client, merchant, {"webhookSecret": None}).json()["data"]
    assert cleared["webhookSecretSet"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "schedule": {"intervalMinutes": 14},
                "source": {"type": "url", "url": "https://a.example/x"},
            },
            "schedule.intervalMinutes",
        ),
        ({"fieldMapping": {"Col": "colour"}}, "fieldMapping.Col"),
        ({"defaultCurrency": "euro"}, "defaultCurrency"),
        ({"errorThreshold": 1.5}, "errorThreshold"),
        ({"maxDeleteRatio": True}, "maxDeleteRatio"),
        ({"productUrlTemplate": "https://shop.example/p/"}, "productUrlTemplate"),
        ({"source": {"type": "url", "url": "ftp://files.example/x.csv"}}, "source.url.url"),
        ({"source": {"type": "url", "url": "https://user:pw@a.example/x.csv"}}, "source.url.url"),
        ({"source": {"type": "ftp"}}, "source"),
        ({"format": "xlsx"}, "format"),
        ({"surprise": 1}, "surprise"),
        ({"webhookSecret": "short"}, "webhookSecret"),
        (
            {
                "source": {
                    "type": "url",
                    "url": "https://a.example/x",
                    "authHeader": {"name": "Bad Name", "value": "v"},
                }
            },
            "source.url.authHeader.name",
        ),
        (
            {
                "source": {
                    "type": "url",
                    "url": "https://a.example/x",
                    "authHeader": {"value": "a\r\nInjected: 1"},
                }
            },
            "source.url.authHeader.value",
        ),
    ],
)
def test_invalid_config_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    merchant = new_merchant(client)
    response = _put(client, merchant, body)
    assert response.status_code == 422, response.text
    fields = [detail["field"] for detail in response.json()["error"]["details"]]
    assert any(name.startswith(field) for name in fields), fields
    assert client.get(_url(merchant), headers=merchant.auth).json()["data"]["configured"] is False


def test_post_is_405_and_allow_names_put(client: TestClient) -> None:
    merchant = new_merchant(client)
    response = client.post(_url(merchant), headers=merchant.auth, json={})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "PUT" in response.headers["allow"]


def test_config_needs_sync_permissions(client: TestClient) -> None:
    owner = new_merchant(client)
    reader = client.post(
        "/api/keys", headers=owner.auth, json={"name": "ro", "permissions": ["sync:read"]}
    ).json()["data"]["secret"]
    auth = {"Authorization": f"Bearer {reader}"}
    assert client.get(_url(owner), headers=auth).status_code == 200
    denied = client.put(_url(owner), headers=auth, json={})
    assert denied.status_code == 403 and "sync:write" in denied.text
