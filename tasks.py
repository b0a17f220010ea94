"""Invoke entry point: `invoke --list`. Thin on purpose; the tasks live in their rooms."""

from invoke import Collection

from ops import bench, local

ns = Collection()
ns.add_task(local.up)
ns.add_task(local.test)
ns.add_task(bench.bench)
