"""The runbooks' commands typed as the on-call types them: the real `invoke` CLI, against moto."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        env=dict(os.environ, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.aws
def test_the_rollback_runbooks_flag_levers_work_as_written(stack):
    dev = stack("dev")

    pulled = invoke("flags.set", "--env", "dev", "--name", "cors_mode", "--value", "report-only")
    listed = invoke("flags.list", "--env", "dev")

    assert pulled.returncode == 0, pulled.stderr
    assert "enforce → report-only" in pulled.stdout
    assert listed.returncode == 0 and "report-only" in listed.stdout
    assert dev.flags()["cors_mode"] == "report-only"


@pytest.mark.aws
def test_a_refused_flag_exits_non_zero_with_the_reason(stack):
    stack("dev")

    refused = invoke("flags.set", "--env", "dev", "--name", "cors_mode", "--value", "off")

    assert refused.returncode == 1
    assert "must be 'enforce' or 'report-only'" in refused.stderr


@pytest.mark.aws
def test_releases_deploy_dry_run_and_cdn_invalidate_parse_as_documented(dev):
    dev.push_image("v2")

    releases = invoke("releases", "--env", "dev", "--json")
    dry_run = invoke("deploy", "--env", "dev", "--version", "v2", "--dry-run")
    invalidated = invoke("cdn.invalidate", "--env", "dev", "--paths", "/loader.js")

    assert releases.returncode == 0, releases.stderr
    assert json.loads(releases.stdout)[0]["version"] == "v1"
    assert dry_run.returncode == 0, dry_run.stderr
    assert "dry run: nothing will change" in dry_run.stdout
    assert invalidated.returncode == 0, invalidated.stderr
    assert dev.invalidated_paths() == [["/loader.js"]]


@pytest.mark.aws
def test_prod_deploy_without_a_terminal_exits_non_zero_asking_for_yes(stack):
    prod = stack("prod")
    prod.push_image("v2")

    refused = invoke("deploy", "--env", "prod", "--version", "v2")

    assert refused.returncode == 1
    assert "no terminal to confirm on; pass --yes" in refused.stderr
