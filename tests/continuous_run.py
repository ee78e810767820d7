"""A `bronze_continuous_job` run (Pipes -> `spark-submit streaming/bronze.py --continuous`) that a
test starts in a thread, feeds while it runs, and waits for, every wait bounded.

The local and the cluster Pipes tests drive the job the same way: start it, wait for its first
committed batch, produce the late events, wait for it to stop by itself (it stops once the topic
stayed drained for `stop_when_idle_s`), and kill its processes if it overruns.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import dagster as dg
import psutil
import pytest
from lake_support import committed_batches

from steam_devstack.process import kill_all
from steam_platform.assets.lake.continuous import BRONZE_SCRIPT, bronze_continuous_job
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


def job_processes(topic: str) -> list[psutil.Process]:
    """The spark-submit JVM and Python driver of the job landing `topic` (matched on script + topic)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        args = proc.info["cmdline"] or []
        if str(BRONZE_SCRIPT) in args and topic in args:
            found.append(proc)
    return found


@dataclass
class ContinuousRun:
    """One run of `bronze_continuous_job` in a thread, recorded in its own ephemeral instance."""

    topic: str
    s3: S3Resource
    instance: dg.DagsterInstance = field(default_factory=dg.DagsterInstance.ephemeral)
    outcome: dict[str, object] = field(default_factory=dict)
    thread: threading.Thread | None = None

    def start(self, pipes: dg.PipesSubprocessClient, kafka: KafkaResource, config: dict[str, object]) -> None:
        """Launch the run with the op's `config` (the topic is this run's)."""

        def run() -> None:
            try:
                self.outcome["result"] = bronze_continuous_job.execute_in_process(
                    run_config={"ops": {"bronze_continuous": {"config": {"topic": self.topic, **config}}}},
                    resources={"pipes_subprocess": pipes, "kafka": kafka, "s3": self.s3},
                    instance=self.instance,
                    raise_on_error=False,
                )
            except BaseException as exc:  # surfaced by `finish`
                self.outcome["error"] = exc

        self.thread = threading.Thread(target=run, name=f"continuous-{self.topic}", daemon=True)
        self.thread.start()

    def wait_for_first_batch(self, timeout_s: float) -> None:
        """Block until the job committed its first micro-batch; fail if the run ended or time ran out."""
        assert self.thread is not None, "start the run first"
        deadline = time.monotonic() + timeout_s
        while committed_batches(self.s3, self.topic) == 0:
            assert self.thread.is_alive(), f"the run ended before its first batch: {self.outcome}"
            assert time.monotonic() < deadline, f"no batch committed within {timeout_s}s"
            time.sleep(0.5)

    def finish(self, timeout_s: float) -> dg.ExecuteInProcessResult:
        """Wait for the run to end by itself; kill the job's processes and fail if it overruns."""
        assert self.thread is not None, "start the run first"
        self.thread.join(timeout_s)
        if self.thread.is_alive():
            self.kill()
            pytest.fail(f"the bounded run did not end within {timeout_s}s")
        assert "error" not in self.outcome, self.outcome.get("error")
        result = self.outcome["result"]
        assert isinstance(result, dg.ExecuteInProcessResult)
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        assert not job_processes(self.topic), "the job's processes outlived the run"
        return result

    def kill(self) -> None:
        """SIGKILL the job's processes (a test that failed midway), then give the thread a minute."""
        kill_all(job_processes(self.topic))
        if self.thread is not None:
            self.thread.join(60)
