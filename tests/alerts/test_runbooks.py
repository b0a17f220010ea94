"""Every alert has its runbook, and the runbooks say what operators can actually run."""

import re
from pathlib import Path

import pytest

from alerts.rules import Ratio, load_rules
from contracts.metrics import published_metric
from tests.invoke_tasks import arguments_of

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "runbooks"
SECTIONS = ["Meaning", "Impact", "Diagnosis", "Mitigation", "Escalation"]
RULES = load_rules()
PAGES = [ROOT / rule.runbook for rule in RULES] + [RUNBOOKS / "deploy.md", RUNBOOKS / "rollback.md"]
INVOKE = re.compile(r"invoke ([a-z][a-z0-9_.-]*)((?: --[a-z-]+(?: (?!--)[^\s`]+)?)*)")


def _headings(page: Path) -> list[str]:
    return re.findall(r"^## (.+)$", page.read_text(), flags=re.MULTILINE)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_page_has_the_five_sections_in_order(page):
    assert page.exists(), f"missing {page.relative_to(ROOT)}"
    assert _headings(page) == SECTIONS


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_each_rule_links_to_its_page(rule):
    url = RULES.runbook_url(rule)

    assert url.startswith("https://")
    assert url.endswith(f"/runbooks/{rule.name}.md")
    assert (ROOT / rule.runbook).read_text().startswith(f"# {rule.name}\n")


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_each_page_names_the_metrics_its_alarm_reads(rule):
    text = (ROOT / rule.runbook).read_text()
    expression = rule.expression

    assert expression.metric.removesuffix("_total").removesuffix("_seconds") in text
    if rule.cloudwatch:
        assert rule.cloudwatch.numerator in text and rule.cloudwatch.denominator in text
    else:
        assert published_metric(expression.metric).name in text
    if isinstance(expression, Ratio):
        for value in expression.match.values():
            assert value in text


def test_the_index_lists_every_alert():
    index = (RUNBOOKS / "README.md").read_text()

    assert all(f"[{rule.name}.md]({rule.name}.md)" in index for rule in RULES)


def test_rollback_turns_each_step_of_the_seed_plan_into_commands():
    text = (RUNBOOKS / "rollback.md").read_text()

    for step in (
        "Revert CORS changes",
        "Disable product sync routes",
        "old documentation",
        "Notify affected merchants",
        "Check error logs",
        "Review metrics",
        "Fix in staging",
        "Test thoroughly",
        "Deploy to production",
        "Monitor closely",
    ):
        assert step in text, step
    assert "invoke flags.set --env prod --name cors_mode --value report-only" in text
    assert "invoke flags.set --env prod --name product_sync_enabled --value false" in text
    assert "invoke rollback --env prod --to <version>" in text


def test_flag_commands_use_real_flags_and_values():
    from app.flags import Flags

    for page in RUNBOOKS.glob("*.md"):
        for name, value in re.findall(
            r"flags\.set --env \w+ --name (\w+) --value ([\w-]+)", page.read_text()
        ):
            assert name in Flags.__dataclass_fields__, (page.name, name)
            Flags.from_mapping({name: value})  # raises on a value the app would refuse


def _commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for page in sorted(RUNBOOKS.glob("*.md")):
        for task, options in INVOKE.findall(page.read_text()):
            found.append((page.name, task, re.findall(r"--([a-z-]+)", options)))
    return found


def _invoke_problems(page: str, name: str, options: list[str]) -> list[str]:
    import tasks

    try:
        task = tasks.ns[name]
    except (KeyError, ValueError):
        return [f"{page}: `invoke {name}` is not a task of tasks.py"]
    accepted = {alias for argument in arguments_of(task) for alias in argument.names}
    return [
        f"{page}: `invoke {name}` has no --{option}"
        for option in options
        # Invoke names options as they are typed (`--dry-run`, never `--dry_run`).
        if option not in accepted
    ]


def test_runbook_commands_are_tasks_of_tasks_py_with_those_options():
    # The drift guard between the runbooks and tasks.py: a renamed task or flag fails here.
    problems = []
    for page, name, options in _commands():
        problems += _invoke_problems(page, name, options)

    assert _commands()
    assert problems == []


# The seed plan's rollback levers (its "Immediate Actions", plus the rate-limit headers lever).
SEED_LEVERS = (
    "Revert CORS changes",
    "Disable product sync routes",
    "Remove rate limit headers (non-breaking)",
    "Restore old documentation",
    "Notify affected merchants",
)


def test_rollback_maps_each_seed_lever_to_a_command_that_exists():
    from app.flags import parse_flag

    text = (RUNBOOKS / "rollback.md").read_text()
    rows = {
        step: (command, undo)
        for step, command, undo in re.findall(r"^\| ([^|]+?) \| (.+?) \| (.+?) \|$", text, re.M)
    }

    for step in SEED_LEVERS:
        command, undo = rows[step]
        if step == "Notify affected merchants":
            # A Logs Insights query, run by tests/alerts/test_runbook_contract.py.
            query = text[text.index("5. **Notify affected merchants**") :]
            assert "stats count() by merchantId" in query
            continue
        (invocation,) = INVOKE.findall(command)
        name, options = invocation
        assert _invoke_problems("rollback.md", name, re.findall(r"--([a-z-]+)", options)) == []
        flag = re.search(r"--name (\w+) --value ([\w-]+)", command)
        if flag:
            # The lever and its undo are values the app accepts for that flag.
            parse_flag(flag[1], flag[2])
            parse_flag(flag[1], re.fullmatch(r"`--value ([\w-]+)`", undo)[1])
        else:
            (undo_invocation,) = INVOKE.findall(undo)
            assert _invoke_problems("rollback.md", undo_invocation[0], ["env"]) == []
