"""Invoke entry point: `invoke --list`. Thin on purpose; the tasks live in their rooms."""

from invoke import Collection

from alerts import tasks as alerts_tasks
from ops import bench, infra, local

ns = Collection()
ns.add_task(local.up)
ns.add_task(local.test)
ns.add_task(bench.bench)
ns.add_collection(alerts_tasks.ns, "alerts")
ns.add_collection(infra.ns, "infra")
