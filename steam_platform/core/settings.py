"""Which environment the platform runs in, and where the local stack's endpoints come from.

`STEAM_PLATFORM_ENV=local` (default) points every resource at the local stack: its endpoints are
read from the process environment, falling back to the `env` file `stack up` writes into the
stack folder (`STEAM_STACK_DIR`, default `.stack/` in the working directory). `production` takes
every endpoint and secret from environment variables (Dagster `EnvVar`), with no fallback.

The platform never imports the local-stack tooling: this module only reads the file it leaves.
"""

from __future__ import annotations

import os
import shlex
from enum import StrEnum
from pathlib import Path


class Environment(StrEnum):
    """Deployment targets with their own resource wiring."""

    LOCAL = "local"
    PRODUCTION = "production"


def current_environment() -> Environment:
    """The environment selected by `STEAM_PLATFORM_ENV` (default `local`)."""
    value = os.environ.get("STEAM_PLATFORM_ENV", Environment.LOCAL.value).strip().lower()
    try:
        return Environment(value)
    except ValueError as exc:
        allowed = ", ".join(e.value for e in Environment)
        raise ValueError(f"STEAM_PLATFORM_ENV={value!r} is not one of: {allowed}") from exc


def stack_dir() -> Path:
    """The local stack's folder (`STEAM_STACK_DIR`, else `.stack` in the working directory)."""
    return Path(os.environ.get("STEAM_STACK_DIR") or Path.cwd() / ".stack").resolve()


def read_env_file(path: Path) -> dict[str, str]:
    """Parse the `export KEY=value` lines of a stack env file (missing file: empty)."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ")
        key, _, raw = line.partition("=")
        parts = shlex.split(raw) if raw else [""]
        values[key] = parts[0] if parts else ""
    return values


def local_setting(key: str, default: str | None = None) -> str | None:
    """A local-stack endpoint: the process environment first, then `.stack/env`, then `default`."""
    if key in os.environ:
        return os.environ[key]
    return read_env_file(stack_dir() / "env").get(key, default)
