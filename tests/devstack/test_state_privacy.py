"""The local stack's state is private: its folders 0700, its files 0600, whoever wrote them.

The state folder holds the stack's env file and credentials, server logs (endpoints, payloads,
stack traces) and every server's data. After the session's stack is up (Kafka, S3, Elasticsearch,
PostgreSQL, the simulator, as `STEAM_TEST_SERVICES` allows), nothing under it may be readable or
writable by group or others. The one exception is the search (x) bit for others on a folder the
unprivileged service user (tests run as root) has to pass through to reach what it owns: the
state folder, `data/`, `logs/` (PostgreSQL appends to its own log there) and the like. A folder
keeps that bit only when something below it belongs to the service user.
"""

import os
import pwd
import stat
from pathlib import Path

from steam_devstack.health import poll
from steam_devstack.paths import make_private, private_dir
from steam_devstack.process import SERVER_UMASK, ManagedProcess
from steam_devstack.services.base import RUN_USER
from steam_devstack.stack import LocalStack


def _service_uid() -> int | None:
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(RUN_USER).pw_uid


def _exposed(state_dir: Path) -> tuple[list[str], dict[Path, int]]:
    """Entries with group/other access beyond a folder's search bit; and each folder's g/o bits."""
    problems: list[str] = []
    folders: dict[Path, int] = {}
    for root, dirs, files in os.walk(state_dir):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            try:
                info = os.lstat(name)
            except FileNotFoundError:  # a server renamed it meanwhile
                continue
            open_bits = stat.S_IMODE(info.st_mode) & 0o077
            if stat.S_ISDIR(info.st_mode):
                folders[Path(name)] = open_bits
                if open_bits & ~stat.S_IXOTH:
                    problems.append(f"folder {oct(stat.S_IMODE(info.st_mode))} {name}")
            elif stat.S_ISREG(info.st_mode) and open_bits:
                problems.append(f"file {oct(stat.S_IMODE(info.st_mode))} {name}")
    return problems, folders


def test_stack_state_folders_and_files_are_private(local_stack: LocalStack) -> None:
    state = local_stack.state_dir
    problems, folders = _exposed(state)
    assert problems == [], "\n".join(problems)
    # Sockets (PostgreSQL's) are reached through their folder: it must be private.
    for sock in (p for p in state.rglob("*") if p.is_socket()):
        assert stat.S_IMODE(sock.parent.stat().st_mode) & 0o077 == 0, sock
    uid = _service_uid()
    searchable = {folder for folder, bits in folders.items() if bits}
    if uid is None:
        # No service user: nothing needs passing through.
        assert searchable <= {state}, sorted(map(str, searchable))
        return
    # The search bit only on the way to what the service user owns.
    owned = [p for p in state.rglob("*") if _owner(p) == uid]
    assert owned, "the servers run as the service user"
    on_the_way = {parent for p in owned for parent in p.parents if parent == state or state in parent.parents}
    assert searchable <= on_the_way, sorted(str(p) for p in searchable - on_the_way)


def _owner(path: Path) -> int | None:
    try:
        return path.lstat().st_uid
    except FileNotFoundError:
        return None


def test_servers_create_private_files_and_logs_are_private(tmp_path: Path) -> None:
    """A launched server's umask is 077 and its log and pid files are 0600 in 0700 folders, also
    when an older stack left them readable."""
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o775)  # an older stack's: keeps only the search bit
    old_log = logs / "probe.log"
    old_log.write_text("from an older stack\n")
    old_log.chmod(0o644)
    proc = ManagedProcess("probe", tmp_path / "pids" / "probe.pid", old_log)
    made = tmp_path / "made"
    proc.start(["sh", "-c", f"umask; mkdir {made}; touch {made}/file"], cwd=tmp_path)
    assert poll(lambda: (made / "file").exists() and not proc.is_running(), timeout=10, interval=0.05)
    assert f"{SERVER_UMASK:04o}" in old_log.read_text()
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode) for p in (logs, old_log, proc.pid_file, made, made / "file")
    }
    assert modes == {"logs": 0o701, "probe.log": 0o600, "probe.pid": 0o600, "made": 0o700, "file": 0o600}
    assert stat.S_IMODE(proc.pid_file.parent.stat().st_mode) == 0o700


def test_private_dir_keeps_only_a_search_bit(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    assert stat.S_IMODE(private_dir(shared).stat().st_mode) == 0o701
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0o664)
    make_private(secret)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    fresh = private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_dagster_home_in_the_state_folder_is_private(tmp_path: Path) -> None:
    from types import SimpleNamespace
    from typing import cast

    from steam_devstack.main_run import prepare_dagster_home

    home = prepare_dagster_home(cast("LocalStack", SimpleNamespace(state_dir=tmp_path)))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "dagster.yaml").stat().st_mode) == 0o600


def test_a_shared_sticky_folder_is_never_made_private(tmp_path: Path) -> None:
    """/tmp is 1777: were it closed, a server running as the service user could not unpack its
    native libraries there (Kafka's zstd answered every produce with "Unknown broker error")."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    make_private(shared)
    private_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
