"""Runs whose worker died are failed (and so retried), runs whose worker lives are left alone, and
every job carries the maximum runtime its settings give.

The worker is real: `dagster api execute_run`, the command the default run launcher's code server
runs, executing a run of a job that waits, against a real (SQLite) instance; the test SIGKILLs it
as a container restart or the OOM killer would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psutil
from dagster._core.definitions.reconstruct import ReconstructableJob
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import serialize_value

from steam_devstack.health import wait_until
from steam_platform.assets.operations.run_reaper import (
    RunWorker,
    build_dead_run_reaper,
    process_age_s,
    reap_dead_runs,
    run_worker,
    worker_alive,
)
from steam_platform.core.run_limits import MAX_RUNTIME_TAG
from steam_platform.core.settings import RunSupervisionSettings

WAITING_JOB = """
import time

import dagster as dg


@dg.op
def wait_until_killed() -> None:
    time.sleep(600)


@dg.job
def waiting() -> None:
    wait_until_killed()
"""


def _start_worker(
    instance: dg.DagsterInstance, tmp_path: Path
) -> tuple[dg.DagsterRun, subprocess.Popen[bytes]]:
    """A run of `waiting`, executed by a real run worker process, once its step has started."""
    jobs = tmp_path / "jobs.py"
    jobs.write_text(WAITING_JOB)
    recon = ReconstructableJob.for_file(str(jobs), "waiting")
    run = instance.create_run_for_job(
        job_def=recon.get_definition(), job_code_origin=recon.get_python_origin()
    )
    args = ExecuteRunArgs(
        job_origin=recon.get_python_origin(), run_id=run.run_id, instance_ref=instance.get_ref()
    )
    dagster = Path(sys.executable).with_name("dagster")
    worker = subprocess.Popen(
        [str(dagster), "api", "execute_run", serialize_value(args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip

    def step_running() -> bool:
        logs = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        return bool(logs)

    wait_until(step_running, what="the run's step to start", timeout=90, alive=lambda: worker.poll() is None)
    return run, worker


def _kill(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def test_a_killed_worker_fails_its_run_and_a_live_one_is_left_alone(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    run, worker = _start_worker(instance, tmp_path)
    try:
        announced = run_worker(instance, run.run_id)
        assert announced is not None and announced.pid == worker.pid
        assert worker_alive(announced)
        assert reap_dead_runs(instance, None) == []  # alive: nothing to do
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    finally:
        _kill(worker)

    assert not worker_alive(announced)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # type: ignore[union-attr]
    assert reap_dead_runs(instance, "another_code_location") == []  # not this location's worker
    assert reap_dead_runs(instance, None) == [run.run_id]
    failed = instance.get_run_by_id(run.run_id)
    assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert len(failure) == 1 and failure[0].dagster_event is not None
    assert f"pid {worker.pid}" in (failure[0].dagster_event.message or "")
    assert reap_dead_runs(instance, None) == []  # reported once


def test_the_sensor_fails_dead_workers_under_the_default_launcher(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    assert isinstance(instance.run_launcher, dg.DefaultRunLauncher)
    run, worker = _start_worker(instance, tmp_path)
    reaper = build_dead_run_reaper(interval_s=60)
    try:
        result = reaper(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and result.skip_message == "every worker alive"
    finally:
        _kill(worker)
    result = reaper(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SkipReason) and result.skip_message == "1 run(s) with a dead worker failed"
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]


def test_a_pid_given_to_a_younger_process_is_not_the_worker() -> None:
    """After a host restart the worker's pid may belong to another process, started later."""
    me = psutil.Process()
    started = time.time() - process_age_s(me)
    assert worker_alive(RunWorker(pid=me.pid, announced_at=started))
    # A clock stepped by seconds between the worker's start and its announcement is tolerated...
    assert worker_alive(RunWorker(pid=me.pid, announced_at=started - 8))
    # ...but a process started an hour after the announcement holds a reused pid.
    assert not worker_alive(RunWorker(pid=me.pid, announced_at=started - 3600))
    zombie = subprocess.Popen(["true"])
    wait_until(lambda: psutil.Process(zombie.pid).status() == psutil.STATUS_ZOMBIE, what="zombie", timeout=10)
    try:
        assert not worker_alive(RunWorker(pid=zombie.pid, announced_at=time.time()))
    finally:
        zombie.wait(timeout=10)


def test_every_job_and_automation_run_has_its_configured_maximum_runtime() -> None:
    from steam_platform.definitions import defs

    limits = RunSupervisionSettings.load()
    expected = {
        "player_counts_job": limits.max_runtime_poll_s,
        "player_activity_job": limits.max_runtime_poll_s,
        "news_job": limits.max_runtime_daily_ingest_s,
        "apps_job": limits.max_runtime_daily_ingest_s,
        "lake_refresh_job": limits.max_runtime_lake_s,
        "search_restore_job": limits.max_runtime_lake_s,
        "bronze_compaction_job": limits.max_runtime_lake_s,
        "bronze_continuous_job": 0,  # runs until stopped; dead_run_reaper covers a dead worker
    }
    repo = defs.get_repository_def()
    jobs = {job.name: job for job in repo.get_all_jobs() if not job.name.startswith("__")}
    assert set(jobs) == set(expected)
    for name, seconds in expected.items():
        assert jobs[name].tags.get(MAX_RUNTIME_TAG) == str(seconds), name
    automation = [s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)]
    assert {s.name for s in automation} == {"marts_automation_sensor", "search_automation_sensor"}
    for sensor in automation:
        assert sensor.run_tags[MAX_RUNTIME_TAG] == str(limits.max_runtime_lake_s)
    assert all(seconds > 0 for name, seconds in expected.items() if name != "bronze_continuous_job")
