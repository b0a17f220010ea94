"""The widget build and how the app serves it at /widget/ (the CDN's stand-in): integrity,
size budget, cache headers per file kind, CORS; and the README snippet the tests embed."""

import gzip
from typing import Any

import pytest
from starlette.testclient import TestClient

from ops import widget


@pytest.fixture(scope="module")
def manifest(widget_build: dict[str, Any]) -> dict[str, Any]:
    return widget_build


def test_manifest_describes_the_files_it_names(manifest: dict[str, Any]) -> None:
    version = manifest["version"]
    bundle = f"rag-assistant.{version}.js"
    assert manifest["bundle"] == bundle
    assert set(manifest["files"]) == {bundle, f"{bundle}.map", "loader.js"}
    for name, facts in manifest["files"].items():
        data = (widget.DIST / name).read_bytes()
        assert facts["sha384"] == widget.sha384(data)
        assert facts["bytes"] == len(data)
        # Node's zlib and Python's differ by a few bytes at the same level.
        assert abs(facts["gzipBytes"] - len(gzip.compress(data, compresslevel=9))) < len(data) / 50
    assert manifest["integrity"] == manifest["files"][bundle]["sha384"]
    # The bundle points at its map; the loader (an alias that moves) has none.
    assert (widget.DIST / bundle).read_text().rstrip().endswith(f"sourceMappingURL={bundle}.map")
    assert "sourceMappingURL" not in (widget.DIST / "loader.js").read_text()


def test_loader_and_bundle_fit_the_size_budget(manifest: dict[str, Any]) -> None:
    assert widget.shipped_gzip_bytes(manifest) <= widget.BUDGET_GZIP_BYTES


def test_app_serves_the_build_with_the_cdns_headers(
    client: TestClient, manifest: dict[str, Any]
) -> None:
    bundle = client.get(f"/widget/{manifest['bundle']}")
    assert bundle.status_code == 200
    assert bundle.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert bundle.headers["content-type"] == "text/javascript; charset=utf-8"
    assert bundle.headers["access-control-allow-origin"] == "*"
    assert widget.sha384(bundle.content) == manifest["integrity"]
    source_map = client.get(f"/widget/{manifest['bundle']}.map")
    assert source_map.headers["cache-control"].endswith("immutable")
    for alias in ("loader.js", "manifest.json"):
        response = client.get(f"/widget/{alias}")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
    etag = client.get("/widget/loader.js").headers["etag"]
    revalidated = client.get("/widget/loader.js", headers={"If-None-Match": etag})
    assert revalidated.status_code == 304
    assert client.get("/widget/rag-assistant.0.0.0.js").status_code == 404
    assert client.get("/widget/../app/settings.py").status_code == 404


def test_readme_snippet_is_complete_and_renders_for_an_installation() -> None:
    snippet = widget.readme_snippet()
    assert "new RAGAssistant(" in snippet
    for placeholder in (widget.SNIPPET_LOADER_URL, widget.SNIPPET_API_URL, widget.SNIPPET_KEY):
        assert placeholder in snippet
    rendered = widget.render_snippet(
        loader_url="http://127.0.0.1:8000/widget/loader.js",
        api_base_url="http://127.0.0.1:8000/",
        publishable_key="pk_live_abc",
    )
    assert '<script src="http://127.0.0.1:8000/widget/loader.js"></script>' in rendered
    assert 'apiBaseUrl: "http://127.0.0.1:8000",' in rendered
    assert 'publishableKey: "pk_live_abc",' in rendered
    assert "ra(" not in rendered  # the seed's broken pattern (Task 1.6) is gone
