"""`invoke alerts.*`: render the Prometheus rules and check them with promtool."""

from __future__ import annotations

import shutil
from pathlib import Path

from invoke import Collection, Context, Exit, task

from alerts.prometheus import render_rules_file
from alerts.rules import load_rules

DEFAULT_OUTPUT = Path("build/alerts/prometheus-rules.yml")


@task(help={"output": f"where to write the rules file (default {DEFAULT_OUTPUT})"})
def render(c: Context, output: str = str(DEFAULT_OUTPUT)) -> None:
    """Write the Prometheus rules file rendered from alerts/rules.yaml."""
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_rules_file(load_rules()), encoding="utf-8")
    print(f"wrote {path}")


@task(help={"output": f"where to write the rules file (default {DEFAULT_OUTPUT})"})
def check(c: Context, output: str = str(DEFAULT_OUTPUT)) -> None:
    """Render the Prometheus rules and validate them with `promtool check rules`."""
    if shutil.which("promtool") is None:
        raise Exit("promtool is missing: apt-get install -y prometheus (Debian's package)")
    render(c, output)
    c.run(f"promtool check rules {output}")


ns = Collection("alerts", render, check)
