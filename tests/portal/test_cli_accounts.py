"""Portal accounts from the `ragassist` console script, run for real in subprocesses: the
owner's one-time link from `merchants create --owner-email`, and `ragassist users ...`."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from tests.app.test_cli import RAGASSIST, _env
from tests.conftest import REPO_ROOT


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAGASSIST, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def migrated(tmp_path: Path) -> tuple[dict[str, str], Path]:
    database = tmp_path / "portal.db"
    # This checkout's code, whichever one the console script was installed from.
    env = _env(database, PUBLIC_BASE_URL="https://api.example.com", PYTHONPATH=str(REPO_ROOT))
    assert _run("migrate", env=env, cwd=tmp_path).returncode == 0
    return env, database


def _use_link(client: TestClient, url: str, password: str = "a long owner password") -> Any:
    assert url.startswith("https://api.example.com/portal/link/")
    path = url.removeprefix("https://api.example.com")
    client.cookies.clear()
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)[1]
    return client.post(path, data={"csrf": token, "password": password, "confirm": password})


def test_merchants_create_prints_a_one_time_link_that_signs_the_owner_in(
    migrated: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, database = migrated
    made = _run(
        "merchants",
        "create",
        "--name",
        "Boots",
        "--owner-email",
        "Owner@Boots.example",
        "--json",
        env=env,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    result = json.loads(made.stdout)
    settings = load_settings(DATABASE_URL=f"sqlite:///{database}", LOG_LEVEL="WARNING")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        signed_in = _use_link(client, result["portalSignInLink"])
        assert signed_in.status_code == 303
        overview = client.get("/portal/")
        assert "owner@boots.example" in overview.text and result["merchantId"] in overview.text
        # Once only.
        again = client.get(result["portalSignInLink"].removeprefix("https://api.example.com"))
        assert again.status_code == 410


def test_a_taken_owner_email_creates_nothing(
    migrated: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, _ = migrated
    args = ("merchants", "create", "--name", "A", "--owner-email", "same@example.com")
    assert _run(*args, env=env, cwd=tmp_path).returncode == 0
    second = _run(*args, env=env, cwd=tmp_path)
    assert second.returncode == 2
    assert "already has a portal account" in second.stderr
    listed = _run("users", "list", env=env, cwd=tmp_path).stdout
    assert listed.count("same@example.com") == 1
    bad = _run("merchants", "create", "--name", "B", "--owner-email", "nope", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "--owner-email" in bad.stderr


def test_users_add_list_set_role_reset_password_and_remove(
    migrated: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    env, database = migrated
    merchant = json.loads(
        _run("merchants", "create", "--name", "Shop", "--json", env=env, cwd=tmp_path).stdout
    )["merchantId"]
    added = _run(
        "users",
        "add",
        "--merchant",
        merchant,
        "--email",
        "dev@shop.example",
        "--role",
        "developer",
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    link = added.stdout.strip()
    listed = _run("users", "list", "--merchant", merchant, env=env, cwd=tmp_path).stdout
    assert re.search(r"dev@shop\.example\s+developer\s+never\s+\(no password yet\)", listed)

    settings = load_settings(DATABASE_URL=f"sqlite:///{database}", LOG_LEVEL="WARNING")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert _use_link(client, link).status_code == 303
        assert "Create a key" in client.get("/portal/keys").text

        role = _run(
            "users",
            "set-role",
            "--email",
            "dev@shop.example",
            "--role",
            "viewer",
            env=env,
            cwd=tmp_path,
        )
        assert role.returncode == 0
        assert "Create a key" not in client.get("/portal/keys").text

        reset = _run(
            "users", "reset-password", "--email", "dev@shop.example", env=env, cwd=tmp_path
        )
        assert reset.returncode == 0
        assert client.get("/portal/").status_code == 303  # the old session ended
        assert _use_link(client, reset.stdout.strip(), "the new password!").status_code == 303

        removed = _run("users", "remove", "--email", "dev@shop.example", env=env, cwd=tmp_path)
        assert removed.returncode == 0
        assert client.get("/portal/").status_code == 303
    assert "dev@shop.example" not in _run("users", "list", env=env, cwd=tmp_path).stdout
    unknown = _run("users", "remove", "--email", "ghost@shop.example", env=env, cwd=tmp_path)
    assert unknown.returncode == 2 and "no portal user" in unknown.stderr
