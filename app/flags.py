"""Feature flags, read from a pluggable source with a short cache (DESIGN §14).

Sources: `env` (FLAG_PRODUCT_SYNC_ENABLED=false, FLAG_CORS_MODE=report-only, ...),
`file:/path/flags.json` ({"product_sync_enabled": false}) or `ssm:/ragassist/prod/flags` (one
SSM String parameter holding that JSON object, written by `invoke flags.set`).
A source that cannot be read keeps the last good values (or the defaults) and logs why: a flag
store outage must not take the API down.
"""

import asyncio
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, Protocol, get_args, get_type_hints

from app.logs import LogFields

log = logging.getLogger(__name__)

CorsMode = Literal["enforce", "report-only"]


@dataclass(frozen=True, slots=True)
class Flags:
    product_sync_enabled: bool = True
    # `report-only` lets refused origins through while still counting and logging them: the
    # seed's "revert CORS" lever, pulled without a deploy.
    cors_mode: CorsMode = "enforce"
    legacy_sessions_endpoint: bool = True
    # Off: no X-RateLimit-*/RateLimit* headers (limits still apply, a 429 keeps Retry-After),
    # the lever should clients choke on the headers.
    rate_limit_headers: bool = True

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "Flags":
        flags = cls()
        for field in fields(cls):
            if field.name in values:
                flags = replace(flags, **{field.name: _coerce(field.name, values[field.name])})
        return flags


def flag_choices() -> dict[str, tuple[str, ...]]:
    """Each flag and the values it accepts, as operators type them (`invoke flags.set`)."""
    return dict(_CHOICES)


def parse_flag(name: str, value: Any) -> Any:
    """One flag's value as the app reads it; the error names the flags or values allowed."""
    if name not in _CHOICES:
        raise ValueError(f"unknown flag {name!r}: expected one of {', '.join(_CHOICES)}")
    return _coerce(name, value)


def _coerce(name: str, value: Any) -> Any:
    choices = _CHOICES[name]
    if _TYPES[name] is not bool:
        if value not in choices:
            allowed = " or ".join(repr(choice) for choice in choices)
            raise ValueError(f"flag {name} must be {allowed}, got {value!r}")
        return value
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"flag {name} must be true or false, got {value!r}")


# Derived from the dataclass so a new flag is validated (app and `invoke flags.set`) for free.
_TYPES: dict[str, Any] = get_type_hints(Flags)
_CHOICES: dict[str, tuple[str, ...]] = {
    field.name: ("true", "false") if _TYPES[field.name] is bool else get_args(_TYPES[field.name])
    for field in fields(Flags)
}


class FlagSource(Protocol):
    def read(self) -> dict[str, Any]: ...


class EnvFlagSource:
    def read(self) -> dict[str, Any]:
        return {
            field.name: os.environ[f"FLAG_{field.name.upper()}"]
            for field in fields(Flags)
            if f"FLAG_{field.name.upper()}" in os.environ
        }


class JsonFileFlagSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any]:
        data = json.loads(self.path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} must hold a JSON object of flag names to values")
        return data


class SsmFlagSource:
    """`ssm:/ragassist/prod/flags`: one SSM String parameter holding the flags as JSON."""

    def __init__(self, name: str, *, client: Any | None = None) -> None:
        self.name = name
        self._client = client
        self._lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._ssm().get_parameter(Name=self.name)
        except (BotoCoreError, ClientError) as exc:
            # FlagStore keeps the last good values on OSError/ValueError; AWS errors are neither.
            raise OSError(f"SSM parameter {self.name} unreadable: {exc}") from exc
        data = json.loads(response["Parameter"]["Value"])
        if not isinstance(data, dict):
            raise ValueError(f"SSM parameter {self.name} must hold a JSON object of flags")
        return data

    def _ssm(self) -> Any:
        # Reads run in worker threads; build the client once, and only when first needed.
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # A refresh is abandoned after READ_TIMEOUT anyway; these bound the thread.
                self._client = boto3.session.Session().client(
                    "ssm",
                    config=Config(
                        connect_timeout=1,
                        read_timeout=2,
                        retries={"max_attempts": 2, "mode": "standard"},
                    ),
                )
            return self._client


def source_from_setting(setting: str) -> FlagSource:
    if setting.startswith("file:"):
        return JsonFileFlagSource(Path(setting.removeprefix("file:")))
    if setting.startswith("ssm:"):
        return SsmFlagSource(setting.removeprefix("ssm:"))
    return EnvFlagSource()


READ_TIMEOUT = 1.0


class FlagStore:
    def __init__(self, source: FlagSource, *, ttl: float) -> None:
        self.source = source
        self.ttl = ttl
        self._flags = Flags()
        self._read_at: float | None = None

    def fresh(self) -> Flags | None:
        """The cached flags while they are within the TTL, else None: the request path reads
        them without a coroutine (`fresh() or await current()`)."""
        if self._read_at is not None and time.monotonic() - self._read_at < self.ttl:
            return self._flags
        return None

    async def current(self) -> Flags:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.ttl:
            # The first read may wait (start-up warms it; an SSM client takes a moment to
            # build); later refreshes are bounded, so the request that found the cache stale
            # waits at most READ_TIMEOUT seconds before the last good flags are used.
            timeout = None if self._read_at is None else READ_TIMEOUT
            self._read_at = now
            try:
                # Sources may block (a file, an SSM call): keep them off the event loop.
                values = await asyncio.wait_for(asyncio.to_thread(self.source.read), timeout)
                self._flags = Flags.from_mapping(values)
            except (OSError, ValueError, TimeoutError) as exc:
                log.error(
                    "feature flags unreadable; keeping previous values",
                    extra=LogFields(error=str(exc)),
                )
        return self._flags
