"""`invoke db.migrate`: the live revision's image runs `ragassist migrate` as a one-off task."""

import pytest
from invoke import Context, Exit

from ops import db


@pytest.mark.aws
def test_migrate_runs_a_one_off_task_of_the_live_revision_and_waits(stack, waits, capsys):
    dev = stack("dev")
    outputs = dev.outputs

    db.migrate_(Context(), env="dev")

    stopped = dev.ecs.list_tasks(cluster=outputs["clusterName"], desiredStatus="STOPPED")
    (task,) = dev.ecs.describe_tasks(cluster=outputs["clusterName"], tasks=stopped["taskArns"])[
        "tasks"
    ]
    assert task["taskDefinitionArn"] == dev.running()["api"]
    assert task["startedBy"] == "invoke-deploy"
    assert task["overrides"]["containerOverrides"] == [
        {"name": "api", "command": ["ragassist", "migrate"]}
    ]
    assert "dev: migrations applied" in capsys.readouterr().out


@pytest.mark.aws
def test_a_migration_task_that_never_stops_times_out_clearly(stack, waits):
    stack("dev")
    waits.sleep = lambda seconds: None  # nothing finishes the task
    waits.task_timeout = 0

    with pytest.raises(Exit, match=r"dev: migration failed: task .* after the timeout"):
        db.migrate_(Context(), env="dev")


def test_a_non_zero_exit_names_the_code_and_where_the_logs_are(monkeypatch):
    from types import SimpleNamespace

    outputs = SimpleNamespace(
        cluster_name="ragassist-dev",
        task_subnet_ids=("subnet-1",),
        task_security_group_id="sg-1",
        log_groups={"api": "/ragassist/dev/api"},
    )
    arn = "arn:aws:ecs:eu-west-1:123456789012:task/ragassist-dev/abc123"
    monkeypatch.setattr(db, "run_one_off", lambda *a, **k: arn)

    class Stopped:
        def task_stopped(self, *args):
            return {
                "stoppedReason": "Essential container in task exited",
                "containers": [{"name": "api", "exitCode": 1}],
            }

    tgt = SimpleNamespace(outputs=outputs, aws=SimpleNamespace(ecs=None))
    with pytest.raises(db.MigrationFailed) as failed:
        db.migrate(tgt, "td", Stopped(), lambda text: None)

    assert "exited 1 (Essential container in task exited)" in str(failed.value)
    assert "/ragassist/dev/api, stream api/api/abc123" in str(failed.value)
