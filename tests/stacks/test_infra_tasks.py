"""`invoke infra.*`: stops clearly without the Pulumi CLI, confirms before applying."""

import sys
from types import SimpleNamespace

import pytest
from invoke import Context, Exit, MockContext, Result

from ops import infra
from tests.invoke_tasks import arguments_of


def test_the_collection_offers_preview_up_and_test_per_environment():
    assert set(infra.ns.task_names) == {"preview", "up", "test"}
    for name in ("preview", "up"):
        arguments = {n for a in arguments_of(infra.ns[name]) for n in a.names}
        assert "env" in arguments


def test_environments_are_the_stack_files():
    assert infra.environments() == ("dev", "prod", "staging")


@pytest.mark.parametrize("task", [infra.preview, infra.up])
def test_without_the_pulumi_cli_it_says_what_to_install(monkeypatch, tmp_path, task):
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(Exit) as caught:
        task(Context(), env="dev")

    assert "Pulumi CLI is not installed" in str(caught.value.message)
    assert "https://get.pulumi.com" in str(caught.value.message)


def test_an_unknown_environment_names_the_known_ones():
    with pytest.raises(Exit, match="unknown environment 'qa': expected one of dev, prod, staging"):
        infra.preview(Context(), env="qa")


class FakeStack:
    def __init__(self) -> None:
        self.applied = False

    def preview(self, **_):
        return SimpleNamespace(change_summary={"create": 3, "same": 80, "update": 1})

    def up(self, **_):
        self.applied = True
        outputs = {"clusterName": SimpleNamespace(value="ragassist-dev", secret=False)}
        return SimpleNamespace(summary=SimpleNamespace(result="succeeded"), outputs=outputs)


@pytest.fixture
def stack(monkeypatch) -> FakeStack:
    fake = FakeStack()
    monkeypatch.setattr(infra, "_stack", lambda env: fake)
    return fake


def test_preview_summarises_the_changes(stack, capsys):
    infra.preview(Context(), env="dev")

    assert "dev: 3 to create, 1 to update" in capsys.readouterr().out


def test_up_without_a_terminal_or_yes_does_not_apply(stack, monkeypatch):
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: False))

    with pytest.raises(Exit, match="pass --yes"):
        infra.up(Context(), env="prod")

    assert stack.applied is False


def test_up_applies_after_an_interactive_yes(stack, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr("builtins.input", lambda prompt: "y")

    infra.up(Context(), env="dev")

    assert stack.applied is True
    assert "clusterName: ragassist-dev" in capsys.readouterr().out


def test_up_with_yes_applies_without_asking(stack, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked"))

    infra.up(Context(), env="dev", yes=True)

    assert stack.applied is True


def test_infra_test_runs_the_offline_suites():
    command = f"{sys.executable} -m pytest tests/stacks tests/alerts tests/app/test_cloudwatch.py"
    context = MockContext(run={command: Result()})

    infra.test_(context)
