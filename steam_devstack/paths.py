"""Where the local stack keeps its state, caches and the repository's deploy files."""

from __future__ import annotations

import os
from pathlib import Path

from steam_platform.core.settings import PlatformSettings, StackToolSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"


def default_state_dir() -> Path:
    """The stack's state folder: data, logs, pid files and `stack.json` (ports, endpoints)."""
    return (PlatformSettings.load().stack_dir or REPO_ROOT / ".stack").resolve()


def cache_dir() -> Path:
    """Artifacts shared by every stack (resolved jars, built servers); survives `stack down`."""
    path = (StackToolSettings.load().cache_dir or REPO_ROOT / ".cache").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (0600 from the first byte): the
    stack's env file, credentials, broker configs and key-store passwords."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
