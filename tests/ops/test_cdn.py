"""The widget on the CDN: publish order and headers, restore, and `invoke cdn.invalidate`."""

import pytest
from invoke import Context, Exit

from ops import cdn
from tests.ops.conftest import client, write_widget


@pytest.mark.aws
def test_invalidate_defaults_to_exactly_the_alias_paths_and_waits(stack, waits, capsys):
    dev = stack("dev")

    cdn.invalidate_(Context(), env="dev")

    assert dev.invalidated_paths() == [["/loader.js", "/manifest.json"]]
    out = capsys.readouterr().out
    assert "invalidated /loader.js, /manifest.json" in out and "completed" in out


@pytest.mark.aws
def test_invalidate_takes_repeated_or_comma_separated_paths(stack, waits):
    dev = stack("dev")

    cdn.invalidate_(Context(), env="dev", paths=["/loader.js,/manifest.json", "/extra.js"])

    assert dev.invalidated_paths() == [["/loader.js", "/manifest.json", "/extra.js"]]


def test_invalidate_refuses_a_path_without_a_leading_slash():
    with pytest.raises(Exit, match=r"paths must start with /: loader\.js"):
        cdn.invalidate_(Context(), env="dev", paths=["loader.js"])


@pytest.mark.aws
def test_publish_uploads_the_bundle_first_and_the_aliases_last(stack, tmp_path):
    dev = stack("dev")
    build = cdn.read_build(write_widget(tmp_path / "widget", "2.0.0") / "dist")
    s3 = client("s3")
    puts: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )

    cdn.publish(s3, dev.outputs["widgetBucket"], build, alias_max_age=60)

    assert puts == [
        "rag-assistant.2.0.0.js",
        "rag-assistant.2.0.0.js.map",
        "aliases/2.0.0/manifest.json",
        "aliases/2.0.0/loader.js",
        "manifest.json",
        "loader.js",
    ]
    head = s3.head_object(Bucket=dev.outputs["widgetBucket"], Key="rag-assistant.2.0.0.js")
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["ContentType"] == "text/javascript; charset=utf-8"


@pytest.mark.aws
def test_an_immutable_file_is_never_replaced_with_other_bytes(stack, tmp_path):
    dev = stack("dev")
    bucket = dev.outputs["widgetBucket"]
    dist = write_widget(tmp_path / "widget", "2.0.0") / "dist"
    cdn.publish(client("s3"), bucket, cdn.read_build(dist), alias_max_age=60)
    cdn.publish(client("s3"), bucket, cdn.read_build(dist), alias_max_age=60)  # same bytes: ok
    (dist / "rag-assistant.2.0.0.js").write_text("/* rebuilt, different */")

    with pytest.raises(cdn.WidgetError, match="bump the widget version"):
        cdn.publish(client("s3"), bucket, cdn.read_build(dist), alias_max_age=60)


@pytest.mark.aws
def test_restore_copies_a_versions_saved_aliases_back(stack, tmp_path):
    dev = stack("dev")
    bucket = dev.outputs["widgetBucket"]
    s3 = client("s3")
    for version in ("1.0.0", "2.0.0"):
        dist = write_widget(tmp_path / version, version) / "dist"
        cdn.publish(s3, bucket, cdn.read_build(dist), alias_max_age=60)

    paths = cdn.restore(s3, bucket, "1.0.0")

    assert paths == ("/manifest.json", "/loader.js")
    manifest = s3.get_object(Bucket=bucket, Key="manifest.json")["Body"].read()
    assert b'"version": "1.0.0"' in manifest
    with pytest.raises(cdn.WidgetError, match=r"no saved aliases for widget 0\.9\.0"):
        cdn.restore(s3, bucket, "0.9.0")


def test_a_manifest_without_its_bundle_is_not_publishable(tmp_path):
    dist = write_widget(tmp_path / "widget", "2.0.0") / "dist"
    (dist / "rag-assistant.2.0.0.js").unlink()

    with pytest.raises(cdn.WidgetError, match=r"rag-assistant.2.0.0.js is missing"):
        cdn.read_build(dist)


def test_no_dist_means_nothing_to_publish(tmp_path):
    assert cdn.read_build(tmp_path / "nowhere") is None


def test_immutable_patterns_match_the_cdns_long_ttl_behaviours():
    from stacks.widget_cdn import IMMUTABLE_PATTERNS

    assert cdn.IMMUTABLE_PATTERNS == IMMUTABLE_PATTERNS


def test_a_file_that_does_not_match_the_manifests_sha384_is_not_publishable(tmp_path):
    import base64
    import hashlib
    import json

    dist = write_widget(tmp_path / "widget", "2.0.0") / "dist"
    bundle = dist / "rag-assistant.2.0.0.js"
    digest = base64.b64encode(hashlib.sha384(bundle.read_bytes()).digest()).decode()
    manifest = {"version": "2.0.0", "files": {bundle.name: {"sha384": f"sha384-{digest}"}}}
    (dist / "manifest.json").write_text(json.dumps(manifest))
    assert cdn.read_build(dist).version == "2.0.0"

    bundle.write_text("/* rebuilt after the manifest */")

    with pytest.raises(cdn.WidgetError, match="does not match its sha384"):
        cdn.read_build(dist)
