"""Build the Pulumi program per environment under `pulumi.runtime.set_mocks`.

Each environment is built once per session from its real `Pulumi.<env>.yaml`; tests then read
the recorded inventory (every resource with its inputs) and the stack's exports.
"""

from __future__ import annotations

import asyncio
import gc
import json
import runpy
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT = "123456789012"


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent_type: str = ""
    ignore_changes: tuple[str, ...] = ()
    # The parents this resource had before a refactoring (Pulumi moves it instead of replacing it).
    alias_parents: tuple[str, ...] = ()


@dataclass
class Build:
    environment: str
    resources: list[Resource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    # Component type -> the names of the outputs it registered.
    component_outputs: dict[str, list[str]] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[Resource]:
        return [resource for resource in self.resources if resource.type == type_]

    def one(self, type_: str, name: str) -> Resource:
        matches = [r for r in self.resources if r.type == type_ and r.name == name]
        assert len(matches) == 1, f"expected one {type_} named {name}, got {len(matches)}"
        return matches[0]

    def by_id(self, id_: str) -> Resource:
        matches = [r for r in self.resources if r.outputs.get("id") == id_]
        assert len(matches) == 1, id_
        return matches[0]


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back as outputs, plus the computed outputs the program reads."""

    def __init__(self, build: Build) -> None:
        self.build = build

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        id_ = f"{args.name}-id"
        service = args.typ.split(":")[1].split("/")[0]
        outputs = {
            **args.inputs,
            "id": id_,
            "arn": args.inputs.get("arn") or f"arn:aws:{service}:eu-west-1:{ACCOUNT}:{args.name}",
            **_computed(args.typ, args.name, args.inputs),
        }
        if args.typ.startswith(("aws:", "random:")):
            self.build.resources.append(Resource(args.typ, args.name, args.inputs, outputs))
        return id_, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "userId": "ci"}
        raise NotImplementedError(args.token)


class RecordingMonitor(MockMonitor):
    """Also records what `MockResourceArgs` leaves out: parent, ignore_changes, outputs."""

    def __init__(self, build: Build) -> None:
        super().__init__(RecordingMocks(build))
        self.build = build
        self.options: dict[tuple[str, str], tuple[str, tuple[str, ...], tuple[str, ...]]] = {}

    def RegisterResource(self, request: Any) -> Any:
        # Registrations run on worker threads, so options are matched to resources afterwards.
        self.options[(request.type, request.name)] = (
            _urn_type(request.parent),
            tuple(request.ignoreChanges),
            tuple(_urn_type(alias.spec.parentUrn) for alias in request.aliases),
        )
        return super().RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self.build.component_outputs[_urn_type(request.urn)] = sorted(request.outputs.fields)
        return super().RegisterResourceOutputs(request)


def _urn_type(urn: str) -> str:
    """`urn:pulumi:dev::ragassist::parent$type::name` -> `type` ("" for no URN)."""
    return urn.split("::")[-2].split("$")[-1] if urn else ""


def _computed(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    if type_ == "aws:rds/instance:Instance":
        secret = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:rds!{name}"
        return {
            "address": f"{name}.rds.amazonaws.com",
            "masterUserSecrets": [{"secretArn": secret}],
        }
    if type_ == "aws:lb/loadBalancer:LoadBalancer":
        return {"arnSuffix": f"app/{name}/0123456789abcdef", "dnsName": f"{name}.elb.amazonaws.com"}
    if type_ == "aws:ecr/repository:Repository":
        return {"repositoryUrl": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{inputs['name']}"}
    if type_ == "aws:s3/bucket:Bucket":
        return {"bucket": name, "bucketRegionalDomainName": f"{name}.s3.eu-west-1.amazonaws.com"}
    if type_ == "aws:cloudfront/distribution:Distribution":
        return {"domainName": "d111111abcdef8.cloudfront.net"}
    if type_ == "aws:elasticache/replicationGroup:ReplicationGroup":
        return {"primaryEndpointAddress": f"master.{name}.cache.amazonaws.com"}
    if type_ == "random:index/randomPassword:RandomPassword":
        return {"result": "x" * int(inputs["length"])}
    return {}


def stack_config(environment: str) -> dict[str, Any]:
    """The `config:` of `Pulumi.<env>.yaml`, parsed."""
    text = (ROOT / f"Pulumi.{environment}.yaml").read_text()
    return yaml.safe_load(text)["config"]


def build_stack(environment: str, config: dict[str, Any] | None = None) -> Build:
    """Run stacks/__main__.py for `environment` under mocks; raise what the program raises."""
    # Pulumi's runtime takes the thread's current event loop; an earlier test's asyncio.run()
    # may have left the main thread with none. The loop is closed once the program has run.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return _build_on_current_loop(environment, config)
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
        # Pulumi's mocks give each executor thread an event loop of its own and never close
        # it: collect those here, where their ResourceWarning is expected, not in a later test.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def _build_on_current_loop(environment: str, config: dict[str, Any] | None) -> Build:
    build = Build(environment)
    monitor = RecordingMonitor(build)
    pulumi.runtime.set_mocks(
        monitor.mocks, project="ragassist", stack=environment, preview=False, monitor=monitor
    )
    values = stack_config(environment) if config is None else config
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in values.items()
        }
    )
    root = pulumi.runtime.settings.get_root_resource()
    errors: list[BaseException] = []

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        try:
            runpy.run_path(str(ROOT / "stacks" / "__main__.py"), run_name="__main__")
        except BaseException as exc:  # handed to the caller after the runtime settles
            errors.append(exc)
            return pulumi.Output.from_input(None)
        return pulumi.Output.all(**root.outputs).apply(build.exports.update)

    root.outputs = {}
    run()
    if errors:
        raise errors[0]
    for resource in build.resources:
        resource.parent_type, resource.ignore_changes, resource.alias_parents = monitor.options[
            (resource.type, resource.name)
        ]
    return build


@pytest.fixture(scope="session")
def stacks() -> Iterator[Callable[[str], Build]]:
    cache: dict[str, Build] = {}

    def get(environment: str) -> Build:
        if environment not in cache:
            cache[environment] = build_stack(environment)
        return cache[environment]

    yield get


@pytest.fixture(params=ENVIRONMENTS)
def stack(request: pytest.FixtureRequest, stacks: Callable[[str], Build]) -> Build:
    return stacks(request.param)
