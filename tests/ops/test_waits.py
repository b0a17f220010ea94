"""The deploy's polls, against responses shaped (and validated) by botocore's ECS and CloudFront
models: moto never completes ECS deployments, so this is where "stable" is proven."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from ops.waits import WaitFailed, Waits

OLD = "arn:aws:ecs:eu-west-1:123456789012:task-definition/ragassist-prod-api:41"
NEW = "arn:aws:ecs:eu-west-1:123456789012:task-definition/ragassist-prod-api:42"


def service(deployments, running=3, desired=3):
    return {
        "serviceName": "api",
        "runningCount": running,
        "desiredCount": desired,
        "deployments": deployments,
    }


def deployment(status, task_definition, state="IN_PROGRESS", running=3, reason=""):
    found = {
        "status": status,
        "taskDefinition": task_definition,
        "rolloutState": state,
        "runningCount": running,
        "desiredCount": 3,
    }
    return found | ({"rolloutStateReason": reason} if reason else {})


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def polls(client, *responses, method="describe_services"):
    stubber = Stubber(client)
    for response in responses:
        stubber.add_response(method, response)
    stubber.activate()
    return stubber


def ecs():
    return boto3.client(
        "ecs", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_stable_once_our_revision_is_the_only_completed_deployment():
    client = ecs()
    clock = Clock()
    stubber = polls(
        client,
        {
            "services": [
                service(
                    [deployment("PRIMARY", NEW, running=1), deployment("ACTIVE", OLD, "COMPLETED")],
                    running=4,
                )
            ]
        },
        {"services": [service([deployment("PRIMARY", NEW, "COMPLETED")])]},
    )
    seen = []

    Waits(sleep=clock.sleep, clock=lambda: clock.now).services_stable(
        client, "ragassist-prod", {"api": NEW}, seen.append
    )

    stubber.assert_no_pending_responses()
    assert seen == ["api: 1/3 new tasks running, 1 old deployment(s) draining"]
    assert clock.sleeps == [10.0]


def test_a_circuit_breaker_rollback_fails_fast_instead_of_looking_stable():
    client = ecs()
    # ECS's own rollback: a new PRIMARY deployment on the old revision, which then settles.
    polls(
        client,
        {
            "services": [
                service(
                    [
                        deployment(
                            "PRIMARY", OLD, "COMPLETED", reason="circuit breaker: rolled back to 41"
                        )
                    ]
                )
            ]
        },
    )

    with pytest.raises(WaitFailed, match=r"api was rolled back by ECS to .*:41: circuit breaker"):
        Waits(sleep=lambda s: None).services_stable(client, "c", {"api": NEW}, lambda t: None)


def test_a_failed_rollout_fails_fast():
    client = ecs()
    polls(
        client,
        {
            "services": [
                service([deployment("PRIMARY", NEW, "FAILED", reason="tasks failed to start")])
            ]
        },
    )

    with pytest.raises(WaitFailed, match="api deployment failed: tasks failed to start"):
        Waits(sleep=lambda s: None).services_stable(client, "c", {"api": NEW}, lambda t: None)


def test_not_stable_in_time_is_a_failure():
    client = ecs()
    clock = Clock()
    in_progress = {
        "services": [
            service([deployment("PRIMARY", NEW, running=2), deployment("ACTIVE", OLD, "COMPLETED")])
        ]
    }
    polls(client, in_progress, in_progress, in_progress)

    waits = Waits(sleep=clock.sleep, clock=lambda: clock.now, stable_timeout=20)
    with pytest.raises(WaitFailed, match="not stable after 0 min"):
        waits.services_stable(client, "c", {"api": NEW}, lambda t: None)
    assert clock.sleeps == [10.0, 10.0]


def test_a_one_off_task_is_waited_for_until_stopped():
    client = ecs()
    arn = "arn:aws:ecs:eu-west-1:123456789012:task/ragassist-prod/abc"
    polls(
        client,
        {"tasks": [{"taskArn": arn, "lastStatus": "RUNNING"}]},
        {
            "tasks": [
                {
                    "taskArn": arn,
                    "lastStatus": "STOPPED",
                    "containers": [{"name": "api", "exitCode": 0}],
                }
            ]
        },
        method="describe_tasks",
    )

    task = Waits(sleep=lambda s: None).task_stopped(client, "c", arn, lambda t: None)

    assert task["containers"][0]["exitCode"] == 0


def test_an_invalidation_is_waited_for_in_awss_spelling():
    client = boto3.client("cloudfront", aws_access_key_id="x", aws_secret_access_key="x")
    created = datetime(2026, 11, 27, tzinfo=UTC)

    def status(value):
        batch = {"Paths": {"Quantity": 1, "Items": ["/loader.js"]}, "CallerReference": "r"}
        return {
            "Invalidation": {
                "Id": "I1",
                "Status": value,
                "CreateTime": created,
                "InvalidationBatch": batch,
            }
        }

    stubber = polls(client, status("InProgress"), status("Completed"), method="get_invalidation")
    seen = []

    Waits(sleep=lambda s: None).invalidation_completed(client, "D1", "I1", seen.append)

    stubber.assert_no_pending_responses()
    assert seen == ["invalidation I1 is inprogress"]
