"""PostgreSQL's own programs and formats, for the `postgres` service of the local stack.

- which installed server to use (`find_binaries`): `$STEAM_PG_BINDIR`, Debian's side-by-side
  `/usr/lib/postgresql/<major>/bin`, `pg_config --bindir`, or `postgres` on the PATH;
- whether a server accepts connections (`PgBinaries.is_ready`, `pg_isready`) and which process
  `pg_ctl` started (`postmaster_pid`, from the server's lock file);
- the server's settings and command-line options, quoted for `pg_ctl -o` (`server_options`);
- the `dagster` role and database, created idempotently with the role's password sent only as a
  SCRAM-SHA-256 verifier (`ensure_role_and_database`, `scram_verifier`);

Starting, stopping and readiness are left to PostgreSQL's own tools, `pg_ctl` and `pg_isready`: they
know the postmaster's lock file and its shutdown modes better than any hand-written signal handling.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from steam_devstack.health import StackError
from steam_platform.core.settings import StackToolSettings

#: Debian/Ubuntu install each major version side by side here.
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: The programs the service runs; a folder without all of them is not used.
TOOLS = ("postgres", "initdb", "pg_ctl", "pg_isready")
#: Small-machine settings: a few Dagster processes, each with a handful of connections.
SERVER_SETTINGS: dict[str, str] = {
    "shared_buffers": "64MB",
    "max_connections": "100",
    "work_mem": "4MB",
    "maintenance_work_mem": "32MB",
    "max_wal_size": "256MB",
    "min_wal_size": "64MB",
    "huge_pages": "off",
    "jit": "off",
    "max_parallel_workers_per_gather": "0",
    "password_encryption": "scram-sha-256",
    "timezone": "UTC",
    "log_timezone": "UTC",
    "log_min_messages": "warning",
    "log_line_prefix": "%m [%p] %q%u@%d ",
}


@dataclass(frozen=True)
class PgBinaries:
    """The PostgreSQL server programs of one installed major version."""

    bindir: Path
    major: int

    def tool(self, name: str) -> str:
        return str(self.bindir / name)

    def is_ready(self, host: str, port: int) -> bool:
        """`pg_isready`: the server on host:port accepts connections (no login needed)."""
        argv = [self.tool("pg_isready"), "-q", "-h", host, "-p", str(port), "-t", "3"]
        try:
            return subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


def _major_of(bindir: Path) -> int | None:
    """The major version of the server in `bindir` (from `postgres --version`), None if unusable."""
    if not all(os.access(bindir / tool, os.X_OK) for tool in TOOLS):
        return None
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def _candidate_bindirs() -> list[Path]:
    """Where PostgreSQL server binaries may live: `$STEAM_PG_BINDIR`, Debian's layout, `pg_config`."""
    found: list[Path] = []
    override = StackToolSettings.load().pg_bindir
    if override:
        return [override]
    found += sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")))
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and out.stdout.strip():
                found.append(Path(out.stdout.strip()))
    postgres = shutil.which("postgres")
    if postgres:
        found.append(Path(postgres).resolve().parent)
    return found


def find_binaries(prefer_major: int | None = None) -> PgBinaries:
    """The newest installed PostgreSQL server (or exactly `prefer_major`, the version of existing data)."""
    versions: dict[int, Path] = {}
    for bindir in _candidate_bindirs():
        major = _major_of(bindir)
        if major is not None and major not in versions:
            versions[major] = bindir
    tools = ", ".join(f"`{tool}`" for tool in TOOLS)
    if not versions:
        hint = f" ($STEAM_PG_BINDIR lacks one of {tools})" if StackToolSettings.load().pg_bindir else ""
        raise StackError(
            f"postgres: no PostgreSQL server binaries found{hint}; run `make install` "
            f"(installs Debian's `postgresql` package) or set STEAM_PG_BINDIR to the folder holding {tools}"
        )
    if prefer_major is not None:
        if prefer_major not in versions:
            raise StackError(
                f"postgres: the stack's data was created by PostgreSQL {prefer_major}, which is not "
                f"installed (found {sorted(versions)}); install it or run `stack down --purge`"
            )
        return PgBinaries(versions[prefer_major], prefer_major)
    newest = max(versions)
    return PgBinaries(versions[newest], newest)


def server_options(host: str, port: int, socket_dir: str, settings: dict[str, str] = SERVER_SETTINGS) -> str:
    """The `postgres` options as one shell-quoted string, which is how `pg_ctl -o` passes them on.

    `pg_ctl` runs the server through `/bin/sh -c "exec postgres -D ... <options>"`, so values with
    spaces (`log_line_prefix`) or an empty socket folder (`-k ''`: TCP only) must be quoted.
    """
    argv = ["-h", host, "-p", str(port), "-k", socket_dir]
    for key, value in settings.items():
        argv += ["-c", f"{key}={value}"]
    return shlex.join(argv)


def postmaster_pid(pgdata: Path, started_after: float) -> int | None:
    """The pid in `pgdata/postmaster.pid` if that process lives and started after `started_after`.

    The start time check keeps a stale lock file (a crashed server, its pid since reused) from naming
    somebody else's process. 2 s slack: psutil's start times build on a whole-second boot time.
    """
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        return pid if psutil.Process(pid).create_time() >= started_after - 2 else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677 format).

    Sending the verifier instead of the password keeps the clear text out of the server's logs
    and statement statistics, even if a `CREATE ROLE` statement fails and gets logged.
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def ensure_role_and_database(conn: Any, role_name: str, db_name: str, password: str) -> None:
    """Create (or re-key) login role `role_name` owning database `db_name`; safe to run every start.

    `conn` is a superuser's psycopg2 connection in autocommit mode (CREATE DATABASE cannot run in a
    transaction). Only the SCRAM verifier of `password` reaches the server.
    """
    from psycopg2 import errors, sql

    role, db = sql.Identifier(role_name), sql.Identifier(db_name)
    with conn.cursor() as cur:
        cur.execute("select 1 from pg_roles where rolname = %s", (role_name,))
        if cur.fetchone() is None:
            with contextlib.suppress(errors.DuplicateObject):
                cur.execute(sql.SQL("create role {} login").format(role))
        cur.execute(sql.SQL("alter role {} with login password %s").format(role), (scram_verifier(password),))
        cur.execute("select 1 from pg_database where datname = %s", (db_name,))
        if cur.fetchone() is None:
            with contextlib.suppress(errors.DuplicateDatabase):
                create = "create database {} owner {} encoding 'UTF8' template template0"
                cur.execute(sql.SQL(create).format(db, role))
        cur.execute(sql.SQL("revoke all on database {} from public").format(db))
        cur.execute(sql.SQL("grant all on database {} to {}").format(db, role))
