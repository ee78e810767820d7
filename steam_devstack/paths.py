"""Where the local stack keeps its state, caches and the repository's deploy files."""

from __future__ import annotations

import os
import stat
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


#: Group/other bits a private folder may keep: the search bit the service user needs to pass
#: through it (`services.base._make_traversable`), never read or write.
SEARCH_ONLY = stat.S_IXOTH


def private_dir(path: Path) -> Path:
    """`path` as a private folder: created 0700 (parents too), and an existing one stripped of
    group/other bits but the search bit the service user may need (the stack's state, data and
    log folders: they hold logs with endpoints, data and credentials)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(path)
    return path


def make_private(path: Path, *, keep_search: bool = True) -> None:
    """Strip group/other access from `path` (a file: 0600-like; a folder: 0700, plus the search bit
    it already had when `keep_search`). Does not follow symlinks; sockets and pipes are left to
    their folder; a sticky folder (/tmp) is shared by everyone and left alone: closing it once broke
    every server that unpacks native libraries into it (Kafka's zstd)."""
    mode = path.lstat().st_mode
    if stat.S_ISDIR(mode) and mode & stat.S_ISVTX:
        return  # a shared, sticky folder (/tmp, /var/tmp): never the stack's to close
    if stat.S_ISDIR(mode):
        wanted = stat.S_IMODE(mode) & (0o700 | (SEARCH_ONLY if keep_search else 0))
    elif stat.S_ISREG(mode):
        wanted = stat.S_IMODE(mode) & 0o700
    else:
        return
    if wanted != stat.S_IMODE(mode):
        path.chmod(wanted)


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (0600 from the first byte): the
    stack's env file, credentials, broker configs and key-store passwords."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
