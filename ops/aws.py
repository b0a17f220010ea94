"""What the ops tasks act on: an environment's stack outputs, its region and its AWS clients.

Stack outputs come from a JSON file when one is named (`--outputs-file`, or the environment
variable `RAGASSIST_STACK_OUTPUTS`; `pulumi stack output --json --stack <env>` writes one),
otherwise from the Pulumi Automation API, which needs the Pulumi CLI and a logged-in backend.
AWS credentials are boto3's usual chain; `AWS_ENDPOINT_URL` points every client at moto in tests.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from invoke import Exit

from ops.infra import INSTALL_CLI, ROOT, environments

OUTPUTS_ENV = "RAGASSIST_STACK_OUTPUTS"
OUTPUTS_HELP = f"JSON file of the stack's outputs (default: ${OUTPUTS_ENV}, else Pulumi)"
ENV_HELP = "environment: dev, staging or prod (a Pulumi.<env>.yaml)"
PROJECT = "ragassist"


@dataclass(frozen=True, slots=True)
class StackOutputs:
    """The outputs of `stacks/__main__.py` that deploys, rollbacks and flags consume."""

    environment: str
    widget_bucket: str
    widget_distribution_id: str
    ecr_repository_url: str
    cluster_name: str
    api_service_name: str
    worker_service_name: str
    api_task_family: str
    worker_task_family: str
    alb_dns_name: str
    api_base_url: str
    task_subnet_ids: tuple[str, ...]
    task_security_group_id: str
    log_groups: dict[str, str]
    flags_parameter: str
    release_ledger_parameter: str

    @classmethod
    def from_mapping(cls, env: str, values: dict[str, Any]) -> StackOutputs:
        keys = {field.name: _camel(field.name) for field in fields(cls)}
        missing = sorted(key for key in keys.values() if key not in values)
        if missing:
            raise Exit(f"the {env} stack outputs lack {', '.join(missing)}: run `invoke infra.up`")
        # Outputs from another stack would deploy staging's image to prod's ledger, or worse.
        if values["environment"] != env:
            raise Exit(f"those stack outputs are {values['environment']!r}'s, not {env!r}'s")
        data = {name: values[key] for name, key in keys.items()}
        data["task_subnet_ids"] = tuple(data["task_subnet_ids"])
        return cls(**data)

    @property
    def deploy_lock_parameter(self) -> str:
        """Next to the ledger, so the IAM that may deploy may also take the lock."""
        return self.release_ledger_parameter.rsplit("/", 1)[0] + "/deploy-lock"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def check_env(env: str) -> str:
    if env not in environments():
        raise Exit(f"unknown environment {env!r}: expected one of {', '.join(environments())}")
    return env


def region(env: str) -> str:
    """The region in `Pulumi.<env>.yaml`, so a stray AWS_REGION cannot aim at the wrong place."""
    config = yaml.safe_load((ROOT / f"Pulumi.{check_env(env)}.yaml").read_text())["config"]
    return str(config["aws:region"])


def stack_config(env: str, key: str, default: Any) -> Any:
    """One value of `ragassist:<section>` in `Pulumi.<env>.yaml`, e.g. `widget.loaderTtlSeconds`."""
    config = yaml.safe_load((ROOT / f"Pulumi.{check_env(env)}.yaml").read_text())["config"]
    section, _, name = key.partition(".")
    return config.get(f"{PROJECT}:{section}", {}).get(name, default)


def read_outputs(env: str, outputs_file: str = "") -> dict[str, Any]:
    """The raw outputs: from the named JSON file, else from the Pulumi stack."""
    path = outputs_file or os.environ.get(OUTPUTS_ENV, "")
    if path:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise Exit(f"cannot read stack outputs from {path}: {exc}") from None
        if not isinstance(values, dict):
            raise Exit(f"{path} must hold a JSON object (`pulumi stack output --json`)")
        return values
    if shutil.which("pulumi") is None:
        raise Exit(
            f"no stack outputs: pass --outputs-file (or set {OUTPUTS_ENV}) to a file written by "
            f"`pulumi stack output --json --stack {env}`, or install the Pulumi CLI: {INSTALL_CLI}"
        )
    from pulumi import automation

    try:
        stack = automation.select_stack(stack_name=env, work_dir=str(ROOT))
        return {name: output.value for name, output in stack.outputs().items()}
    except automation.errors.CommandError as exc:
        raise Exit(f"pulumi could not read stack {env!r} (logged in? created?):\n{exc}") from None


def stack_outputs(env: str, outputs_file: str = "") -> StackOutputs:
    return StackOutputs.from_mapping(check_env(env), read_outputs(env, outputs_file))


def parameter_name(env: str, outputs_file: str, output: str, leaf: str) -> tuple[str, str]:
    """An SSM parameter from the outputs, or by the stack's naming rule when they are unavailable.

    The flag and ledger levers must work while Pulumi's backend is down, in the middle of the
    incident they are for; the note says which way the name was found.
    """
    try:
        return str(read_outputs(env, outputs_file)[output]), ""
    except (Exit, KeyError):
        name = f"/{PROJECT}/{check_env(env)}/{leaf}"
        return name, f"(stack outputs unavailable; using the stack's naming rule: {name})"


class Clients:
    """boto3 clients for one region, created on first use, with standard retries."""

    def __init__(self, region_name: str) -> None:
        import boto3

        self.region = region_name
        self._session = boto3.session.Session(region_name=region_name)

    def _client(self, service: str) -> Any:
        from botocore.config import Config

        return self._session.client(
            service, config=Config(retries={"max_attempts": 8, "mode": "standard"})
        )

    @cached_property
    def ssm(self) -> Any:
        return self._client("ssm")

    @cached_property
    def ecs(self) -> Any:
        return self._client("ecs")

    @cached_property
    def ecr(self) -> Any:
        return self._client("ecr")

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def cloudfront(self) -> Any:
        return self._client("cloudfront")

    @cached_property
    def cloudwatch(self) -> Any:
        return self._client("cloudwatch")


@dataclass
class Target:
    """One environment to act on: its name, its outputs and clients in its region."""

    env: str
    outputs: StackOutputs
    aws: Clients


def target(env: str, outputs_file: str = "") -> Target:
    outputs = stack_outputs(env, outputs_file)
    return Target(env=env, outputs=outputs, aws=Clients(region(env)))


def short_arn(arn: str) -> str:
    """`arn:aws:ecs:…:task-definition/ragassist-prod-api:42` → `ragassist-prod-api:42`."""
    return arn.rsplit("/", 1)[-1]


@contextmanager
def aws_errors(env: str) -> Iterator[None]:
    """AWS refusing (AccessDenied, no credentials, throttled past retries) as one clear line."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise Exit(
            f"{env}: AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
        ) from None
    except BotoCoreError as exc:
        raise Exit(f"{env}: cannot reach AWS: {exc}") from None
