"""A corpus of bad files: each gets a clear 4xx or a failed run that says why — never a 500,
and never a change to the catalog."""

import json
import os

import pytest
from starlette.testclient import TestClient

from tests.catalog.conftest import all_products, run_detail, upload
from tests.conftest import MerchantKeys, new_merchant

GOOD = b"sku,title,price\nKEEP-1,Keep me,10.00\n"
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id>
<g:title>&lol9;</g:title><g:price>1 USD</g:price></item></channel></rss>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss><channel><item><id>1</id><title>&xxe;</title><price>1</price></item></channel></rss>"""

# (name, content, failure code of the run)
FAILED_RUNS = [
    ("header only", b"sku,title,price\n", "no_products"),
    ("binary junk", os.urandom(4096) + b"\x00\x00", "binary_file"),
    ("png image", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary_file"),
    ("wrong delimiter", b"sku|title|price\nA|B|1\n", None),  # pipes are sniffed: succeeds
    ("no id column", b"name;price\nMug;5\n", "missing_columns"),
    (
        "one line of 10 MB",
        b"sku,title,price\nA," + b"x" * (10 * 1024 * 1024) + b",1\n",
        "line_too_long",
    ),
    ("billion laughs", BILLION_LAUGHS, "forbidden_xml"),
    ("external entity", EXTERNAL_ENTITY, "forbidden_xml"),
    ("malformed xml", b"<rss><channel><item><id>1</id></channel>", "invalid_xml"),
    ("xml without items", b"<html><body>Not a feed</body></html>", "invalid_xml"),
    (
        "json nested 10,000 deep",
        b"[" + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"]",
        "invalid_json",
    ),
    ("json array nested 10,000 deep", b"[" * 10_000 + b"]" * 10_000, "invalid_json"),
    ("truncated json", b'[{"sku": "A", "title": "B", "price": 1}, {"sku": "C"', "invalid_json"),
    ("json object without products", b'{\n  "items": []\n}', "invalid_json"),
    # One line: taken for NDJSON, whose only row has no product fields.
    ("one-line object without products", b'{"items": []}', "too_many_invalid_rows"),
    ("json NaN", b'[{"sku": "A", "title": "B", "price": NaN}]', "invalid_json"),
    (
        "neither utf-8 nor cp1252",
        b"sku,title,price\nA,\x81\x8d\x8f\x90\x9d,1\n",
        "invalid_encoding",
    ),
    ("utf-16 without bom", "sku,title,price\nA,B,1\n".encode("utf-16-le"), "binary_file"),
    ("corrupt gzip", b"\x1f\x8b\x08\x00" + b"\xff" * 100, "invalid_file"),
]


def _keep(client: TestClient) -> MerchantKeys:
    merchant = new_merchant(client)
    assert upload(client, merchant, GOOD)["status"] == "succeeded"
    return merchant


def _unchanged(client: TestClient, merchant: MerchantKeys) -> None:
    assert [p["externalId"] for p in all_products(client, merchant)] == ["KEEP-1"]


@pytest.mark.parametrize(("name", "content", "code"), FAILED_RUNS, ids=[c[0] for c in FAILED_RUNS])
def test_bad_file_fails_the_run_clearly(
    client: TestClient, name: str, content: bytes, code: str | None
) -> None:
    merchant = _keep(client)
    run = upload(client, merchant, content, content_type="application/octet-stream")
    if code is None:
        assert run["status"] == "succeeded"
        return
    assert run["status"] == "failed", run
    assert run["error"]["code"] == code, run["error"]
    assert run["error"]["message"]
    _unchanged(client, merchant)


def test_row_errors_name_row_column_and_reason(client: TestClient) -> None:
    merchant = new_merchant(client)
    content = (
        b"sku,title,price,availability\n"
        b"OK-1,Fine,10.00,in stock\n"  # row 2
        b"NEG,Negative,-5,in stock\n"  # row 3
        b"NAN,Not a number,ten dollars,in stock\n"  # row 4
        b"RAG,Ragged\n"  # row 5
        b"AV,Bad availability,3,maybe\n"  # row 6
        b",No id,3,in stock\n"  # row 7
        b"OK-1,Duplicate,12.00,in stock\n"  # row 8
        b"DEC,Too precise,1.23456,in stock\n"  # row 9
    )
    run = upload(client, merchant, content, expect=202)
    assert run["status"] == "failed" and run["error"]["code"] == "too_many_invalid_rows"
    errors = run_detail(client, merchant, run["id"])["errors"]
    assert {(e["row"], e["column"]) for e in errors} == {
        (3, "price"),
        (4, "price"),
        (5, None),
        (6, "availability"),
        (7, "sku"),
        (8, "sku"),
        (9, "price"),
    }
    reasons = {e["row"]: e["reason"] for e in errors}
    assert "negative" in reasons[3]
    assert "ten dollars" in reasons[4]
    assert "expected 4 values" in reasons[5]
    assert "first on row 2" in reasons[8]
    assert "at most 4 decimals" in reasons[9]
    assert run["counts"]["invalid"] == 7 and run["counts"]["rows"] == 8
    assert all_products(client, merchant) == []


def test_duplicate_ids_keep_the_first_row_when_below_the_threshold(client: TestClient) -> None:
    merchant = new_merchant(client)
    rows = "".join(f"D-{i},Item {i},{i}.00\n" for i in range(20))
    content = f"sku,title,price\n{rows}D-3,Imposter,99.00\n".encode()
    run = upload(client, merchant, content)
    assert run["status"] == "succeeded" and run["counts"]["invalid"] == 1
    assert run["errorSample"] == [
        {"row": 22, "column": "sku", "reason": "duplicate id 'D-3' (first on row 5)"}
    ]
    titles = {p["externalId"]: p["title"] for p in all_products(client, merchant)}
    assert titles["D-3"] == "Item 3" and len(titles) == 20


def test_empty_upload_is_422(client: TestClient) -> None:
    merchant = new_merchant(client)
    body = upload(client, merchant, b"", expect=422)
    assert body["error"]["code"] == "validation_failed"
    assert body["error"]["details"][0]["field"] == "file"
    multipart = upload(client, merchant, b"", multipart=True, expect=422)
    assert multipart["error"]["code"] == "validation_failed"


def test_whitespace_only_file_fails_as_empty(client: TestClient) -> None:
    merchant = new_merchant(client)
    run = upload(client, merchant, b" \n\r\n\t\n")
    assert run["status"] == "failed" and run["error"]["code"] == "empty_file"


def test_upload_over_the_limit_is_413_and_starts_no_run(client: TestClient) -> None:
    merchant = new_merchant(client)
    limit = client.app.state.platform.settings.max_upload_bytes  # type: ignore[attr-defined]
    big = b"sku,title,price\n" + b"A,B,1\n" * (limit // 6 + 10)
    for multipart in (False, True):
        body = upload(client, merchant, big, multipart=multipart, expect=413)
        assert body["error"]["code"] == "payload_too_large"
        assert "MAX_UPLOAD_BYTES" in body["error"]["message"]
    history = client.get(f"/api/merchants/{merchant.id}/sync/history", headers=merchant.auth)
    assert history.json()["data"]["items"] == []


def test_multipart_without_a_file_field_or_malformed_is_4xx(client: TestClient) -> None:
    merchant = new_merchant(client)
    url = f"/api/merchants/{merchant.id}/products/upload"
    no_file = client.post(url, headers=merchant.auth, files={"other": ("x.csv", GOOD, "text/csv")})
    assert no_file.status_code == 422
    assert no_file.json()["error"]["details"][0]["field"] == "file"
    malformed = client.post(
        url,
        headers={**merchant.auth, "Content-Type": "multipart/form-data; boundary=xyz"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end',
    )
    assert malformed.status_code in (400, 422), malformed.text
    assert malformed.json()["success"] is False


def test_a_thousand_errors_are_kept_and_the_rest_counted(client: TestClient) -> None:
    merchant = new_merchant(client)
    content = b"sku,title,price\n" + b"".join(b"E-%d,Bad,x\n" % i for i in range(1500))
    run = upload(client, merchant, content)
    assert run["status"] == "failed" and run["counts"]["invalid"] == 1500
    detail = run_detail(client, merchant, run["id"])
    assert len(detail["errors"]) == 1000 and detail["errorsTruncated"] is True
    assert [e["row"] for e in detail["errors"]][:3] == [2, 3, 4]
    assert len(detail["errorSample"]) == 5


def test_json_rows_that_are_not_objects_are_row_errors(client: TestClient) -> None:
    merchant = new_merchant(client)
    items = [{"sku": str(i), "title": "T", "price": 1} for i in range(20)] + [42, "text"]
    run = upload(client, merchant, json.dumps(items).encode(), content_type="application/json")
    assert run["status"] == "succeeded" and run["counts"]["invalid"] == 2
    assert run["errorSample"][0] == {"row": 21, "column": None, "reason": "expected an object"}
