"""`invoke image.build`, and the image half of a deploy: build, push to ECR, pin by digest.

ECR tags are immutable (stacks/api_service.py), so a version is pushed once; a deploy that finds
its version already in ECR (a retry after a later step failed) reuses that image as it is.
Images are built for linux/amd64, the task definitions' platform, whatever the laptop runs.
"""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import UTC, datetime
from typing import Any

from invoke import Collection, Context, Exit, task

from ops.infra import ROOT

LOCAL_REPOSITORY = "ragassist"
PLATFORM = "linux/amd64"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
NO_DOCKER = (
    "the Docker engine is not reachable (`docker info` failed), so no image can be built here.\n"
    "Start Docker (Docker Desktop, `sudo systemctl start docker`, or Colima/OrbStack on a Mac)"
    " and run this again; CI runners with Docker can build and deploy too."
)


def check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise Exit(f"{tag!r} is not a valid image tag: letters, digits, _ . - (at most 128)")
    return tag


def default_version(c: Context) -> str:
    """`git describe` of the checkout; a dirty tree gets a timestamp, since tags are immutable."""
    result = c.run(
        f"git -C {ROOT} describe --tags --always --dirty", hide=True, warn=True, in_stream=False
    )
    if result is None or not result.ok or not result.stdout.strip():
        raise Exit("cannot name this version from git (not a checkout?): pass --version")
    version = result.stdout.strip()
    if version.endswith("-dirty"):
        version += datetime.now(UTC).strftime("-%Y%m%dT%H%M%SZ")
    return check_tag(version)


def require_docker(c: Context) -> None:
    result = c.run("docker info", hide=True, warn=True, in_stream=False)
    if result is None or not result.ok:
        detail = (result.stderr.strip().splitlines() or [""])[-1] if result is not None else ""
        raise Exit(f"{NO_DOCKER}\n({detail})" if detail else NO_DOCKER)


def build(c: Context, image: str) -> None:
    require_docker(c)
    _docker_build(c, image)


def _docker_build(c: Context, image: str) -> None:
    c.run(f"docker build --platform {PLATFORM} --pull -t {image} {ROOT}", in_stream=False)


def digest(ecr: Any, repository: str, tag: str) -> str | None:
    """The digest of `repository:tag` in ECR, or None when that tag was never pushed."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    return str(found["imageDetails"][0]["imageDigest"])


def push(c: Context, ecr: Any, repository_url: str, tag: str) -> str:
    """Log docker in to ECR, push `repository_url:tag`, and return its digest."""
    auth = ecr.get_authorization_token()["authorizationData"][0]
    password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)[1]
    # The password goes through stdin, never argv (which `ps` shows to everyone).
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["docker", "login", "--username", "AWS", "--password-stdin", auth["proxyEndpoint"]],  # noqa: S607
        input=password.encode(),
        check=True,
        capture_output=True,
    )
    c.run(f"docker push {repository_url}:{tag}", in_stream=False)
    found = digest(ecr, repository_url.split("/", 1)[1], tag)
    if found is None:
        raise Exit(f"pushed {repository_url}:{tag} but ECR does not list it")
    return found


@task(
    name="build",
    help={"tag": f"tag for the local image {LOCAL_REPOSITORY}:<tag> (default: git describe)"},
)
def build_(c: Context, tag: str = "") -> None:
    """Build the API/worker Docker image from the Dockerfile (needs a running Docker engine)."""
    require_docker(c)  # before anything else: without an engine nothing here can work
    image = f"{LOCAL_REPOSITORY}:{check_tag(tag) if tag else default_version(c)}"
    _docker_build(c, image)
    print(f"built {image} ({PLATFORM})")


ns = Collection("image", build_)
