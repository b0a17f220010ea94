"""Imports flow one way (DESIGN §2): every import in the tree, read with `ast`, against the rules.

Imports inside functions count too: a local import is still a dependency, only a hidden one.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = ["app", "contracts", "alerts", "stacks", "ops", "loadtests", "tasks.py"]
PROJECT = ("app", "contracts", "alerts", "stacks", "ops", "loadtests", "tasks", "tests")

# (importing room, rooms it must not import, why)
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("app", ("ops", "stacks", "tasks", "alerts", "loadtests", "tests"), "the app knows no ops"),
    ("alerts", ("app", "ops", "stacks", "tasks", "loadtests"), "alerts read contracts, not app"),
    ("stacks", ("app", "ops", "tasks", "loadtests"), "stacks read alerts and contracts only"),
    ("contracts", PROJECT, "contracts is a leaf"),
    ("app.services", ("app.http", "app.routes", "app.portal", "app.main"), "services have no HTTP"),
    ("app.db", ("app.http", "app.routes", "app.services", "app.platform"), "db is the lowest"),
    ("ops", ("tasks",), "tasks.py is the entry point"),
    ("loadtests", ("app", "ops", "stacks", "tasks"), "load tests reach the app over HTTP"),
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import in a file, relative ones made absolute; `from a
    import b` yields `a.b`, which may be a submodule or just a name in `a`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def _files() -> list[Path]:
    files: list[Path] = []
    for room in ROOMS:
        path = ROOT / room
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return files


def violations() -> list[str]:
    found = []
    for path in _files():
        source = _module_name(path)
        for line, module in _imports(path):
            for room, forbidden, why in RULES:
                if not _within(source, room):
                    continue
                for target in forbidden:
                    if _within(module, target) and not _within(module, room):
                        where = path.relative_to(ROOT)
                        found.append(f"{where}:{line}: imports {module} ({why})")
    return found


def test_imports_follow_the_rooms():
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "text", "message"),
    [
        ("app/services/x.py", "from app.http.errors import ApiError\n", "services have no HTTP"),
        ("app/services/x.py", "def f():\n    import app.routes.sync\n", "services have no HTTP"),
        ("alerts/x.py", "from app import cloudwatch\n", "alerts read contracts, not app"),
        ("app/db/x.py", "from ..services import keys\n", "db is the lowest"),
        ("contracts/x.py", "import app\n", "contracts is a leaf"),
    ],
)
def test_a_forbidden_import_is_named_with_its_file_and_line(
    tmp_path, monkeypatch, source, text, message
):
    # The checker itself, on a throwaway tree: it must catch top-level, local and relative imports.
    fake = tmp_path / source
    fake.parent.mkdir(parents=True)
    fake.write_text(text)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    found = violations()
    assert len(found) == 1
    assert found[0].startswith(f"{source}:{text.count(chr(10))}: imports ")
    assert message in found[0]


def test_routes_leave_commits_to_services():
    # docs/architecture.md: a service operation is one transaction and commits it, so the API,
    # the portal, the CLI and the worker all get the same unit of work.
    commits = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "app" / "routes").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"commit", "rollback"}
    ]

    assert commits == []
