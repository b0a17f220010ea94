"""The rendered Prometheus rules pass promtool's checks and the boundary-case unit tests."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from invoke import Context

from alerts.prometheus import alert_expression, render_rules_file
from alerts.rules import load_rules
from alerts.tasks import render

RULES = load_rules()
UNIT_TESTS = Path(__file__).with_name("prometheus_rules_test.yml")


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        # CI installs Debian's `prometheus`; there a missing promtool is a failure, not a skip.
        if os.environ.get("CI"):
            pytest.fail("promtool not found: apt-get install -y prometheus")
        pytest.skip("promtool not installed (apt-get install -y prometheus)")
    return path


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "prometheus-rules.yml"
    render(Context(), output=str(path))
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_rendered_rules_pass_promtool_check(promtool, rules_file):
    result = _run(promtool, "check", "rules", str(rules_file), cwd=rules_file.parent)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


def test_rendered_rules_pass_the_boundary_case_unit_tests(promtool, rules_file):
    shutil.copy(UNIT_TESTS, rules_file.parent / UNIT_TESTS.name)

    result = _run(promtool, "test", "rules", UNIT_TESTS.name, cwd=rules_file.parent)

    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_tests_cover_every_alert():
    tests = yaml.safe_load(UNIT_TESTS.read_text())["tests"]
    covered = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    firing = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }

    assert covered == firing == {rule.name for rule in RULES}


def test_one_alert_per_rule_with_severity_and_runbook():
    (group,) = yaml.safe_load(render_rules_file(RULES))["groups"]

    assert [alert["alert"] for alert in group["rules"]] == [rule.name for rule in RULES]
    for alert, rule in zip(group["rules"], RULES, strict=True):
        assert alert["labels"] == {"severity": str(rule.severity)}
        assert alert["annotations"]["runbook_url"] == RULES.runbook_url(rule)
        assert "for" not in alert  # M-of-N is in the expression, window by window


def test_each_of_the_n_windows_is_its_own_term():
    rule = next(rule for rule in RULES if rule.name == "WidgetLoadFailureRate")  # 2 of 3, 5m
    expression = alert_expression(rule)

    assert len(expression.splitlines()) == 4  # three windows, then the M
    assert "offset 5m" in expression and "offset 10m" in expression
    assert "offset 15m" not in expression
    assert expression.endswith(">= 2")


def test_render_task_writes_the_file(tmp_path):
    output = tmp_path / "nested" / "rules.yml"

    render(Context(), output=str(output))

    assert output.read_text() == render_rules_file(RULES)
