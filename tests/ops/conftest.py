"""An environment's AWS resources on moto server, shaped like the Pulumi stack creates them.

`stack("dev")` creates what `stacks/__main__.py` would (cluster, services on a bootstrap
revision, ECR repository, widget bucket and distribution, ALB, flags and ledger parameters),
writes the stack outputs to a JSON file and points RAGASSIST_STACK_OUTPUTS at it.

moto answers the AWS APIs but runs nothing: ECS deployments never reach steady state and
one-off tasks never finish. `MotoWaits` plays those two parts: `sleep` stops our one-off tasks
(as if they finished; the real poll then reads their STOPPED state and exit code from moto), and
`services_stable` checks the services point at the expected revisions instead of polling
deployments moto never completes. The real polls are tested against ECS-shaped responses in
test_waits.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from ops import waits as waiting
from ops.releases import Ledger, Release
from ops.waits import WaitFailed, Waits

REGION = "eu-west-1"  # Pulumi.<env>.yaml's aws:region
ACCOUNT = "123456789012"
# stacks/api_service.py INITIAL_FLAGS (not imported: pulumi_aws takes seconds to import).
INITIAL_FLAGS = {
    "product_sync_enabled": True,
    "cors_mode": "enforce",
    "legacy_sessions_endpoint": True,
}


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A clean moto account for one test, reached through boto3's standard variables."""
    httpx.post(f"{moto_url}/moto-api/reset").raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGASSIST_ACTOR", "tester@ci")
    monkeypatch.delenv("RAGASSIST_STACK_OUTPUTS", raising=False)
    return moto_url


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@dataclass
class Stack:
    env: str
    outputs: dict[str, Any]
    outputs_file: Path
    # Tests that deploy several versions note each one's revisions here.
    revisions: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ecs(self) -> Any:
        return client("ecs")

    @property
    def ssm(self) -> Any:
        return client("ssm")

    @property
    def s3(self) -> Any:
        return client("s3")

    @property
    def cloudfront(self) -> Any:
        return client("cloudfront")

    def running(self) -> dict[str, str]:
        services = [self.outputs["apiServiceName"], self.outputs["workerServiceName"]]
        found = self.ecs.describe_services(cluster=self.outputs["clusterName"], services=services)
        return {s["serviceName"]: s["taskDefinition"] for s in found["services"]}

    def ledger(self) -> list[dict[str, Any]]:
        name = self.outputs["releaseLedgerParameter"]
        return json.loads(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])

    def flags(self) -> dict[str, Any]:
        name = self.outputs["flagsParameter"]
        return json.loads(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])

    def push_image(self, tag: str) -> str:
        """What `docker push` leaves in ECR (no Docker here): an image under `tag`."""
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7,
                "digest": "sha256:" + tag.encode().hex().ljust(64, "0")[:64],
            },
            "layers": [],
        }
        image = client("ecr").put_image(
            repositoryName=self.outputs["ecrRepositoryName"],
            imageManifest=json.dumps(manifest),
            imageTag=tag,
        )
        return str(image["image"]["imageId"]["imageDigest"])

    def invalidated_paths(self) -> list[list[str]]:
        distribution = self.outputs["widgetDistributionId"]
        found = self.cloudfront.list_invalidations(DistributionId=distribution)
        batches = []
        for item in found["InvalidationList"].get("Items", []):
            got = self.cloudfront.get_invalidation(DistributionId=distribution, Id=item["Id"])
            batches.append(got["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
        return batches

    def objects(self) -> dict[str, str]:
        """Key → Cache-Control of every object in the widget bucket."""
        bucket = self.outputs["widgetBucket"]
        listed = self.s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return {
            o["Key"]: self.s3.head_object(Bucket=bucket, Key=o["Key"]).get("CacheControl", "")
            for o in listed
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything a deploy could change, to prove a dry run changed none of it."""
        families = [self.outputs["apiTaskFamily"], self.outputs["workerTaskFamily"]]
        parameters = self.ssm.describe_parameters()["Parameters"]
        return {
            "services": self.running(),
            "revisions": [
                self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
                for family in families
            ],
            "tasks": self.ecs.list_tasks(cluster=self.outputs["clusterName"])["taskArns"],
            "parameters": {
                p["Name"]: self.ssm.get_parameter(Name=p["Name"])["Parameter"]["Value"]
                for p in parameters
            },
            "objects": self.objects(),
            "invalidations": self.invalidated_paths(),
            "images": client("ecr").list_images(repositoryName=self.outputs["ecrRepositoryName"])[
                "imageIds"
            ],
        }


def _task_definition(
    env: str, family: str, repository_url: str, role: str, command: list[str]
) -> dict:
    return {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{family}-task",
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "containerDefinitions": [
            {
                "name": role,
                "image": f"{repository_url}:bootstrap",
                "essential": True,
                "command": command,
                # moto's RunTask needs a container-level memory (Fargate does not).
                "memory": 512,
                "environment": [{"name": "FLAGS_SOURCE", "value": f"ssm:/ragassist/{env}/flags"}],
            }
        ],
    }


@pytest.fixture(autouse=True)
def no_widget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploys see no widget sources unless a test brings its own (the checkout's widget/ is
    another room's work in progress)."""
    from ops import deploy

    monkeypatch.setattr(deploy, "WIDGET_DIR", tmp_path / "no-widget")


@pytest.fixture
def stack(aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Stack]:
    def make(env: str = "dev") -> Stack:
        prefix = f"ragassist-{env}"
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        # The stack's VPC has DNS hostnames on (and moto's RunTask needs them for the ENI).
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"]
            for i in (1, 2)
        ]
        group = ec2.create_security_group(GroupName=f"{prefix}-svc", Description="s", VpcId=vpc)
        repository = client("ecr").create_repository(
            repositoryName=prefix, imageTagMutability="IMMUTABLE"
        )["repository"]
        url = repository["repositoryUri"]
        ecs = client("ecs")
        ecs.create_cluster(clusterName=prefix)
        vpc_config = {"subnets": subnets, "securityGroups": [group["GroupId"]]}
        network = {"awsvpcConfiguration": vpc_config}
        for role, command in (("api", ["ragassist", "serve"]), ("worker", ["ragassist", "worker"])):
            family = f"{prefix}-{role}"
            arn = ecs.register_task_definition(**_task_definition(env, family, url, role, command))[
                "taskDefinition"
            ]["taskDefinitionArn"]
            ecs.create_service(
                cluster=prefix,
                serviceName=role,
                taskDefinition=arn,
                desiredCount=1,
                launchType="FARGATE",
                networkConfiguration=network,
            )
        s3 = client("s3")
        bucket = f"{prefix}-widget"
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        distribution = client("cloudfront").create_distribution(
            DistributionConfig={
                "CallerReference": prefix,
                "Comment": "widget",
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "widget-bucket",
                            "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "widget-bucket",
                    "ViewerProtocolPolicy": "redirect-to-https",
                    "MinTTL": 0,
                    "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
                    "TrustedSigners": {"Enabled": False, "Quantity": 0},
                },
            }
        )["Distribution"]
        alb = client("elbv2").create_load_balancer(Name=prefix, Subnets=subnets)["LoadBalancers"][0]
        ssm = client("ssm")
        path = f"/ragassist/{env}"
        ssm.put_parameter(Name=f"{path}/flags", Value=json.dumps(INITIAL_FLAGS), Type="String")
        ssm.put_parameter(Name=f"{path}/releases", Value="[]", Type="String")
        outputs = {
            "environment": env,
            "widgetBucket": bucket,
            "widgetDistributionId": distribution["Id"],
            "widgetDistributionDomain": distribution["DomainName"],
            "widgetBaseUrl": f"https://cdn.{env}.ragassist.example.com/",
            "ecrRepositoryUrl": url,
            "ecrRepositoryName": prefix,
            "clusterName": prefix,
            "apiServiceName": "api",
            "workerServiceName": "worker",
            "apiTaskFamily": f"{prefix}-api",
            "workerTaskFamily": f"{prefix}-worker",
            "albDnsName": alb["DNSName"],
            "apiBaseUrl": f"https://api.{env}.ragassist.example.com",
            "taskSubnetIds": subnets,
            "taskSecurityGroupId": group["GroupId"],
            "logGroups": {"api": f"{path}/api", "worker": f"{path}/worker"},
            "flagsParameter": f"{path}/flags",
            "releaseLedgerParameter": f"{path}/releases",
            "metricsNamespace": "RAGAssistant",
        }
        outputs_file = tmp_path / f"outputs-{env}.json"
        outputs_file.write_text(json.dumps(outputs))
        monkeypatch.setenv("RAGASSIST_STACK_OUTPUTS", str(outputs_file))
        return Stack(env=env, outputs=outputs, outputs_file=outputs_file)

    return make


@dataclass
class MotoWaits(Waits):
    """The real polls, except where moto cannot play ECS (see the module docstring)."""

    stable_calls: list[dict[str, str]] = field(default_factory=list)
    fail_stable: str = ""  # e.g. a circuit-breaker rollback, on the next services_stable call
    interval: float = 0.0

    def services_stable(self, ecs: Any, cluster: str, revisions: dict[str, str], progress) -> None:
        self.stable_calls.append(dict(revisions))
        found = ecs.describe_services(cluster=cluster, services=list(revisions))["services"]
        actual = {s["serviceName"]: s["taskDefinition"] for s in found}
        assert actual == revisions, "services_stable waited on revisions the services don't run"
        if self.fail_stable:
            reason, self.fail_stable = self.fail_stable, ""
            raise WaitFailed(reason)

    def __post_init__(self) -> None:
        self.sleep = self._finish_one_off_tasks

    def _finish_one_off_tasks(self, seconds: float) -> None:
        ecs = client("ecs")
        for cluster in ecs.list_clusters()["clusterArns"]:
            arns = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
            for task in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []:
                if task.get("startedBy") == "invoke-deploy":
                    ecs.stop_task(cluster=cluster, task=task["taskArn"], reason="finished")


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> MotoWaits:
    fake = MotoWaits()
    monkeypatch.setattr(waiting, "DEFAULT", fake)
    return fake


class StandIn:
    """A local HTTP server standing in for the ALB: /healthz and /readyz, as the app answers."""

    def __init__(self) -> None:
        self.ready = True
        self.requests: list[tuple[str, str | None]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.requests.append((self.path, self.headers.get("Host")))
                if self.path == "/healthz":
                    self._send(200, {"success": True, "data": {"status": "ok"}})
                elif self.path == "/readyz" and stand_in.ready:
                    self._send(200, {"success": True, "data": {"status": "ready", "checks": {}}})
                elif self.path == "/readyz":
                    error = {"code": "upstream_unavailable", "message": "Not ready"}
                    self._send(503, {"success": False, "error": error})
                else:
                    self._send(404, {"success": False})

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alb() -> Iterator[StandIn]:
    stand_in = StandIn()
    yield stand_in
    stand_in.close()


def write_widget(root: Path, version: str, *, loader: str = "loader") -> Path:
    """A `widget/` as `invoke widget.build` leaves it: dist/ with bundle, map, manifest, loader."""
    dist = root / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / f"rag-assistant.{version}.js").write_text(f"/* widget {version} */")
    (dist / f"rag-assistant.{version}.js.map").write_text("{}")
    (dist / "manifest.json").write_text(
        json.dumps({"version": version, "bundle": f"rag-assistant.{version}.js"})
    )
    (dist / "loader.js").write_text(f"/* {loader} for {version} */")
    return root


@pytest.fixture
def dev(stack: Callable[..., Stack], waits: MotoWaits) -> Stack:
    """dev with v1 live: its revisions running, its widget 1.0.0 published, in the ledger."""
    env = stack("dev")
    outputs = env.outputs
    running = env.running()
    s3 = env.s3
    for key in ("rag-assistant.1.0.0.js", "manifest.json", "loader.js"):
        body = b"1.0.0 " + key.encode()
        s3.put_object(Bucket=outputs["widgetBucket"], Key=key, Body=body)
        if key != "rag-assistant.1.0.0.js":
            s3.put_object(Bucket=outputs["widgetBucket"], Key=f"aliases/1.0.0/{key}", Body=body)
    Ledger(env.ssm, outputs["releaseLedgerParameter"]).append(
        Release(
            version="v1",
            image_digest="sha256:" + "1" * 64,
            task_definition_arn=running["api"],
            worker_task_definition_arn=running["worker"],
            widget_version="1.0.0",
            migration_revision="0001",
            time="2026-11-26T10:00:00Z",
            actor="alice@laptop",
        )
    )
    return env


def widget_object(env: Stack, key: str) -> bytes:
    return env.s3.get_object(Bucket=env.outputs["widgetBucket"], Key=key)["Body"].read()
