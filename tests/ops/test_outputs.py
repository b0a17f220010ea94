"""Stack outputs: what the tasks read is what stacks/__main__.py exports, and bad sources fail
clearly."""

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest
from invoke import Exit

from ops import aws

ROOT = Path(__file__).resolve().parents[2]


def test_every_output_the_tasks_read_is_exported_by_the_stack():
    exported = set(
        re.findall(r'pulumi\.export\("(\w+)"', (ROOT / "stacks/__main__.py").read_text())
    )
    read = {aws._camel(field.name) for field in fields(aws.StackOutputs)}

    assert read <= exported, read - exported


def test_missing_outputs_are_named(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"environment": "dev", "clusterName": "ragassist-dev"}))

    with pytest.raises(Exit, match="the dev stack outputs lack albDnsName, apiBaseUrl"):
        aws.stack_outputs("dev", str(path))


def test_an_unreadable_outputs_file_is_named(tmp_path):
    with pytest.raises(Exit, match=r"cannot read stack outputs from .*nope\.json"):
        aws.stack_outputs("dev", str(tmp_path / "nope.json"))


def test_without_outputs_or_the_pulumi_cli_it_says_both_ways(monkeypatch, tmp_path):
    monkeypatch.delenv("RAGASSIST_STACK_OUTPUTS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(Exit) as stopped:
        aws.stack_outputs("staging")

    assert "pass --outputs-file (or set RAGASSIST_STACK_OUTPUTS)" in stopped.value.message
    assert "pulumi stack output --json --stack staging" in stopped.value.message
    assert "https://get.pulumi.com" in stopped.value.message


def test_unknown_environments_are_refused():
    with pytest.raises(Exit, match="unknown environment 'qa': expected one of dev, prod, staging"):
        aws.stack_outputs("qa")


def test_the_region_comes_from_the_stack_config_not_the_shell(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    assert aws.region("prod") == "eu-west-1"
    assert aws.stack_config("prod", "widget.loaderTtlSeconds", 0) == 60


def test_the_lock_lives_next_to_the_ledger():
    values = {aws._camel(f.name): "x" for f in fields(aws.StackOutputs)}
    values |= {
        "environment": "prod",
        "taskSubnetIds": [],
        "logGroups": {},
        "releaseLedgerParameter": "/ragassist/prod/releases",
    }

    outputs = aws.StackOutputs.from_mapping("prod", values)

    assert outputs.deploy_lock_parameter == "/ragassist/prod/deploy-lock"
