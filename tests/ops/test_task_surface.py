"""The ops tasks as operators meet them: names in `invoke --list`, a summary, help per option."""

import pytest

import tasks
from tests.invoke_tasks import arguments_of

OURS = [
    "deploy",
    "rollback",
    "releases",
    "flags.list",
    "flags.set",
    "cdn.invalidate",
    "db.migrate",
    "image.build",
    "status",
    "widget.publish",
    "widget.rollback",
]


@pytest.mark.parametrize("name", OURS)
def test_each_task_has_a_one_line_summary_and_help_for_every_option(name):
    task = tasks.ns[name]

    assert task.__doc__ and task.__doc__.strip().splitlines()[0].endswith(".")
    for argument in arguments_of(task):
        assert argument.help, f"{name} --{argument.name} has no help"


@pytest.mark.parametrize("name", [n for n in OURS if n != "image.build"])
def test_each_environment_task_takes_env_and_an_outputs_file(name):
    accepted = {alias for argument in arguments_of(tasks.ns[name]) for alias in argument.names}

    assert {"env", "outputs-file"} <= accepted
