"""The database password, read from Secrets Manager when a connection is opened.

RDS rotates the master password it manages; a password handed to the task at start (PGPASSWORD)
stops working at the next rotation and every new connection then fails until a redeploy. With
`DATABASE_SECRET_ARN` set, asyncpg asks `SecretPassword` for the password on each new connection.
A short cache keeps that to one GetSecretValue call per `ttl` per process; after a rotation,
new connections may fail for at most `ttl` seconds (open ones are not affected).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["SecretPassword"]

DEFAULT_TTL_SECONDS = 60.0


class SecretPassword:
    """An async callable for asyncpg's `password`: the secret's `password` field (RDS stores
    `{"username": ..., "password": ...}`), or the whole string for a plain secret."""

    def __init__(
        self,
        secret_arn: str,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not secret_arn:
            raise ValueError("secret_arn is required")
        self.secret_arn = secret_arn
        self.ttl = ttl
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._password: str | None = None
        self._fetched_at = 0.0

    def __repr__(self) -> str:
        return f"SecretPassword({self.secret_arn!r})"  # never the password

    async def __call__(self) -> str:
        # boto3 blocks; a thread keeps the event loop serving while Secrets Manager answers.
        return await asyncio.to_thread(self.current)

    def current(self) -> str:
        with self._lock:
            if self._password is None or self._clock() - self._fetched_at >= self.ttl:
                self._password = self._fetch()
                self._fetched_at = self._clock()
            return self._password

    def _fetch(self) -> str:
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Connection attempts wait on this call: fail fast rather than hang the pool.
            self._client = boto3.client(
                "secretsmanager",
                config=Config(connect_timeout=3, read_timeout=5, retries={"mode": "standard"}),
            )
        value = self._client.get_secret_value(SecretId=self.secret_arn)["SecretString"]
        try:
            document = json.loads(value)
        except ValueError:
            return str(value)
        password = document.get("password") if isinstance(document, dict) else None
        if isinstance(password, str):
            return password
        raise ValueError(f"secret {self.secret_arn} has no string `password` field")
