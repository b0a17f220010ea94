"""Helpers for tests that inspect invoke tasks."""

import copy

from invoke import Task
from invoke.parser import Argument


def arguments_of(task: Task) -> list[Argument]:
    """A task's arguments with their help. invoke's `get_arguments` pops each help text off
    the task as it builds them, so a second call (another test) would find none: use a copy."""
    return copy.deepcopy(task).get_arguments()
