"""Invoke entry point: `invoke --list`. Thin on purpose; the tasks live in their rooms."""

from invoke import Collection

from alerts import tasks as alerts_tasks
from ops import (
    bench,
    cdn,
    db,
    deploy,
    flags,
    images,
    infra,
    loadtest,
    local,
    releases,
    rollback,
    status,
    widget,
    widget_release,
)

ns = Collection()
ns.add_task(local.up)
ns.add_task(local.test)
ns.add_task(bench.bench)
ns.add_task(loadtest.loadtest)
ns.add_collection(alerts_tasks.ns, "alerts")
ns.add_collection(infra.ns, "infra")
ns.add_task(deploy.deploy)
ns.add_task(rollback.rollback)
ns.add_task(releases.releases)
ns.add_collection(flags.ns, "flags")
ns.add_collection(cdn.ns, "cdn")
ns.add_collection(db.ns, "db")
ns.add_collection(images.ns, "image")
ns.add_task(status.status)
ns.add_collection(
    Collection("widget", widget.build, widget_release.publish, widget_release.rollback)
)
