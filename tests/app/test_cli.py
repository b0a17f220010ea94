"""The `ragassist` console script and `invoke --list`, run for real in subprocesses, as an
operator would on a fresh machine (SQLite file, no Redis)."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.settings import Settings
from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent
RAGASSIST = str(BIN / "ragassist")
INVOKE = str(BIN / "invoke")
# Every variable the settings read, so the developer's or CI's environment cannot leak in.
SETTINGS_VARIABLES = {
    str(info.validation_alias) if isinstance(info.validation_alias, str) else name.upper()
    for name, info in Settings.model_fields.items()
} | {"DATABASE_URL", "REDIS_URL", "LOG_LEVEL"}


def _env(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_VARIABLES}
    env.update(DATABASE_URL=f"sqlite:///{database}", REDIS_URL="", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RAGASSIST, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _merchant_count(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM merchants").fetchone()[0]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "x.db"


@pytest.fixture
def migrated(tmp_path: Path, database: Path) -> dict[str, str]:
    env = _env(database)
    result = _run("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path, database: Path) -> None:
    env = _env(database)
    first = _run("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert database.exists()
    assert _merchant_count(database) == 0
    again = _run("migrate", env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_merchants_create_prints_the_id_and_both_keys_as_json(
    tmp_path: Path, database: Path, migrated: dict[str, str]
) -> None:
    result = _run(
        "merchants", "create", "--name", "X", "--domain", "shop.example.com", "--json",
        env=migrated, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["merchantId"].startswith("mer_")
    assert re.fullmatch(r"sk_live_[A-Za-z0-9]{43}", created["secretKey"])
    assert re.fullmatch(r"pk_live_[A-Za-z0-9]{43}", created["publishableKey"])
    assert created["allowedDomains"] == ["shop.example.com"]
    assert _merchant_count(database) == 1
    # Shown once: the database keeps only hashes.
    with sqlite3.connect(database) as connection:
        dump = "\n".join(connection.iterdump())
    assert created["secretKey"] not in dump
    assert created["publishableKey"] not in dump


@pytest.fixture
def served(tmp_path: Path, migrated: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """`ragassist serve` on a free port, with a merchant created by the CLI beforehand."""
    created = _run(
        "merchants", "create", "--name", "Served", "--domain", "shop.example.com", "--json",
        env=migrated, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    keys = json.loads(created.stdout)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [RAGASSIST, "serve", "--port", str(port)],
        env=migrated, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up in 30 s"
            time.sleep(0.1)
        yield base, keys
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("`ragassist serve` ignored SIGTERM for 15 s")
        finally:
            log.close()
    # Stopped like ECS stops a task (SIGTERM): uvicorn shuts down gracefully, then re-raises
    # the signal, so the exit status is 0 or "terminated by SIGTERM" — never a crash.
    assert process.returncode in (0, -signal.SIGTERM), (tmp_path / "serve.log").read_text()


def test_served_app_accepts_the_printed_secret_key(served: tuple[str, dict[str, str]]) -> None:
    base, keys = served
    response = httpx.get(
        f"{base}/api/keys", headers={"Authorization": f"Bearer {keys['secretKey']}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert {key["kind"] for key in body["data"]["items"]} == {"secret", "publishable"}
    assert response.headers["x-request-id"] == body["requestId"]
    # No Redis: the in-process limiter still answers with rate-limit headers.
    assert response.headers["ratelimit-policy"].startswith('"default";q=')
    assert httpx.get(f"{base}/api/keys", timeout=10).status_code == 401
    publishable = {"Authorization": f"Bearer {keys['publishableKey']}"}
    assert httpx.get(f"{base}/api/keys", headers=publishable, timeout=10).status_code == 403
    ready = httpx.get(f"{base}/readyz", timeout=10).json()["data"]["checks"]
    assert ready == {"database": "ok", "redis": "not configured"}


def test_merchants_create_before_migrate_exits_2_and_says_to_migrate(
    tmp_path: Path, database: Path
) -> None:
    result = _run("merchants", "create", "--name", "X", env=_env(database), cwd=tmp_path)
    assert result.returncode == 2
    assert "ragassist migrate" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://cache:6379"),
        ("RATE_LIMIT_SECRET", "abc"),
        ("RATE_LIMIT_PUBLISHABLE", "0/60"),
        ("ADMIN_ORIGINS", "foo"),
        ("PUBLIC_BASE_URL", "api.example.com"),
        ("MAX_JSON_BODY_BYTES", "lots"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
@pytest.mark.parametrize("command", [["migrate"], ["merchants", "create", "--name", "X"]])
def test_bad_environment_variable_exits_2_naming_it(
    tmp_path: Path, database: Path, variable: str, value: str, command: list[str]
) -> None:
    result = _run(*command, env=_env(database, **{variable: value}), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert re.search(rf"\b{variable}\b", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not database.exists()


def test_bad_environment_variable_stops_serve_before_listening(
    tmp_path: Path, database: Path
) -> None:
    result = _run(
        "serve", "--port", str(_free_port()), env=_env(database, ADMIN_ORIGINS="foo"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "ADMIN_ORIGINS" in result.stderr


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("http://x.com", "scheme"),
        ("shop.example.com/path", "path"),
        ("shop.example.com:8080", "port"),
        ("10.0.0.1", "IP"),
    ],
)
def test_bad_domain_exits_2_with_the_reason_and_creates_nothing(
    tmp_path: Path, database: Path, migrated: dict[str, str], domain: str, reason: str
) -> None:
    result = _run(
        "merchants", "create", "--name", "X", "--domain", domain, env=migrated, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "--domain" in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _merchant_count(database) == 0


def test_invoke_list_documents_up_test_and_bench() -> None:
    result = subprocess.run(
        [INVOKE, "--list"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for task in ("up", "test", "bench"):
        line = re.search(rf"^\s+{task}\s+(\S.*)$", result.stdout, re.MULTILINE)
        assert line, f"`{task}` is missing or has no description:\n{result.stdout}"
        assert len(line.group(1).split()) >= 3, line.group(0)
