"""Feature flags, read from a pluggable source with a short cache (DESIGN §14).

Sources: `env` (FLAG_PRODUCT_SYNC_ENABLED=false, FLAG_CORS_MODE=report-only, ...) or
`file:/path/flags.json` ({"product_sync_enabled": false}). The ops issue adds an SSM source.
A source that cannot be read keeps the last good values (or the defaults) and logs why: a flag
store outage must not take the API down.
"""

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, Protocol

log = logging.getLogger(__name__)

CorsMode = Literal["enforce", "report-only"]


@dataclass(frozen=True, slots=True)
class Flags:
    product_sync_enabled: bool = True
    # `report-only` lets refused origins through while still counting and logging them: the
    # seed's "revert CORS" lever, pulled without a deploy.
    cors_mode: CorsMode = "enforce"
    legacy_sessions_endpoint: bool = True

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> "Flags":
        flags = cls()
        for field in fields(cls):
            if field.name in values:
                flags = replace(flags, **{field.name: _coerce(field.name, values[field.name])})
        return flags


def _coerce(name: str, value: Any) -> Any:
    if name == "cors_mode":
        if value not in ("enforce", "report-only"):
            raise ValueError(f"flag cors_mode must be 'enforce' or 'report-only', got {value!r}")
        return value
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"flag {name} must be true or false, got {value!r}")


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


def source_from_setting(setting: str) -> FlagSource:
    if setting.startswith("file:"):
        return JsonFileFlagSource(Path(setting.removeprefix("file:")))
    return EnvFlagSource()


class FlagStore:
    def __init__(self, source: FlagSource, *, ttl: float) -> None:
        self.source = source
        self.ttl = ttl
        self._flags = Flags()
        self._read_at: float | None = None

    async def current(self) -> Flags:
        now = time.monotonic()
        if self._read_at is None or now - self._read_at >= self.ttl:
            self._read_at = now
            try:
                # Sources may block (a file, an SSM call); keep them off the event loop.
                values = await asyncio.to_thread(self.source.read)
                self._flags = Flags.from_mapping(values)
            except (OSError, ValueError) as exc:
                log.error(
                    "feature flags unreadable; keeping previous values",
                    extra={"error": str(exc)},
                )
        return self._flags
