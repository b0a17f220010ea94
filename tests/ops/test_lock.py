"""The deploy lock: an SSM parameter created atomically, with an owner and an expiry."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from ops.lock import DeployLock, LockHeld, LockLost
from tests.ops.conftest import client

NAME = "/ragassist/dev/deploy-lock"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def lock(owner: str, clock: Clock | None = None) -> DeployLock:
    extra = {"clock": clock} if clock else {}
    return DeployLock(client("ssm"), NAME, owner=owner, what=f"deploy by {owner}", **extra)


@pytest.mark.aws
def test_a_second_holder_is_refused_with_who_holds_it(aws):
    with lock("alice@laptop"), pytest.raises(LockHeld) as held:
        lock("bob@ci").acquire()

    message = str(held.value)
    assert "alice@laptop holds the deploy lock" in message
    assert "deploy by alice@laptop" in message
    assert f"aws ssm delete-parameter --name {NAME}" in message
    lock("bob@ci").acquire()  # released on exit


@pytest.mark.aws
def test_an_expired_lock_is_taken_over(aws):
    clock = Clock()
    stale = lock("crashed@laptop", clock)
    stale.acquire()
    clock.now += timedelta(hours=2)

    fresh = lock("bob@ci", clock)
    fresh.acquire()

    assert fresh.took_over is not None and fresh.took_over["owner"] == "crashed@laptop"
    with pytest.raises(LockLost):
        stale.refresh()  # the crashed run, if it comes back, stops instead of carrying on
    stale.release()  # and does not delete bob's lock
    holder = json.loads(client("ssm").get_parameter(Name=NAME)["Parameter"]["Value"])
    assert holder["owner"] == "bob@ci"


@pytest.mark.aws
def test_refresh_pushes_the_expiry_out(aws):
    clock = Clock()
    held = lock("alice@laptop", clock)
    held.acquire()
    clock.now += timedelta(minutes=50)
    held.refresh()
    clock.now += timedelta(minutes=50)  # 100 min after taking it, 50 after the refresh

    with pytest.raises(LockHeld):
        lock("bob@ci", clock).acquire()
