"""The release ledger: append/read in SSM, trimming to SSM's limit, and what rollback picks."""

import json

import pytest
from invoke import Context, Exit

from ops import releases
from ops.releases import MAX_LEDGER_BYTES, Ledger, Release, live, rollback_target

TD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/ragassist-dev-{role}:{n}"


def release(version: str, n: int, **extra) -> Release:
    values = {
        "version": version,
        "image_digest": "sha256:" + f"{n:x}" * 64,
        "task_definition_arn": TD.format(role="api", n=n),
        "worker_task_definition_arn": TD.format(role="worker", n=n),
        "widget_version": f"1.{n}.0",
        "migration_revision": f"000{n}",
        "time": f"2026-11-27T10:0{n}:00Z",
        "actor": "tester@ci",
    }
    return Release(**(values | extra))


@pytest.mark.aws
def test_append_then_read_round_trips_every_field(stack):
    dev = stack("dev")
    ledger = Ledger(dev.ssm, dev.outputs["releaseLedgerParameter"])

    ledger.append(release("v1", 1))
    ledger.append(release("v2", 2))

    assert ledger.read() == [release("v1", 1), release("v2", 2)]
    stored = dev.ledger()[-1]
    assert set(stored) >= {
        "version",
        "image_digest",
        "task_definition_arn",
        "widget_version",
        "migration_revision",
        "time",
        "actor",
    }


@pytest.mark.aws
def test_the_oldest_entries_make_room_within_ssms_4_kb(stack):
    dev = stack("dev")
    ledger = Ledger(dev.ssm, dev.outputs["releaseLedgerParameter"])

    for n in range(1, 30):
        ledger.append(release(f"v{n}", n % 10))

    value = dev.ssm.get_parameter(Name=ledger.parameter)["Parameter"]["Value"]
    kept = [entry["version"] for entry in json.loads(value)]
    assert len(value.encode()) <= MAX_LEDGER_BYTES
    assert kept[-1] == "v29" and kept == [f"v{n}" for n in range(30 - len(kept), 30)]
    assert len(kept) >= 6


@pytest.mark.aws
def test_releases_prints_a_table_newest_first_marking_the_live_one(stack, capsys):
    dev = stack("dev")
    ledger = Ledger(dev.ssm, dev.outputs["releaseLedgerParameter"])
    ledger.append(release("v1", 1))
    ledger.append(release("v2", 2))
    ledger.append(release("v3", 3, kind="failed"))

    releases.releases(Context(), env="dev")

    out = capsys.readouterr().out
    assert out.index("v3") < out.index("v2") < out.index("v1")
    live_line = next(line for line in out.splitlines() if "live" in line and "v2" in line)
    assert "ragassist-dev-api:2" in live_line
    assert "failed" in out


@pytest.mark.aws
def test_releases_json_prints_the_ledger(stack, capsys):
    dev = stack("dev")
    Ledger(dev.ssm, dev.outputs["releaseLedgerParameter"]).append(release("v1", 1))

    releases.releases(Context(), env="dev", json_=True)

    assert json.loads(capsys.readouterr().out)[0]["version"] == "v1"


@pytest.mark.aws
def test_an_empty_ledger_says_so(stack, capsys):
    stack("dev")

    releases.releases(Context(), env="dev")

    assert "no releases yet" in capsys.readouterr().out


def test_rollback_goes_to_the_release_before_the_live_one():
    history = [release("v1", 1), release("v2", 2), release("v3", 3)]

    assert rollback_target(history).version == "v2"
    assert rollback_target(history, "v1").version == "v1"


def test_failed_deploys_are_never_live_nor_targets():
    history = [release("v1", 1), release("v2", 2), release("v3", 3, kind="failed")]

    assert live(history).version == "v2"
    assert rollback_target(history).version == "v1"
    with pytest.raises(Exit, match="'v3' is not in the ledger; known: v2, v1"):
        rollback_target(history, "v3")


def test_two_rollbacks_walk_back_instead_of_bouncing():
    history = [
        release("v1", 1),
        release("v2", 2),
        release("v3", 3),
        release("v2", 2, kind="rollback", replaced="v3"),
    ]

    # v3 was rolled back from: the next rollback goes to v1, not back to v3.
    assert rollback_target(history).version == "v1"


def test_nothing_to_roll_back_to_is_explained():
    with pytest.raises(Exit, match="ledger is empty"):
        rollback_target([])
    with pytest.raises(Exit, match="no earlier good release than v1"):
        rollback_target([release("v1", 1)])


@pytest.mark.aws
def test_an_unreadable_ledger_is_reported_and_never_overwritten(stack):
    dev = stack("dev")
    parameter = dev.outputs["releaseLedgerParameter"]
    dev.ssm.put_parameter(Name=parameter, Value="[{oops", Type="String", Overwrite=True)

    with pytest.raises(Exit, match="does not hold a readable release list"):
        releases.releases(Context(), env="dev")
    with pytest.raises(Exit):
        Ledger(dev.ssm, parameter).append(release("v2", 2))
    assert dev.ssm.get_parameter(Name=parameter)["Parameter"]["Value"] == "[{oops"
