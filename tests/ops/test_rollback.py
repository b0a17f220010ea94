"""`invoke rollback` against moto: back to the previous or a named release, and its refusals."""

import sys
from types import SimpleNamespace

import pytest
from invoke import Context, Exit

from ops.deploy import deploy
from ops.rollback import rollback
from tests.ops.conftest import widget_object, write_widget


@pytest.fixture
def released(dev, alb, waits, tmp_path, monkeypatch):
    """dev after v1 (widget 1.0.0), then v2 (widget 2.0.0) and v3 (widget 3.0.0) deployed."""
    from ops import deploy as deploy_module

    dev.revisions["v1"] = dev.running()
    for version, widget_version in (("v2", "2.0.0"), ("v3", "3.0.0")):
        root = write_widget(tmp_path / f"widget-{version}", widget_version)
        monkeypatch.setattr(deploy_module, "WIDGET_DIR", root)
        dev.push_image(version)
        deploy(Context(), env="dev", version=version, yes=True, smoke_url=alb.url)
        dev.revisions[version] = dev.running()
    waits.stable_calls.clear()
    return dev


@pytest.mark.aws
def test_rollback_puts_the_previous_release_back_and_records_it(released, alb, waits, capsys):
    rollback(Context(), env="dev", yes=True, smoke_url=alb.url)

    assert released.running() == released.revisions["v2"]
    assert waits.stable_calls == [released.revisions["v2"]]
    assert widget_object(released, "manifest.json") == widget_object(
        released, "aliases/2.0.0/manifest.json"
    )
    assert released.invalidated_paths()[-1] == ["/manifest.json", "/loader.js"]
    entry = released.ledger()[-1]
    assert (entry["version"], entry["kind"], entry["replaced"]) == ("v2", "rollback", "v3")
    assert entry["task_definition_arn"] == released.revisions["v2"]["api"]
    assert entry["actor"] == "tester@ci"
    assert "v2 is live again in dev" in capsys.readouterr().out


@pytest.mark.aws
def test_rollback_to_a_named_version(released, alb):
    rollback(Context(), env="dev", to="v1", yes=True, smoke_url=alb.url)

    assert released.running() == released.revisions["v1"]
    assert widget_object(released, "loader.js") == b"1.0.0 loader.js"
    assert released.ledger()[-1]["version"] == "v1"
    assert released.ledger()[-1]["replaced"] == "v3"


@pytest.mark.aws
def test_a_second_rollback_walks_further_back(released, alb):
    rollback(Context(), env="dev", yes=True, smoke_url=alb.url)
    rollback(Context(), env="dev", yes=True, smoke_url=alb.url)

    assert released.running() == released.revisions["v1"]
    assert [(e["version"], e["kind"]) for e in released.ledger()[-2:]] == [
        ("v2", "rollback"),
        ("v1", "rollback"),
    ]


@pytest.mark.aws
def test_rolling_back_to_what_runs_is_refused(released, alb):
    with pytest.raises(Exit, match="v3 is already live in dev"):
        rollback(Context(), env="dev", to="v3", yes=True, smoke_url=alb.url)


@pytest.mark.aws
def test_an_unknown_version_lists_the_known_ones(released, alb):
    with pytest.raises(Exit, match="'v9' is not in the ledger; known: v3, v2, v1"):
        rollback(Context(), env="dev", to="v9", yes=True, smoke_url=alb.url)


@pytest.mark.aws
def test_prod_rollback_needs_yes_without_a_terminal(stack, waits, alb, monkeypatch):
    prod = stack("prod")
    for version in ("v1", "v2"):
        prod.push_image(version)
        deploy(Context(), env="prod", version=version, yes=True, smoke_url=alb.url)
    before = prod.snapshot()
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(isatty=lambda: False))

    with pytest.raises(Exit, match="pass --yes"):
        rollback(Context(), env="prod", smoke_url=alb.url)

    assert prod.snapshot() == before


@pytest.mark.aws
def test_a_rollback_whose_smoke_checks_fail_is_still_recorded(released, alb):
    alb.ready = False

    with pytest.raises(Exit, match=r"v2 is back in dev \(recorded\), but the smoke checks fail"):
        rollback(Context(), env="dev", yes=True, smoke_url=alb.url)

    assert released.running() == released.revisions["v2"]
    assert released.ledger()[-1]["kind"] == "rollback"
