"""Smoke checks after a switch: `/healthz` and `/readyz` through the load balancer.

They go to the ALB's own DNS name, not the API domain, so they test this environment's load
balancer even before DNS points at it; the API domain is sent as Host and TLS SNI, so the
certificate is still verified against the name it was issued for.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ops.waits import Progress


class SmokeFailed(Exception):
    """The new release does not answer as a healthy one."""


@dataclass
class SmokeCheck:
    base_url: str
    host: str | None = None  # Host header and SNI, when base_url is the ALB's own name
    attempts: int = 5
    interval: float = 3.0
    timeout: float = 10.0
    verify: ssl.SSLContext | bool = True  # system trust; tests pass their own CA

    @classmethod
    def for_alb(cls, alb_dns_name: str, api_base_url: str) -> SmokeCheck:
        return cls(base_url=f"https://{alb_dns_name}", host=urlsplit(api_base_url).hostname)

    def describe(self) -> str:
        via = f" (Host/SNI {self.host})" if self.host else ""
        return f"GET {self.base_url}/healthz and /readyz{via}"

    def run(self, sleep: Callable[[float], None], progress: Progress) -> None:
        """Retry a few times: targets can take a moment to register after the switch."""
        problems: list[str] = []
        for attempt in range(1, self.attempts + 1):
            problems = self._problems()
            if not problems:
                return
            progress(f"attempt {attempt}/{self.attempts}: {'; '.join(problems)}")
            if attempt < self.attempts:
                sleep(self.interval)
        raise SmokeFailed("; ".join(problems))

    def _problems(self) -> list[str]:
        headers = {"Host": self.host} if self.host else {}
        extensions = {"sni_hostname": self.host} if self.host else {}
        problems = []
        client = httpx.Client(timeout=self.timeout, follow_redirects=False, verify=self.verify)
        with client:
            for path in ("/healthz", "/readyz"):
                try:
                    response = client.get(
                        self.base_url + path, headers=headers, extensions=extensions
                    )
                except httpx.HTTPError as exc:
                    problems.append(f"{path}: {type(exc).__name__} {exc}")
                    continue
                if response.status_code != 200:
                    problems.append(f"{path}: HTTP {response.status_code}")
                elif path == "/readyz" and _status(response) != "ready":
                    problems.append(f"{path}: status {_status(response)!r}")
        return problems


def _status(response: httpx.Response) -> object:
    try:
        return response.json()["data"]["status"]
    except (ValueError, KeyError, TypeError):
        return None
