"""The catalog page in-process: the sync configuration form with the API's validation, an
upload that becomes a run with its row errors, "sync now", product search, and what a viewer
may not do."""

import re
import time
from typing import Any

from starlette.testclient import TestClient

from tests.portal.conftest import (
    Account,
    csrf_from,
    make_account,
    post_form,
    run_in_app,
    sign_in_as,
)

CSV = (
    "sku,title,price,currency,availability,brand\n"
    "T-1,Trail tent,199.00,EUR,in stock,Acme\n"
    "T-2,Camping mug,12.50,EUR,in stock,Acme\n"
    "T-3,,9.00,EUR,in stock,Acme\n"  # no title: an invalid row
)
CONFIG_FORM = {
    "sourceType": "upload",
    "format": "auto",
    "mode": "incremental",
    "currency": "EUR",
    "errorThreshold": "50",
    "maxDeleteRatio": "50",
}


def upload(client: TestClient, body: str | bytes, name: str = "catalog.csv"):  # type: ignore[no-untyped-def]
    token = csrf_from(client, "/portal/catalog")
    return client.post(
        "/portal/catalog/upload",
        data={"csrf": token, "mode": ""},
        files={"file": (name, body, "text/csv")},
    )


def wait_for_run(client: TestClient, path: str) -> str:
    deadline = time.monotonic() + 20
    while True:
        page = client.get(path)
        status = re.search(r'id="run-status">(\w+)<', page.text)
        assert status, page.text
        if status[1] not in ("queued", "running"):
            return str(page.text)
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)


def config(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.get(f"/api/merchants/{account.id}/sync/config", headers=account.keys.auth)
    data: dict[str, Any] = response.json()["data"]
    return data


def test_an_uploaded_catalog_becomes_a_run_with_counts_and_row_errors(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["developer"])
    assert (
        post_form(client, "/portal/catalog/config", CONFIG_FORM, page="/portal/catalog").status_code
        == 303
    )
    response = upload(client, CSV)
    assert response.status_code == 303, response.text
    run_path = response.headers["location"]
    assert run_path.startswith("/portal/catalog/runs/run_")
    text = wait_for_run(client, run_path)
    assert 'id="run-status">succeeded<' in text
    assert "3 rows: 2 created, 0 updated, 0 deleted, 0 unchanged, 1 invalid" in text
    assert "<td>4</td>" in text  # the invalid row, by its line in the file
    catalog = client.get("/portal/catalog")
    assert "<strong>2</strong>" in catalog.text and "catalog.csv" in catalog.text
    found = client.get("/portal/catalog?q=tent")
    assert "Trail tent" in found.text and "Camping mug" not in found.text
    assert "No product matches." in client.get("/portal/catalog?q=kayak").text


def test_an_empty_file_is_explained_next_to_the_field(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["owner"])
    response = upload(client, b"")
    assert response.status_code == 422
    assert 'id="file-error"' in response.text


def test_the_configuration_form_is_validated_as_the_api_validates(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["owner"])
    bad = {**CONFIG_FORM, "sourceType": "url", "url": "ftp://feed.example", "interval": "5"}
    response = post_form(client, "/portal/catalog/config", bad, page="/portal/catalog")
    assert response.status_code == 422
    assert 'id="url-error"' in response.text and "only http:// and https://" in response.text
    assert 'id="interval-error"' in response.text
    assert config(client, account)["configured"] is False

    good = {**CONFIG_FORM, "sourceType": "url", "url": "https://feed.example/products.csv",
            "interval": "60", "authName": "X-Key", "authValue": "s3cret-value"}  # fmt: skip
    response = post_form(client, "/portal/catalog/config", good, page="/portal/catalog")
    assert response.status_code == 303
    saved = config(client, account)
    assert saved["source"]["url"] == "https://feed.example/products.csv"
    assert saved["schedule"]["intervalMinutes"] == 60
    assert saved["errorThreshold"] == 0.5 and saved["defaultCurrency"] == "EUR"
    assert saved["source"]["authHeader"]["name"] == "X-Key"
    page = client.get("/portal/catalog")
    assert "s3cret-value" not in page.text and "Sync now" in page.text


def test_sync_now_starts_a_feed_run(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["developer"])
    feed = {**CONFIG_FORM, "sourceType": "url", "url": "https://feed.invalid/products.csv"}
    post_form(client, "/portal/catalog/config", feed, page="/portal/catalog")
    response = post_form(client, "/portal/catalog/sync", {}, page="/portal/catalog")
    assert response.status_code == 303
    text = wait_for_run(client, response.headers["location"])
    assert 'id="run-status">failed<' in text and "Why it failed" in text


def test_a_viewer_sees_the_catalog_but_cannot_change_it(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/catalog")
    assert page.status_code == 200
    assert "Upload a catalog file" not in page.text and "Save configuration" not in page.text
    token = csrf_from(client, "/portal/catalog")
    refused = client.post(
        "/portal/catalog/upload", data={"csrf": token}, files={"file": ("c.csv", CSV, "text/csv")}
    )
    assert refused.status_code == 403
    for path, data in (("/portal/catalog/config", CONFIG_FORM), ("/portal/catalog/sync", {})):
        assert post_form(client, path, data, page="/portal/catalog").status_code == 403
    assert config(client, account)["configured"] is False
    assert "No run yet" in client.get("/portal/catalog").text


def test_another_merchants_run_is_not_found(client: TestClient, account: Account) -> None:
    other = run_in_app(client, make_account)
    sign_in_as(client, other.users["owner"])
    theirs = upload(client, CSV).headers["location"]
    sign_in_as(client, account.users["owner"])
    assert client.get(theirs).status_code == 404
