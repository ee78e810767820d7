"""Where the local stack keeps its state, caches and the repository's deploy files."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEPLOY_LOCAL = REPO_ROOT / "deploy" / "local"


def default_state_dir() -> Path:
    """The stack's state folder: data, logs, pid files and `stack.json` (ports, endpoints)."""
    return Path(os.environ.get("STEAM_STACK_DIR", REPO_ROOT / ".stack")).resolve()


def cache_dir() -> Path:
    """Artifacts shared by every stack (resolved jars, built servers); survives `stack down`."""
    path = Path(os.environ.get("STEAM_PLATFORM_CACHE", REPO_ROOT / ".cache")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
