"""`invoke widget.publish`, `invoke widget.rollback` and `invoke status` against moto server.

moto plays S3, CloudFront (invalidations), SSM (ledger, lock, flags), ECS and CloudWatch; a
loopback HTTP server plays the CDN's edge, fetching from the bucket as CloudFront's origin
access does, so the verification step reads what a shop page would.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from invoke import Context, Exit

from ops import status as status_module
from ops.aws import target
from ops.cdn import read_build
from ops.releases import Ledger, Release
from ops.steps import console
from ops.widget_release import WidgetRelease, publish, rollback
from tests.ops.conftest import MotoWaits, Stack, client

ALIASES = ["/loader.js", "/manifest.json"]


def sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def built_widget(root: Path, version: str) -> Path:
    """widget/dist/ as `invoke widget.build` writes it, manifest with sha384s and integrity."""
    dist = root / version / "dist"
    dist.mkdir(parents=True)
    bundle = f"rag-assistant.{version}.js"
    files = {
        bundle: f"/* RAG Assistant widget {version} */".encode(),
        f"{bundle}.map": b"{}",
        "loader.js": f"/* loader: reads manifest.json ({version} built) */".encode(),
    }
    for name, body in files.items():
        (dist / name).write_bytes(body)
    manifest = {
        "version": version,
        "bundle": bundle,
        "integrity": sri(files[bundle]),
        "files": {name: {"sha384": sri(body), "bytes": len(body)} for name, body in files.items()},
    }
    (dist / "manifest.json").write_text(json.dumps(manifest))
    return dist


class Edge:
    """The CDN's edge on loopback: GET /<key> answers the bucket's object (or 404)."""

    def __init__(self, bucket: str) -> None:
        s3 = client("s3")

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    body = s3.get_object(Bucket=bucket, Key=self.path.lstrip("/"))["Body"].read()
                    status = 200
                except s3.exceptions.NoSuchKey:
                    body, status = b"not found", 404
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def released(stack: Callable[..., Stack], waits: MotoWaits) -> Stack:
    """dev with release v1 live (its revisions running) and no widget published yet."""
    env = stack("dev")
    running = env.running()
    Ledger(env.ssm, env.outputs["releaseLedgerParameter"]).append(
        Release(
            version="v1",
            image_digest="sha256:" + "1" * 64,
            task_definition_arn=running["api"],
            worker_task_definition_arn=running["worker"],
            widget_version=None,
            migration_revision="0001",
            time="2026-11-26T10:00:00Z",
            actor="alice@laptop",
        )
    )
    return env


@pytest.fixture
def edge(released: Stack) -> Iterator[Edge]:
    found = Edge(released.outputs["widgetBucket"])
    yield found
    found.close()


@pytest.fixture
def live_1(released: Stack, edge: Edge, tmp_path: Path) -> Stack:
    """dev with widget 1.0.0 published by `invoke widget.publish`."""
    publish(
        Context(),
        env="dev",
        no_build=True,
        dist=str(built_widget(tmp_path, "1.0.0")),
        cdn_url=edge.url,
    )
    return released


def served_manifest(env: Stack) -> dict:
    body = env.s3.get_object(Bucket=env.outputs["widgetBucket"], Key="manifest.json")["Body"]
    return json.loads(body.read())


def assert_manifest_points_at_an_uploaded_bundle(env: Stack) -> None:
    manifest = served_manifest(env)
    keys = set(env.objects())
    assert manifest["bundle"] in keys, f"manifest.json names a missing {manifest['bundle']}"


@pytest.mark.aws
def test_publish_uploads_the_bundle_flips_the_aliases_invalidates_them_and_records_it(
    live_1: Stack, edge: Edge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = live_1.running()
    before = len(live_1.invalidated_paths())

    publish(
        Context(),
        env="dev",
        no_build=True,
        dist=str(built_widget(tmp_path, "2.0.0")),
        cdn_url=edge.url,
    )

    assert served_manifest(live_1)["version"] == "2.0.0"
    objects = live_1.objects()
    assert "immutable" in objects["rag-assistant.2.0.0.js"]
    assert "rag-assistant.1.0.0.js" in objects  # earlier bundles stay for cached loaders
    assert "aliases/2.0.0/manifest.json" in objects
    # Only the aliases were invalidated, never the immutable bundle.
    assert [sorted(paths) for paths in live_1.invalidated_paths()[before:]] == [ALIASES]
    entry = live_1.ledger()[-1]
    assert (entry["kind"], entry["version"], entry["widget_version"]) == ("widget", "v1", "2.0.0")
    assert live_1.running() == running  # the API was not touched
    assert "widget 2.0.0 is live in dev" in capsys.readouterr().out


@pytest.mark.aws
@pytest.mark.parametrize("failing_put", [1, 2, 3, 4, 5, 6])
def test_an_upload_failing_half_way_never_leaves_the_manifest_on_a_missing_bundle(
    live_1: Stack, edge: Edge, tmp_path: Path, failing_put: int
) -> None:
    tgt = target("dev")
    puts = {"count": 0}

    def fail(**_: object) -> None:
        puts["count"] += 1
        if puts["count"] == failing_put:
            raise ClientError({"Error": {"Code": "InternalError", "Message": "S3 broke"}}, "Put")

    tgt.aws.s3.meta.events.register("before-call.s3.PutObject", fail)
    release = WidgetRelease(tgt, console(), waits=MotoWaits(), cdn_url=edge.url)
    build = read_build(built_widget(tmp_path, "2.0.0"))
    assert build is not None

    with pytest.raises(Exit, match="not published"):
        release.publish(build)

    assert_manifest_points_at_an_uploaded_bundle(live_1)
    assert served_manifest(live_1)["version"] == "1.0.0"
    assert live_1.ledger()[-1]["widget_version"] == "1.0.0"


@pytest.mark.aws
def test_a_cdn_serving_other_bytes_fails_verification_and_puts_the_old_widget_back(
    live_1: Stack, edge: Edge, tmp_path: Path
) -> None:
    tgt = target("dev")
    bucket = live_1.outputs["widgetBucket"]

    def corrupt(**_: object) -> None:  # what an edge with a poisoned copy would serve
        client("s3").put_object(Bucket=bucket, Key="rag-assistant.2.0.0.js", Body=b"evil()")

    tgt.aws.cloudfront.meta.events.register("after-call.cloudfront.CreateInvalidation", corrupt)
    release = WidgetRelease(tgt, console(), waits=MotoWaits(), cdn_url=edge.url)
    build = read_build(built_widget(tmp_path, "2.0.0"))
    assert build is not None

    with pytest.raises(Exit, match="does not match the manifest's integrity"):
        release.publish(build)

    assert served_manifest(live_1)["version"] == "1.0.0"
    assert live_1.ledger()[-1]["widget_version"] == "1.0.0"


@pytest.mark.aws
def test_rollback_puts_the_previous_widget_back_without_touching_the_api(
    live_1: Stack, edge: Edge, tmp_path: Path
) -> None:
    publish(
        Context(),
        env="dev",
        no_build=True,
        dist=str(built_widget(tmp_path, "2.0.0")),
        cdn_url=edge.url,
    )
    running = live_1.running()

    rollback(Context(), env="dev", cdn_url=edge.url)

    assert served_manifest(live_1)["version"] == "1.0.0"
    assert_manifest_points_at_an_uploaded_bundle(live_1)
    assert sorted(live_1.invalidated_paths()[-1]) == ALIASES
    assert live_1.ledger()[-1]["widget_version"] == "1.0.0"
    assert live_1.running() == running
    # --to names any published version; the live one is refused as a no-op.
    rollback(Context(), env="dev", to="2.0.0", cdn_url=edge.url)
    assert served_manifest(live_1)["version"] == "2.0.0"
    with pytest.raises(Exit, match="already live"):
        rollback(Context(), env="dev", to="2.0.0", cdn_url=edge.url)
    with pytest.raises(Exit, match=r"no saved aliases for widget 9\.9\.9"):
        rollback(Context(), env="dev", to="9.9.9", cdn_url=edge.url)


@pytest.mark.aws
def test_status_shows_what_is_live_and_where_it_differs_from_the_ledger(
    live_1: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = client("cloudwatch")
    for name in ("ragassist-dev-ApiErrorRate", "ragassist-dev-CorsRejections"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="m",
            Namespace="RAGAssistant",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName="ragassist-dev-ApiErrorRate", StateValue="ALARM", StateReason="5xx at 3 %"
    )
    capsys.readouterr()

    status_module.status(Context(), env="dev", json_=True)

    shown = json.loads(capsys.readouterr().out)
    assert shown["release"] == "v1"
    assert shown["widgetVersion"] == "1.0.0"
    assert shown["flags"]["cors_mode"] == "enforce"
    assert [alarm["name"] for alarm in shown["alarms"]] == ["ragassist-dev-ApiErrorRate"]
    assert shown["drift"] == []
    assert shown["services"]["api"]["taskDefinition"].endswith("ragassist-dev-api:1")

    # A hand-made change to the service is shown as a difference from the ledger.
    ecs = live_1.ecs
    described = ecs.describe_task_definition(taskDefinition="ragassist-dev-api")["taskDefinition"]
    keep = (
        "family",
        "containerDefinitions",
        "requiresCompatibilities",
        "networkMode",
        "cpu",
        "memory",
        "executionRoleArn",
        "taskRoleArn",
    )
    arn = ecs.register_task_definition(**{k: described[k] for k in keep})["taskDefinition"][
        "taskDefinitionArn"
    ]
    ecs.update_service(cluster="ragassist-dev", service="api", taskDefinition=arn)

    status_module.status(Context(), env="dev")

    out = capsys.readouterr().out
    assert "api runs ragassist-dev-api:2, the ledger says ragassist-dev-api:1" in out
    assert "ragassist-dev-ApiErrorRate" in out
