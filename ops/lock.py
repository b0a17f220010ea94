"""The deploy lock: one deploy or rollback per environment at a time, without DynamoDB.

The lock is an SSM parameter created with `Overwrite=False`, which SSM creates atomically: of two
deploys, exactly one succeeds and the other is told who holds the lock. It names its owner and an
expiry, refreshed between steps; a holder that died (kill -9, lost laptop) stops blocking once the
expiry passes. Taking over an expired lock is delete-then-create, which SSM cannot make atomic, so
two operators breaking the same stale lock in the same instant could both win: a narrow window
that only opens after a crash, and the ledger shows it if it ever happens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_TTL = timedelta(hours=1)


class LockHeld(Exception):
    def __init__(self, parameter: str, holder: dict[str, Any]) -> None:
        self.holder = holder
        super().__init__(
            f"{holder.get('owner', '?')} holds the deploy lock since {holder.get('since', '?')} "
            f"({holder.get('what', '?')}; expires {holder.get('expires', '?')}). Wait for it, or "
            f"if that run is dead: aws ssm delete-parameter --name {parameter}"
        )


@dataclass
class DeployLock:
    ssm: Any
    parameter: str
    owner: str
    what: str
    ttl: timedelta = DEFAULT_TTL
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def __post_init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.since = _iso(self.clock())
        self.took_over: dict[str, Any] | None = None

    def _value(self) -> str:
        return json.dumps(
            {
                "owner": self.owner,
                "what": self.what,
                "token": self.token,
                "since": self.since,
                "expires": _iso(self.clock() + self.ttl),
            }
        )

    def acquire(self) -> None:
        try:
            self._create()
            return
        except self.ssm.exceptions.ParameterAlreadyExists:
            pass
        current = self._current()
        if current is None:  # released between our attempt and our look
            self._create_or_raise()
            return
        holder, raw = current
        if _parse(holder.get("expires")) > self.clock():
            raise LockHeld(self.parameter, holder)
        # Expired: delete it only if it is still the stale value we looked at, then race for it.
        again = self._current()
        if again is not None and again[1] == raw:
            self.ssm.delete_parameter(Name=self.parameter)
        self.took_over = holder
        self._create_or_raise()

    def refresh(self) -> None:
        """Push the expiry out again; a long deploy calls this between steps."""
        current = self._current()
        if current is None or current[0].get("token") != self.token:
            raise LockLost(self.parameter)
        self.ssm.put_parameter(
            Name=self.parameter, Value=self._value(), Type="String", Overwrite=True
        )

    def release(self) -> None:
        current = self._current()
        if current is not None and current[0].get("token") == self.token:
            self.ssm.delete_parameter(Name=self.parameter)

    def __enter__(self) -> DeployLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _create(self) -> None:
        self.ssm.put_parameter(
            Name=self.parameter,
            Value=self._value(),
            Type="String",
            Overwrite=False,
            Description="invoke deploy/rollback lock: owner and expiry (ops/lock.py)",
        )

    def _create_or_raise(self) -> None:
        try:
            self._create()
        except self.ssm.exceptions.ParameterAlreadyExists:
            current = self._current()
            raise LockHeld(self.parameter, current[0] if current else {}) from None

    def _current(self) -> tuple[dict[str, Any], str] | None:
        try:
            raw = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        try:
            holder = json.loads(raw)
        except ValueError:
            holder = {}
        # Anything unreadable counts as expired: a lock nobody can explain protects nothing.
        return (holder if isinstance(holder, dict) else {}), raw


class LockLost(Exception):
    def __init__(self, parameter: str) -> None:
        super().__init__(
            f"the deploy lock {parameter} was taken by someone else (this run had expired it); "
            "stopping before changing anything more"
        )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: Any) -> datetime:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
