"""Runs whose worker died are failed within minutes, so nothing waits on a run that cannot finish.

Dagster's default run launcher (what `make dev` and compose use) cannot check a run worker's
health: run monitoring times out only STARTING and CANCELING runs, so a worker killed with its code
server (a container or host restart, the OOM killer) leaves its run STARTED forever, and
`lake_refresh_sensor`, which waits for the lake run in flight, never asks again. The launchers that
can check health (Kubernetes, ECS, Docker) need a container platform; the local stack has none.

So this sensor checks what the launcher cannot. Every run worker records its process id when it
starts (the engine event "Started process for run (pid: N)"). Under the default launcher the
worker runs on the code server's host, where this sensor runs too: a worker whose process is gone,
is a zombie, or whose pid now belongs to a younger process is dead. Its run is reported failed (not
a step failure, so the instance's `run_retries` re-executes it, and the queue frees its pool slot);
the Spark driver of an in-process session exits with its worker (the JVM gateway ends when its
parent's pipe closes). With any other launcher the sensor does nothing: run monitoring's
`check_run_worker_health` covers it. Checked every `STEAM_RUN_REAPER_INTERVAL_S` (default 60 s):
a dead worker is failed within about a minute, well inside Airflow's 5-minute zombie detection.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil

#: How a run worker announces itself (dagster `_cli/api.py` and `_grpc/impl.py`).
STARTED_PROCESS_PREFIX = "Started process for run (pid: "
#: A process this much younger than the worker's announcement cannot be that worker. Generous: the
#: announcement is wall-clock time and a stepped system clock (NTP) shifts it by seconds.
PID_REUSE_TOLERANCE_S = 60.0


@dataclass(frozen=True)
class RunWorker:
    """The process a run worker announced: its pid and when it said so (epoch seconds)."""

    pid: int
    announced_at: float


def run_worker(instance: dg.DagsterInstance, run_id: str) -> RunWorker | None:
    """The latest worker process the run announced, or None before any worker started."""
    latest: RunWorker | None = None
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(STARTED_PROCESS_PREFIX):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            latest = RunWorker(pid=int(str(pid.value)), announced_at=entry.timestamp)
    return latest


def process_age_s(process: psutil.Process) -> float:
    """Seconds since `process` started, from the kernel's monotonic clock where there is one.

    psutil's `create_time()` is boot time plus the start ticks, with the boot time read once: after
    the system clock is stepped it no longer compares with wall-clock timestamps (a live worker
    once looked 8 s younger than its own announcement and was failed). `/proc` ticks and uptime
    share the monotonic clock; elsewhere the wall clock is the best there is.
    """
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        uptime_s = float(Path("/proc/uptime").read_text().split()[0])
        return uptime_s - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time() - process.create_time()


def worker_alive(worker: RunWorker) -> bool:
    """Whether the announced process still runs: exists, is no zombie, and is not a younger process
    that was given the same pid after the worker died."""
    try:
        process = psutil.Process(worker.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        announced_age_s = time.time() - worker.announced_at
        return process_age_s(process) >= announced_age_s - PID_REUSE_TOLERANCE_S
    except psutil.NoSuchProcess:
        return False


def reap_dead_runs(instance: dg.DagsterInstance, location_name: str | None) -> list[str]:
    """Report every STARTED run of `location_name` (all when None) whose worker died as failed;
    returns their run ids."""
    reaped = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        run = record.dagster_run
        origin = run.remote_job_origin
        if location_name is not None and (origin is None or origin.location_name != location_name):
            continue  # another code location's worker runs on its own host
        worker = run_worker(instance, run.run_id)
        if worker is None or worker_alive(worker):
            continue
        instance.report_run_failed(
            run,
            message=f"Run worker (pid {worker.pid}) is gone: the process died without ending the run "
            "(killed, OOM, code server or host restart). Failed by dead_run_reaper so it can be retried.",
        )
        reaped.append(run.run_id)
    return reaped


def build_dead_run_reaper(interval_s: int) -> dg.SensorDefinition:
    """The sensor that fails runs whose worker died (default launcher only), every `interval_s`."""

    @dg.sensor(
        name="dead_run_reaper",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Fails runs whose worker process died (the default run launcher cannot check "
        "worker health), so run retries re-execute them and no sensor waits on them.",
    )
    def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        launcher = context.instance.run_launcher
        if not isinstance(launcher, dg.DefaultRunLauncher):
            return dg.SkipReason(f"{type(launcher).__name__} checks its run workers' health itself")
        origin = context.code_location_origin
        reaped = reap_dead_runs(context.instance, origin.location_name if origin else None)
        for run_id in reaped:
            context.log.warning(f"run {run_id}: worker died; reported failed")
        return dg.SkipReason(
            f"{len(reaped)} run(s) with a dead worker failed" if reaped else "every worker alive"
        )

    return dead_run_reaper
