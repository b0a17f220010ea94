"""The docs pages: every guide rendered, raw HTML in a guide shown as text, anchors and links
between guides that work inside the portal."""

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from app.portal import docs
from tests.portal.conftest import Account, sign_in_as


def test_the_index_lists_every_guide_and_the_api_reference(
    client: TestClient, account: Account
) -> None:
    sign_in_as(client, account.users["viewer"])
    page = client.get("/portal/docs")
    assert page.status_code == 200
    assert 'href="/api/docs"' in page.text
    for slug in ("widget", "WEBHOOK_INTEGRATION", "catalog-sync", "architecture"):
        assert f'href="/portal/docs/{slug}"' in page.text
    assert "RAG Assistant widget" in page.text  # titles come from each guide's first heading


def test_a_guide_is_rendered_with_working_anchors(client: TestClient, account: Account) -> None:
    sign_in_as(client, account.users["developer"])
    page = client.get("/portal/docs/WEBHOOK_INTEGRATION")
    assert page.status_code == 200
    assert '<h2 id="verifying-signatures">' in page.text
    assert '<h3 id="nodejs">Node.js</h3>' in page.text
    assert 'href="#verifying-signatures"' in page.text
    widget = client.get("/portal/docs/widget")
    assert "<table>" in widget.text and "snippet:start" not in widget.text
    assert "publishableKey" in widget.text
    assert client.get("/portal/docs/nope").status_code == 404
    assert client.get("/portal/docs/..%2F..%2Fsecrets").status_code == 404


def test_html_in_a_guide_is_shown_as_text_and_guide_links_stay_in_the_portal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "widget").mkdir()
    (tmp_path / "widget" / "README.md").write_text("# Widget\n")
    guide = tmp_path / "docs" / "evil.md"
    guide.write_text(
        "# Evil\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
        "[widget](../widget/README.md#options) [web](https://example.com/a.md)\n"
    )
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    body = str(docs._render(guide, 1.0))
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "javascript:" not in body.replace("[x](javascript:alert(1))", "")
    assert 'href="/portal/docs/widget#options"' in body
    assert 'href="https://example.com/a.md"' in body
