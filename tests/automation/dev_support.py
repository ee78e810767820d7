"""`steam-platform dev` for the daemon tests: what `make dev` runs (webserver, daemon, supervised
code server) on the test stack, the Postgres instance of `deploy/dagster.yaml`, a fresh lake bucket
and player counts polled every minute; stopped with everything it started, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from unittest import mock

import dagster as dg
import pytest

from steam_devstack.health import free_port
from steam_devstack.paths import REPO_ROOT
from steam_platform.resources.s3 import S3Resource

VENV_BIN = Path(sys.executable).parent
T = TypeVar("T")


@dataclass(frozen=True)
class DevPlatform:
    """A running `steam-platform dev`: its environment, instance folder, lake bucket, log and ports."""

    env: dict[str, str]
    home: Path
    bucket: str
    log: Path
    port: int
    code_server_port: int

    @property
    def graphql(self) -> str:
        """The webserver's GraphQL endpoint."""
        return f"http://127.0.0.1:{self.port}/graphql"


@contextlib.contextmanager
def steam_platform_dev(
    stack_env: Mapping[str, str], s3: S3Resource, prefix: str, extra_env: Mapping[str, str] | None = None
) -> Iterator[DevPlatform]:
    """Start `steam-platform dev` on the stack (polls every minute, dead run workers looked for every
    10 s, `extra_env` on top); yields it, then stops its group and anything else started for its
    DAGSTER_HOME (bounded waits) and removes the folder."""
    home = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    shutil.copyfile(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    bucket = f"lake-{prefix}-{uuid.uuid4().hex[:10]}"
    s3.client().create_bucket(Bucket=bucket)
    env = {
        **os.environ,
        **stack_env,
        "DAGSTER_HOME": str(home),
        "LAKE_BUCKET": bucket,
        "STEAM_PLATFORM_ENV": "local",
        "STEAM_POLL_INTERVAL_MINUTES": "1",
        "PYSPARK_PYTHON": sys.executable,
        "STEAM_RUN_REAPER_INTERVAL_S": "10",
        # Past days and Kibana objects follow within a test's wait, as they did before 300 s.
        "STEAM_AUTOMATION_INTERVAL_S": "30",
        **(extra_env or {}),
    }
    port = free_port()
    code_server_port = next(p for p in iter(free_port, None) if p != port)
    log = home / "daemon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                *(str(VENV_BIN / "steam-platform"), "dev", "--state-dir", str(home / "stack")),
                *("--port", str(port), "--code-server-port", str(code_server_port)),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield DevPlatform(env, home, bucket, log, port, code_server_port)
    finally:
        stop_dev(proc, home)
        shutil.rmtree(home, ignore_errors=True)


def open_instance(dev: DevPlatform) -> dg.DagsterInstance:
    """The platform's instance, as its `dagster.yaml` opens with the stack's Postgres settings.

    The environment is patched only while the instance opens: a server a test restarts afterwards
    must not inherit this DAGSTER_HOME, or `stop_dev`'s sweep would kill it (it once killed the
    session's Postgres, failing every later test of that worker)."""
    with mock.patch.dict(os.environ, dev.env):
        return dg.DagsterInstance.from_config(str(dev.home))


def processes_of(home: Path) -> list[int]:
    """Processes started for this DAGSTER_HOME (code servers, run workers) wherever they are now:
    the daemon starts some in sessions of their own, out of reach of its process group."""
    marker = f"DAGSTER_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def stop_dev(proc: subprocess.Popen[bytes], home: Path) -> None:
    """Stop the daemon's group, then anything else still running for `home`; bounded waits."""
    for sig, grace in ((signal.SIGTERM, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(grace)
            break
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in processes_of(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 20
        while processes_of(home) and time.monotonic() < deadline:
            time.sleep(0.5)
    assert not processes_of(home), f"processes of {home} survived SIGKILL"


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float,
    log: Path,
    instance: dg.DagsterInstance,
    interval_s: float,
    explain: Callable[[], str] | None = None,
) -> T:
    """Call `probe` every `interval_s` until it returns a truthy value; fail with the newest failed
    runs, what `explain` says of the state waited on, and the tail of `steam-platform dev`'s `log`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    tail = log.read_text(errors="replace")[-3000:]
    failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=5)
    why = "\n".join(f"{r.run_id} ({r.job_name}): {_failure_messages(instance, r.run_id)}" for r in failed)
    state = f"state: {explain()}\n" if explain else ""
    pytest.fail(
        f"timed out after {timeout_s:.0f}s waiting for {what}; {state}failed runs:\n{why}\n"
        f"--- daemon log tail ---\n{tail}"
    )


def _failure_messages(instance: dg.DagsterInstance, run_id: str) -> str:
    """What failed a run: its failed steps' errors and the run failure's message (shortened)."""
    kinds = [dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE]
    messages = []
    for kind in kinds:
        for record in instance.all_logs(run_id, of_type=kind):
            event = record.dagster_event
            data = event.step_failure_data if event is not None and event.is_step_failure else None
            text = (data.error.message if data and data.error else None) or (event.message if event else "")
            messages.append(f"{event.step_key or 'run'}: {(text or '').strip()[:400]}" if event else "")
    return " | ".join(m for m in messages if m) or "no failure event"
