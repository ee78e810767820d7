"""PostgreSQL: Dagster's instance storage (runs, event log, schedules) in the local stack.

Dagster keeps every run, materialisation and sensor tick in its instance storage; the platform uses
PostgreSQL for it, as production does, so the local stack exercises the same storage. The server is
the distribution's PostgreSQL (Debian's `postgresql` package, installed by `make install`; found by
`postgres_tools.find_binaries`), run by PostgreSQL's own control programs:

- `initdb` once, as the unprivileged service user when the stack runs as root (PostgreSQL refuses
  root), with SCRAM-SHA-256 authentication for every connection and generated passwords kept in
  `credentials.json` (mode 0600) next to the data, so `stack down --purge` resets both together;
- `pg_ctl start -w -t 60`, as that user too: the postmaster in its own session, its output appended
  to the service's log (`-l`), TCP on 127.0.0.1 only, its Unix socket in the state folder (never
  `/var/run/postgresql`), small memory settings (`-o`); `-w` returns once the server accepts
  connections. The postmaster's pid is then recorded like every other server's;
- a server found already running is waited for (bounded) with `pg_isready`;
- a `dagster` role owning a `dagster` database, created idempotently; the role's password is sent
  to the server only as a SCRAM verifier, never in clear text (so it cannot leak into server logs);
- `stop` is `pg_ctl stop -m fast -w` (clean checkpoint, no crash recovery on the next start); every
  process of the server still there after it (or after a failed `pg_ctl`) is SIGKILLed.

`pg_ctl` and `pg_isready` replace hand-written signal handling and polling: they read the server's
lock file (`postmaster.pid`, whose status line says when it is ready) and know its shutdown modes.
Every PostgreSQL child process calls `setsid()`, so the server is *not* one process group: the
leftovers to kill are the postmaster's descendants (by parent pid), taken before the shutdown.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

from steam_devstack.health import StackError, port_open, wait_until
from steam_devstack.paths import write_private
from steam_devstack.process import kill_all, process_tree, user_env
from steam_devstack.services.base import Service
from steam_devstack.services.postgres_tools import (
    PgBinaries,
    ensure_role_and_database,
    find_binaries,
    postmaster_pid,
    server_options,
)

__all__ = ["PostgresService", "find_binaries"]

SUPERUSER = "postgres"
DAGSTER_ROLE = "dagster"
DAGSTER_DB = "dagster"
HOST = "127.0.0.1"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
#: `sun_path` holds 108 bytes; PostgreSQL appends `/.s.PGSQL.<port>` (at most 16 more).
MAX_SOCKET_DIR_LEN = 107 - len("/.s.PGSQL.65535")
#: The server's environment, on top of the caller's (and the service user's HOME/USER).
SERVER_ENV = {"LC_ALL": "C", "PGTZ": "UTC"}


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

    @property
    def _initdb_marker(self) -> Path:
        """Written after `initdb` succeeded: a cluster without it is half-created and is redone."""
        return self.base / "initdb.done"

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
        write_private(self.credentials_file, json.dumps(creds))
        return creds

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        """Nothing to download: only check that the distribution's server is installed."""
        self.binaries()

    def _initdb(self, pg: PgBinaries, superuser_password: str) -> None:
        """Create the cluster once (a half-created one from an interrupted run is replaced)."""
        if self._initdb_marker.exists() and self._data_major() is not None:
            return
        shutil.rmtree(self.pgdata, ignore_errors=True)
        pwfile = self.base / ".initdb-pw"
        write_private(pwfile, superuser_password + "\n")
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

    def start(self) -> None:
        """initdb (once), start the server and wait until it answers, then create role and database."""
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
        what = f"postgres {pg.major}"
        if not self.is_running():
            self._pg_ctl_start(pg, what)
        else:  # started a moment ago (by another `stack up`), perhaps still recovering
            ready = lambda: pg.is_ready(HOST, self.port("postgres"))  # noqa: E731
            wait_until(
                ready, what=what, timeout=START_TIMEOUT_S, alive=self.is_running, log_hint=self.log_hint()
            )
        conn = self._connect(SUPERUSER, creds["superuser_password"], "postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        try:
            ensure_role_and_database(conn, DAGSTER_ROLE, DAGSTER_DB, creds["dagster_password"])
        finally:
            conn.close()
        if not self.healthy():
            raise StackError(f"postgres: the {DAGSTER_ROLE} role cannot connect. {self.log_hint()}")

    def _pg_ctl(self, pg: PgBinaries, *args: str, timeout: float) -> tuple[bool, str]:
        """`pg_ctl <args> -D <pgdata>` as the service user: (succeeded, what it printed)."""
        try:
            result = subprocess.run(
                [pg.tool("pg_ctl"), *args, "-D", str(self.pgdata)],
                cwd=self.base,
                env=user_env(SERVER_ENV, self.ctx.run_user),
                capture_output=True,
                text=True,
                timeout=timeout + 30,  # pg_ctl's own `-t timeout` ends it first
                **self.ctx.run_as(),
            )
        except subprocess.TimeoutExpired:
            return False, f"pg_ctl {args[0]} did not return within {timeout + 30:.0f}s"
        return result.returncode == 0, (result.stdout + result.stderr).strip()

    def _pg_ctl_start(self, pg: PgBinaries, what: str) -> None:
        """`pg_ctl start -w`: returns once the server accepts connections (at most START_TIMEOUT_S)."""
        log = self.process().log_file
        log.parent.mkdir(parents=True, exist_ok=True)
        log.touch()
        self.ctx.give_to_run_user(log)  # the server, as the service user, appends to it (`-l`)
        options = server_options(HOST, self.port("postgres"), self.socket_dir())
        started, wall_clock = time.monotonic(), time.time()
        args = ["start", "-w", "-t", str(START_TIMEOUT_S), "-l", str(log), "-o", options]
        ok, output = self._pg_ctl(pg, *args, timeout=START_TIMEOUT_S)
        pid = postmaster_pid(self.pgdata, started_after=wall_clock)
        if pid is not None:  # after a timeout too: `stack down` then stops the server still starting
            self.process().adopt(pid)
        if not ok or pid is None:
            raise StackError(
                f"{what}: `pg_ctl start` failed after {time.monotonic() - started:.0f}s (limit "
                f"{START_TIMEOUT_S}s). {self.log_hint()}\n{output}"
            )
        print(f"  {what}: ready after {time.monotonic() - started:.1f}s", file=sys.stderr, flush=True)

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
        """`pg_ctl stop -m fast -w`; then SIGKILL every server process still there."""
        proc = self.process()
        pid = proc.pid()
        if pid is None:
            proc.stop()  # removes a stale pid file
            return []
        tree = process_tree(pid)  # the postmaster first: killed first, it cannot fork again
        try:
            stop_args = ("stop", "-m", "fast", "-w", "-t", str(STOP_TIMEOUT_S))
            ok, _ = self._pg_ctl(self.binaries(), *stop_args, timeout=STOP_TIMEOUT_S)
        except StackError:  # the server's binaries are gone: it cannot be shut down cleanly
            ok = False
        if tree:  # children the postmaster forked since (none once it has exited)
            tree += process_tree(tree[0])
        kill_all(tree, grace=10.0 if ok else 0.0)
        proc.stop(timeout=5)  # drops the pid file (and sweeps the postmaster's own group)
        return [proc.name]
