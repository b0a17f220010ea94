"""`invoke image.build` and the Dockerfile, with a stand-in `docker` on PATH (no engine here)."""

from pathlib import Path

import pytest
from invoke import Context, Exit

from ops import images

ROOT = Path(__file__).resolve().parents[2]


def fake_docker(tmp_path, monkeypatch, *, engine: bool) -> Path:
    log = tmp_path / "docker.log"
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    info = "exit 0" if engine else "echo 'Cannot connect to the Docker daemon' >&2; exit 1"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\nif [ "$1" = info ]; then {info}; fi\nexit 0\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")
    return log


def test_without_a_docker_engine_build_stops_with_a_clear_message(tmp_path, monkeypatch):
    log = fake_docker(tmp_path, monkeypatch, engine=False)

    with pytest.raises(Exit) as stopped:
        images.build_(Context(), tag="t1")

    assert "Docker engine is not reachable (`docker info` failed)" in stopped.value.message
    assert "Cannot connect to the Docker daemon" in stopped.value.message
    assert log.read_text().split("\n")[:-1] == ["info"]


def test_build_targets_the_task_platform_with_the_given_tag(tmp_path, monkeypatch, capsys):
    log = fake_docker(tmp_path, monkeypatch, engine=True)

    images.build_(Context(), tag="t1")

    assert log.read_text().splitlines() == [
        "info",
        f"build --platform linux/amd64 --pull -t ragassist:t1 {ROOT}",
    ]
    assert "built ragassist:t1 (linux/amd64)" in capsys.readouterr().out


def test_real_docker_info_failing_here_is_reported_not_crashed():
    # No engine on this machine (only the client): the real `docker info` fails cleanly.
    result = Context().run("docker info", hide=True, warn=True, in_stream=False)
    if result is not None and result.ok:
        pytest.skip("a Docker engine is running here")
    with pytest.raises(Exit, match="Docker engine is not reachable"):
        images.require_docker(Context())


@pytest.mark.parametrize("tag", ["", "has space", "-leading", "a" * 129, "semi;colon"])
def test_bad_tags_are_refused(tag):
    with pytest.raises(Exit, match="not a valid image tag"):
        images.check_tag(tag)


def test_the_dockerfile_runs_the_api_as_a_non_root_user():
    text = (ROOT / "Dockerfile").read_text()

    assert "FROM python:3.11-slim" in text
    assert "pip install ." in text
    user = [line for line in text.splitlines() if line.startswith("USER ")]
    assert user and "root" not in user[-1] and user[-1] != "USER 0"
    assert text.rstrip().endswith(
        'CMD ["ragassist", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    )
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*")] == "*" and "!app/" in ignored
