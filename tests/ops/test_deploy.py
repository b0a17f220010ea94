"""`invoke deploy` against moto: dry run, a full deploy, rollback on failure, prod and the lock.

The image is put in ECR the way `docker push` would leave it (no Docker engine here), so the
deploys take the "already in ECR" path; the build path is covered in test_images.py. Where moto
cannot play ECS (steady state, tasks finishing), `MotoWaits` stands in: see conftest.py.
"""

import json
import sys
from types import SimpleNamespace

import pytest
from invoke import Context, Exit

from app.db.migrate import head_revisions
from ops import deploy as deploy_module
from ops.deploy import deploy
from ops.lock import DeployLock
from tests.ops.conftest import client, widget_object, write_widget


@pytest.fixture
def widget(tmp_path, monkeypatch):
    """widget/ with a built dist/ for version 2.0.0 (no package.json: no build is run)."""
    root = write_widget(tmp_path / "widget", "2.0.0")
    monkeypatch.setattr(deploy_module, "WIDGET_DIR", root)
    return root


@pytest.mark.aws
def test_dry_run_prints_the_plan_and_changes_nothing(dev, widget, alb, capsys):
    dev.push_image("v2")
    before = dev.snapshot()

    deploy(Context(), env="dev", version="v2", dry_run=True, smoke_url=alb.url)

    assert dev.snapshot() == before
    assert alb.requests == []
    out = capsys.readouterr().out
    for expected in (
        "Deploy v2 to dev (dry run: nothing will change)",
        "live now",
        "v1; api ragassist-dev-api:1, worker ragassist-dev-worker:1",
        "already in ECR",
        "publish 2.0.0",
        "/manifest.json, /loader.js",
        "/ragassist/dev/deploy-lock",
    ):
        assert expected in out, expected


@pytest.mark.aws
def test_a_full_deploy_switches_services_publishes_the_widget_and_records_the_release(
    dev, widget, alb, waits, capsys
):
    digest = dev.push_image("v2")

    deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    outputs = dev.outputs
    ecs = dev.ecs
    running = dev.running()
    # New revisions of both families, pinned to the pushed image by digest, tagged with the release.
    assert running == {
        "api": running["api"].replace("ragassist-dev-api:1", "ragassist-dev-api:2"),
        "worker": running["worker"].replace("ragassist-dev-worker:1", "ragassist-dev-worker:2"),
    }
    assert running["api"].endswith("ragassist-dev-api:2")
    for arn in running.values():
        described = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
        container = described["taskDefinition"]["containerDefinitions"][0]
        assert container["image"] == f"{outputs['ecrRepositoryUrl']}@{digest}"
        assert {"key": "release", "value": "v2"} in described["tags"]
        # Everything else is copied from the family's latest revision.
        assert described["taskDefinition"]["executionRoleArn"].endswith("-execution")
    assert waits.stable_calls == [running]
    # The migration ran as a one-off task of the new api revision, and was waited for.
    stopped = ecs.list_tasks(cluster=outputs["clusterName"], desiredStatus="STOPPED")["taskArns"]
    (task,) = ecs.describe_tasks(cluster=outputs["clusterName"], tasks=stopped)["tasks"]
    assert task["taskDefinitionArn"] == running["api"]
    assert task["overrides"]["containerOverrides"] == [
        {"name": "api", "command": ["ragassist", "migrate"]}
    ]
    # The widget: immutable bundle cached for a year, aliases short, kept for rollbacks.
    objects = dev.objects()
    assert "immutable" in objects["rag-assistant.2.0.0.js"]
    assert objects["manifest.json"] == objects["loader.js"] == "public, max-age=60"
    assert {"aliases/2.0.0/manifest.json", "aliases/2.0.0/loader.js"} <= set(objects)
    assert json.loads(widget_object(dev, "manifest.json"))["version"] == "2.0.0"
    assert dev.invalidated_paths() == [["/manifest.json", "/loader.js"]]
    assert [path for path, _ in alb.requests] == ["/healthz", "/readyz"]
    # The ledger: the new entry, with everything a rollback needs.
    entry = dev.ledger()[-1]
    assert entry == {
        "version": "v2",
        "image_digest": digest,
        "task_definition_arn": running["api"],
        "worker_task_definition_arn": running["worker"],
        "widget_version": "2.0.0",
        "migration_revision": "+".join(sorted(head_revisions())),
        "time": entry["time"],
        "actor": "tester@ci",
        "kind": "deploy",
        "replaced": None,
    }
    # The lock is gone again.
    names = [p["Name"] for p in dev.ssm.describe_parameters()["Parameters"]]
    assert "/ragassist/dev/deploy-lock" not in names
    assert "v2 is live in dev" in capsys.readouterr().out


@pytest.mark.aws
def test_a_failing_smoke_check_rolls_back_to_the_previous_revisions(dev, widget, alb, waits):
    dev.push_image("v2")
    before = dev.running()
    alb.ready = False  # /readyz answers 503 upstream_unavailable

    with pytest.raises(Exit) as failed:
        deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    message = str(failed.value.message)
    assert "failed after the switch" in message and "/readyz: HTTP 503" in message
    assert "rolled back to v1" in message
    assert dev.running() == before
    assert waits.stable_calls[-1] == before
    # The widget aliases point at 1.0.0 again, and were invalidated after being put back.
    assert widget_object(dev, "manifest.json") == b"1.0.0 manifest.json"
    assert widget_object(dev, "loader.js") == b"1.0.0 loader.js"
    assert dev.invalidated_paths()[-1] == ["/manifest.json", "/loader.js"]
    # Recorded as failed; v1 is still what the ledger calls live.
    ledger = dev.ledger()
    assert [(e["version"], e["kind"]) for e in ledger] == [("v1", "deploy"), ("v2", "failed")]


@pytest.mark.aws
def test_ecs_rolling_back_by_itself_is_a_failure_not_a_success(dev, widget, alb, waits):
    dev.push_image("v2")
    before = dev.running()
    waits.fail_stable = "api was rolled back by ECS to ragassist-dev-api:1"

    with pytest.raises(Exit, match="rolled back by ECS"):
        deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    assert dev.running() == before
    assert dev.invalidated_paths() == []  # the widget was never touched
    assert dev.ledger()[-1]["kind"] == "failed"


@pytest.mark.aws
def test_a_migration_that_never_finishes_stops_before_the_switch(dev, widget, alb, waits):
    dev.push_image("v2")
    before = dev.running()
    waits.sleep = lambda seconds: None  # the task never stops
    waits.task_timeout = 0

    with pytest.raises(Exit) as failed:
        deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    assert "stopped before the switch" in str(failed.value.message)
    assert "after the timeout" in str(failed.value.message)
    assert "the live release is unchanged" in str(failed.value.message)
    assert dev.running() == before
    assert [e["version"] for e in dev.ledger()] == ["v1"]
    assert widget_object(dev, "manifest.json") == b"1.0.0 manifest.json"
    assert waits.stable_calls == []


@pytest.mark.aws
def test_prod_refuses_without_yes_when_there_is_no_terminal(stack, waits, monkeypatch, alb):
    prod = stack("prod")
    prod.push_image("v2")
    before = prod.snapshot()
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: False))

    with pytest.raises(Exit, match="no terminal to confirm on; pass --yes"):
        deploy(Context(), env="prod", version="v2", smoke_url=alb.url)

    assert prod.snapshot() == before


@pytest.mark.aws
def test_prod_asks_on_a_terminal_and_a_no_changes_nothing(stack, waits, monkeypatch, alb):
    prod = stack("prod")
    prod.push_image("v2")
    before = prod.snapshot()
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: True))
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")

    with pytest.raises(Exit, match="cancelled"):
        deploy(Context(), env="prod", version="v2", smoke_url=alb.url)

    assert asked == ["Deploy v2 to prod? [y/N] "]
    assert prod.snapshot() == before


@pytest.mark.aws
def test_the_lock_refuses_a_concurrent_deploy(dev, widget, alb):
    dev.push_image("v2")
    other = DeployLock(
        client("ssm"), "/ragassist/dev/deploy-lock", owner="bob@ci", what="deploy v9"
    )
    other.acquire()
    before = dev.running()

    with pytest.raises(Exit) as refused:
        deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    assert "not deploying: bob@ci holds the deploy lock" in str(refused.value.message)
    assert "deploy v9" in str(refused.value.message)
    assert dev.running() == before
    assert [e["version"] for e in dev.ledger()] == ["v1"]
    other.release()


@pytest.mark.aws
def test_without_a_widget_build_the_widget_is_skipped_with_a_note(
    dev, alb, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(deploy_module, "WIDGET_DIR", tmp_path / "no-widget")
    dev.push_image("v2")

    deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    out = capsys.readouterr().out
    assert "skipped: no widget/dist/" in out
    assert "publish the widget: no widget/dist/ build to publish" in out
    assert dev.invalidated_paths() == []
    # The widget that stays live is recorded with the release, for later rollbacks.
    assert dev.ledger()[-1]["widget_version"] == "1.0.0"


@pytest.mark.aws
def test_an_image_to_build_without_docker_stops_before_changing_anything(
    dev, widget, alb, tmp_path, monkeypatch
):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    before = dev.snapshot()

    with pytest.raises(Exit) as refused:
        deploy(Context(), env="dev", version="v3", yes=True, smoke_url=alb.url)

    assert "Docker engine is not reachable" in str(refused.value.message)
    assert "Cannot connect to the Docker daemon" in str(refused.value.message)
    assert dev.snapshot() == before


@pytest.mark.aws
def test_outputs_of_another_environment_are_refused(stack, monkeypatch):
    staging = stack("staging")
    monkeypatch.setenv("RAGASSIST_STACK_OUTPUTS", str(staging.outputs_file))

    with pytest.raises(Exit, match="those stack outputs are 'staging''s, not 'prod''s"):
        deploy(Context(), env="prod", version="v2", dry_run=True)


@pytest.mark.aws
def test_a_failing_widget_build_stops_before_the_switch(dev, alb, tmp_path, monkeypatch):
    root = write_widget(tmp_path / "widget", "2.0.0")
    (root / "package.json").write_text("{}")  # sources present: `invoke widget.build` runs
    monkeypatch.setattr(deploy_module, "WIDGET_DIR", root)
    monkeypatch.setattr(deploy_module.sys, "executable", "false")  # the build command fails
    dev.push_image("v2")
    before = dev.running()

    with pytest.raises(Exit) as stopped:
        deploy(Context(), env="dev", version="v2", yes=True, smoke_url=alb.url)

    assert "stopped before the switch" in str(stopped.value.message)
    assert "widget.build" in str(stopped.value.message)
    assert dev.running() == before
