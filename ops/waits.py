"""The waits of a deploy: services stable on our revision, a one-off task stopped, a CDN
invalidation completed.

They poll rather than use boto3's `services_stable` waiter on purpose: that waiter also reports
success when the deployment circuit breaker has rolled the service back to the old revision (the
service *is* stable, just not on ours), which would make a failed deploy look done. These polls
check that our revision is the one that completed, and fail fast when ECS reports the rollout
failed. `sleep` and `clock` are injectable, and so is each method (moto does not run tasks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Progress = Callable[[str], None]


class WaitFailed(Exception):
    """What we waited for failed, or did not happen in time."""


@dataclass
class Waits:
    """The polls a deploy waits on; tests swap `sleep`/`clock` and, where moto cannot follow,
    whole methods (see tests/ops/conftest.py)."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    interval: float = 10.0
    stable_timeout: float = 15 * 60
    task_timeout: float = 15 * 60
    invalidation_timeout: float = 15 * 60

    def services_stable(
        self, ecs: Any, cluster: str, revisions: dict[str, str], progress: Progress
    ) -> None:
        """Until every service's only deployment is `revisions[service]`, completed and full."""
        deadline = self.clock() + self.stable_timeout
        while True:
            found = ecs.describe_services(cluster=cluster, services=list(revisions))["services"]
            waiting = [state for service in found if (state := _rollout(service, revisions))]
            if not waiting:
                return
            progress("; ".join(waiting))
            if self.clock() >= deadline:
                raise WaitFailed(f"not stable after {self.stable_timeout / 60:.0f} min: {waiting}")
            self.sleep(self.interval)

    def task_stopped(
        self, ecs: Any, cluster: str, task_arn: str, progress: Progress
    ) -> dict[str, Any]:
        """Until the task has stopped; returns its description."""
        deadline = self.clock() + self.task_timeout
        while True:
            task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
            if task["lastStatus"] == "STOPPED":
                return dict(task)
            progress(f"task {task_arn.rsplit('/', 1)[-1]} is {task['lastStatus'].lower()}")
            if self.clock() >= deadline:
                raise WaitFailed(f"task {task_arn} still {task['lastStatus']} after the timeout")
            self.sleep(self.interval)

    def invalidation_completed(
        self, cloudfront: Any, distribution_id: str, invalidation_id: str, progress: Progress
    ) -> None:
        deadline = self.clock() + self.invalidation_timeout
        while True:
            found = cloudfront.get_invalidation(DistributionId=distribution_id, Id=invalidation_id)
            status = found["Invalidation"]["Status"]
            # AWS says "Completed"; moto says "COMPLETED" (and boto3's waiter expects the former).
            if status.lower() == "completed":
                return
            progress(f"invalidation {invalidation_id} is {status.lower()}")
            if self.clock() >= deadline:
                raise WaitFailed(f"invalidation {invalidation_id} still {status} after the timeout")
            self.sleep(self.interval)


def _rollout(service: dict[str, Any], revisions: dict[str, str]) -> str:
    """Empty when the service is settled on its expected revision, else what it is doing."""
    name = service["serviceName"]
    expected = revisions[name]
    primary = next(d for d in service["deployments"] if d["status"] == "PRIMARY")
    if primary["taskDefinition"] != expected:
        # The circuit breaker starts a new PRIMARY deployment on the last good revision.
        raise WaitFailed(
            f"{name} was rolled back by ECS to {primary['taskDefinition']}: "
            f"{primary.get('rolloutStateReason', 'the new tasks did not become healthy')}"
        )
    if primary.get("rolloutState") == "FAILED":
        raise WaitFailed(f"{name} deployment failed: {primary.get('rolloutStateReason', '')}")
    done = (
        len(service["deployments"]) == 1
        and primary.get("rolloutState", "COMPLETED") == "COMPLETED"
        and service["runningCount"] == service["desiredCount"]
    )
    if done:
        return ""
    return (
        f"{name}: {primary['runningCount']}/{primary['desiredCount']} new tasks running, "
        f"{len(service['deployments']) - 1} old deployment(s) draining"
    )


# What the tasks use; tests replace it (monkeypatch) where moto cannot play ECS's part.
DEFAULT = Waits()
