"""ECS for deploys: register a revision with a new image, switch services, run one-off tasks."""

from __future__ import annotations

from typing import Any

# What RegisterTaskDefinition accepts of what DescribeTaskDefinition returns; the rest
# (arn, revision, status, registeredAt, ...) is ECS's bookkeeping.
_REGISTRABLE = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)
MIGRATE_COMMAND = ["ragassist", "migrate"]


class EcsError(Exception):
    """ECS refused, failed or did not finish something a deploy needs."""


def service_task_definitions(ecs: Any, cluster: str, services: list[str]) -> dict[str, str]:
    """The task definition ARN each service runs now (what a failed deploy goes back to)."""
    found = ecs.describe_services(cluster=cluster, services=services)
    if found.get("failures"):
        reasons = ", ".join(f"{f.get('arn')}: {f.get('reason')}" for f in found["failures"])
        raise EcsError(f"cannot describe services in {cluster}: {reasons}")
    return {service["serviceName"]: service["taskDefinition"] for service in found["services"]}


def register_revision(ecs: Any, family: str, repository_url: str, image: str, version: str) -> str:
    """A new revision of `family`: a copy of its latest one, with our image in its containers.

    The latest revision of the family (not the one the service runs) is copied so that an
    `infra.up` that changed the task definition (a new variable, more memory) ships with the
    next deploy; only the image differs, and it is pinned by digest.
    """
    described = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
    current = described["taskDefinition"]
    spec = {key: current[key] for key in _REGISTRABLE if current.get(key) not in (None, [], {})}
    containers = []
    for container in spec["containerDefinitions"]:
        if container["image"].split("@")[0].rsplit(":", 1)[0] == repository_url:
            container = {**container, "image": image}
        containers.append(container)
    if all(c["image"] != image for c in containers):
        raise EcsError(f"no container of {family} runs an image from {repository_url}")
    spec["containerDefinitions"] = containers
    tags = [t for t in described.get("tags", []) if t.get("key") != "release"]
    spec["tags"] = [*tags, {"key": "release", "value": version}]
    return str(ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"])


def update_services(ecs: Any, cluster: str, revisions: dict[str, str]) -> None:
    for service, task_definition in revisions.items():
        ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)


def run_one_off(
    ecs: Any,
    *,
    cluster: str,
    task_definition: str,
    container: str,
    command: list[str],
    subnets: list[str],
    security_group: str,
) -> str:
    """Start `command` as its own Fargate task on the service's network; returns the task ARN."""
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy="invoke-deploy",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": subnets,
                "securityGroups": [security_group],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": container, "command": command}]},
    )
    if started.get("failures") or not started.get("tasks"):
        reasons = ", ".join(f.get("reason", "?") for f in started.get("failures", []))
        raise EcsError(f"ECS did not start the {' '.join(command)} task: {reasons or 'no task'}")
    return str(started["tasks"][0]["taskArn"])


def exit_code(task: dict[str, Any], container: str) -> int | None:
    """The container's exit code; None when it never ran (image pull, secrets, capacity...)."""
    for described in task.get("containers", []):
        if described["name"] == container:
            code = described.get("exitCode")
            return None if code is None else int(code)
    return None
