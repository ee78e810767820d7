"""PostgreSQL: Dagster's instance storage (runs, event log, schedules) in the local stack.

Dagster keeps every run, materialisation and sensor tick in its instance storage; the platform uses
PostgreSQL for it, as production does, so the local stack exercises the same storage. The server is
the distribution's PostgreSQL (Debian's `postgresql` package, installed by `make install`), started
directly as `postgres -D ...` in its own process group:

- `initdb` once, as the unprivileged service user when the stack runs as root (PostgreSQL refuses
  root), with SCRAM-SHA-256 authentication for every connection and generated passwords kept in
  `credentials.json` (mode 0600) next to the data, so `stack down --purge` resets both together;
- TCP on 127.0.0.1 only, its Unix socket in the state folder (never `/var/run/postgresql`), small
  memory settings;
- a `dagster` role owning a `dagster` database, created idempotently; the role's password is sent
  to the server only as a SCRAM verifier, never in clear text (so it cannot leak into server logs);
- `stop` asks the postmaster for a fast shutdown (SIGINT: clean checkpoint, no crash recovery on the
  next start), waits for it and every process it forked, and SIGKILLs whatever is left.

Every PostgreSQL child process calls `setsid()` (so the postmaster can signal a child's own
subprocesses), so the server's processes are *not* one process group: `stop` tracks the
postmaster's descendants by parent pid and start time instead of by group.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from steam_devstack.health import StackError, port_open, wait_until
from steam_devstack.process import descendants, process_table
from steam_devstack.services.base import Service

SUPERUSER = "postgres"
DAGSTER_ROLE = "dagster"
DAGSTER_DB = "dagster"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
#: Debian/Ubuntu install each major version side by side here.
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: `sun_path` holds 108 bytes; PostgreSQL appends `/.s.PGSQL.<port>` (at most 16 more).
MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")
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


def _major_of(bindir: Path) -> int | None:
    """The major version of the server in `bindir` (from `postgres --version`), None if unusable."""
    postgres = bindir / "postgres"
    if not (os.access(postgres, os.X_OK) and os.access(bindir / "initdb", os.X_OK)):
        return None
    try:
        out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def _candidate_bindirs() -> list[Path]:
    """Where PostgreSQL server binaries may live: `$STEAM_PG_BINDIR`, Debian's layout, `pg_config`."""
    found: list[Path] = []
    override = os.environ.get("STEAM_PG_BINDIR")
    if override:
        return [Path(override)]
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
    if not versions:
        hint = " ($STEAM_PG_BINDIR has no `postgres`/`initdb`)" if os.environ.get("STEAM_PG_BINDIR") else ""
        raise StackError(
            f"postgres: no PostgreSQL server binaries found{hint}; run `make install` "
            "(installs Debian's `postgresql` package) or set STEAM_PG_BINDIR to the folder holding "
            "`postgres` and `initdb`"
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


def process_tree(root: int) -> dict[int, int]:
    """`root` and all its descendants that are not zombies: pid -> start ticks (to spot pid reuse)."""
    table = process_table()
    return {pid: table[pid].start_ticks for pid in descendants([root], table) if table[pid].alive}


def _still_alive(procs: dict[int, int]) -> dict[int, int]:
    """The processes of `procs` that still run (same pid *and* start time, not a zombie)."""
    table = process_table()
    return {
        pid: ticks
        for pid, ticks in procs.items()
        if pid in table and table[pid].start_ticks == ticks and table[pid].alive
    }


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


class PostgresService(Service):
    """One PostgreSQL server on 127.0.0.1 holding the `dagster` database for Dagster's instance."""

    name = "postgres"
    default_ports: ClassVar[dict[str, int]] = {"postgres": 15432}

    # -- layout ------------------------------------------------------------------------------
    @property
    def base(self) -> Path:
        """The service's folder: `pgdata/` (the cluster), `socket/`, `credentials.json`."""
        return self.ctx.state_dir / "data" / self.name

    @property
    def pgdata(self) -> Path:
        return self.base / "pgdata"

    @property
    def credentials_file(self) -> Path:
        return self.base / "credentials.json"

    def socket_dir(self) -> str:
        """The Unix-socket folder in the state dir, or "" (TCP only) when its path is too long."""
        path = str(self.base / "socket")
        return path if len(path.encode()) <= MAX_SOCKET_DIR_LEN else ""

    def _data_major(self) -> int | None:
        try:
            return int((self.pgdata / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def binaries(self) -> PgBinaries:
        """The server that matches existing data, else the newest installed one."""
        return find_binaries(prefer_major=self._data_major())

    # -- credentials -------------------------------------------------------------------------
    def _credentials(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.credentials_file.read_text())
        except (OSError, ValueError):
            return None
        return {str(k): str(v) for k, v in data.items()}

    def _ensure_credentials(self) -> dict[str, str]:
        """Generated once per cluster; a file only the owner can read (0600)."""
        creds = self._credentials()
        if creds and {"superuser_password", "dagster_password"} <= creds.keys():
            return creds
        if self._initdb_marker.exists():
            raise StackError(
                f"postgres: {self.credentials_file} is missing or damaged but the cluster exists, so its "
                "passwords are unknown; run `stack down --purge` to start from an empty cluster"
            )
        creds = {
            "superuser_password": secrets.token_urlsafe(24),
            "dagster_password": secrets.token_urlsafe(24),
        }
        tmp = self.credentials_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(creds, handle)
        os.replace(tmp, self.credentials_file)
        return creds

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        """Nothing to download: only check that the distribution's server is installed."""
        self.binaries()

    @property
    def _initdb_marker(self) -> Path:
        """Written after `initdb` succeeded: a cluster without it is half-created and is redone."""
        return self.base / "initdb.done"

    def _initdb(self, pg: PgBinaries, superuser_password: str) -> None:
        """Create the cluster once (a half-created one from an interrupted run is replaced)."""
        if self._initdb_marker.exists() and self._data_major() is not None:
            return
        shutil.rmtree(self.pgdata, ignore_errors=True)
        pwfile = self.base / ".initdb-pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(superuser_password + "\n")
        self.ctx.give_to_run_user(self.base)  # initdb runs as the service user and reads the file
        cmd = [
            pg.tool("initdb"), "-D", str(self.pgdata), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        try:
            result = subprocess.run(
                cmd, cwd=self.base, capture_output=True, text=True, timeout=300, **self.ctx.run_as()
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise StackError(f"postgres: initdb failed:\n{result.stdout}{result.stderr}")
        self._initdb_marker.write_text(f"{pg.major}\n")

    def _server_argv(self, pg: PgBinaries) -> list[str]:
        argv = [
            pg.tool("postgres"), "-D", str(self.pgdata),
            "-h", HOST, "-p", str(self.port("postgres")), "-k", self.socket_dir(),
        ]  # fmt: skip
        for key, value in SERVER_SETTINGS.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def start(self) -> None:
        """initdb (once), start the server, wait until it answers, then create role and database."""
        pg = self.binaries()
        self.ctx.data_dir(self.name)  # created and owned by the service user
        creds = self._ensure_credentials()
        self._initdb(pg, creds["superuser_password"])
        if self.socket_dir():
            Path(self.socket_dir()).mkdir(mode=0o700, exist_ok=True)
        # initdb ran as the service user; a folder from a run without root is handed over too.
        self.ctx.give_to_run_user(self.pgdata)
        if self.socket_dir():
            self.ctx.give_to_run_user(Path(self.socket_dir()))
        proc = self.process()
        if not proc.is_running():
            proc.start(
                self._server_argv(pg),
                cwd=self.base,
                env={"LC_ALL": "C", "PGTZ": "UTC"},
                user=self.ctx.run_user,
            )
        wait_until(
            lambda: self._select_one(SUPERUSER, creds["superuser_password"], "postgres"),
            what=f"postgres {pg.major}",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )
        self._bootstrap(creds)
        if not self.healthy():
            raise StackError(f"postgres: the {DAGSTER_ROLE} role cannot connect. {self.log_hint()}")

    def _connect(self, user: str, password: str, dbname: str) -> Any:
        import psycopg2

        return psycopg2.connect(
            host=HOST,
            port=self.port("postgres"),
            user=user,
            password=password,
            dbname=dbname,
            connect_timeout=3,
            application_name="steam-localstack",
        )

    def _select_one(self, user: str, password: str, dbname: str) -> bool:
        """True when `user` can log in to `dbname` and run a query."""
        if not port_open(HOST, self.port("postgres")):
            return False
        import psycopg2

        try:
            conn = self._connect(user, password, dbname)
        except psycopg2.Error:
            return False
        try:
            with conn.cursor() as cur:
                cur.execute("select 1")
                return bool(cur.fetchone() == (1,))
        except psycopg2.Error:
            return False
        finally:
            conn.close()

    def _bootstrap(self, creds: dict[str, str]) -> None:
        """Create (or re-key) the `dagster` role and its database; safe to run on every start."""
        from psycopg2 import errors, sql

        verifier = scram_verifier(creds["dagster_password"])
        conn = self._connect(SUPERUSER, creds["superuser_password"], "postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        role, db = sql.Identifier(DAGSTER_ROLE), sql.Identifier(DAGSTER_DB)
        try:
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_roles where rolname = %s", (DAGSTER_ROLE,))
                if cur.fetchone() is None:
                    with contextlib.suppress(errors.DuplicateObject):
                        cur.execute(sql.SQL("create role {} login").format(role))
                cur.execute(sql.SQL("alter role {} with login password %s").format(role), (verifier,))
                cur.execute("select 1 from pg_database where datname = %s", (DAGSTER_DB,))
                if cur.fetchone() is None:
                    with contextlib.suppress(errors.DuplicateDatabase):
                        cur.execute(
                            sql.SQL("create database {} owner {} encoding 'UTF8' template template0").format(
                                db, role
                            )
                        )
                cur.execute(sql.SQL("revoke all on database {} from public").format(db))
                cur.execute(sql.SQL("grant all on database {} to {}").format(db, role))
        finally:
            conn.close()

    def healthy(self) -> bool:
        """The `dagster` role logs in to its database over TCP and runs `select 1`."""
        creds = self._credentials()
        if not creds or "dagster_password" not in creds:
            return False
        return self._select_one(DAGSTER_ROLE, creds["dagster_password"], DAGSTER_DB)

    def endpoints(self) -> dict[str, str]:
        """What `deploy/dagster.yaml` reads (`DAGSTER_PG_*`); the password only once generated."""
        env = {
            "DAGSTER_PG_HOST": HOST,
            "DAGSTER_PG_PORT": str(self.port("postgres")),
            "DAGSTER_PG_USER": DAGSTER_ROLE,
            "DAGSTER_PG_DB": DAGSTER_DB,
        }
        creds = self._credentials()
        if creds and "dagster_password" in creds:
            env["DAGSTER_PG_PASSWORD"] = creds["dagster_password"]
        return env

    def stop(self) -> list[str]:
        """Fast shutdown (SIGINT to the postmaster); SIGKILL every server process still there after it."""
        proc = self.process()
        pid = proc.pid()
        if pid is None:
            proc.stop()  # removes a stale pid file
            return []
        procs = process_tree(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            procs.update(process_tree(pid) if pid in _still_alive(procs) else {})
            if not _still_alive(procs):
                break
            time.sleep(0.1)
        for _ in range(2):  # the postmaster first, so it cannot fork again, then its children
            for victim in sorted(_still_alive(procs), key=lambda p: p != pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(victim, signal.SIGKILL)
            time.sleep(0.2)
        proc.stop(timeout=5)  # drops the pid file (and sweeps the postmaster's own group)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap when this process started the server (tests)
        return [proc.name]
