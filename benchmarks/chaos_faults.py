"""The chaos benchmark's hands: each fault of the schedule done to the running platform, and undone.

Every fault records when it started and when it was lifted (the service answered again, the
Steam rules were cleared) on its `FaultRecord`; a fault that could not be done records why in
`error` and the benchmark goes on. Nothing here touches the platform except these faults.
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import dagster as dg
import psutil
from chaos_platform import Platform
from chaos_report import FaultRecord
from chaos_schedule import FaultKind, PlannedFault, steam_phases

from steam_devstack.health import wait_until
from steam_devstack.kafka_drill import crash_node, kafka_service
from steam_devstack.process import process_tree
from steam_platform.assets.lake.refresh_events import LAKE_RUN_TAG
from steam_platform.assets.operations.run_reaper import run_worker

#: The broker killed (node 2 of 1..3: not the first, which clients are often bootstrapped from).
BROKER_NODE = 2
#: How long the lake-worker fault waits for a lake run whose Spark driver is up.
LAKE_RUN_WAIT_S = 300.0
#: Retry-After Steam sends with its 429s.
RETRY_AFTER_S = 30
SERVICE_START_TIMEOUT_S = 300.0
#: Command-line needles of the processes the daemon and code-server faults kill.
DAEMON_NEEDLES = ("dagster-daemon run", "dagster._daemon")
CODE_PROCESS_NEEDLES = ("api grpc",)


class FaultInjector:
    """Does one planned fault to `platform`; `instance` finds the lake run to kill."""

    def __init__(self, platform: Platform, instance: dg.DagsterInstance, log: Callable[[str], None]) -> None:
        self.platform = platform
        self.instance = instance
        self.log = log

    def run(self, planned: PlannedFault, record: FaultRecord) -> None:
        """Do the fault and lift it; errors are recorded, never raised."""
        action = {
            FaultKind.BROKER_KILL: self.broker_kill,
            FaultKind.LAKE_WORKER_KILL: self.lake_worker_kill,
            FaultKind.ELASTICSEARCH_STOP: lambda p, r: self.stop_service("elasticsearch", p, r),
            FaultKind.STEAM_503_THEN_429: self.steam_outage,
            FaultKind.S3_STOP: lambda p, r: self.stop_service("s3", p, r),
            FaultKind.CODE_SERVER_KILL: self.code_server_kill,
            FaultKind.DAEMON_KILL: self.daemon_kill,
            FaultKind.POSTGRES_RESTART: self.postgres_restart,
        }[planned.kind]
        try:
            action(planned, record)
        except Exception as exc:  # recorded in the report; the benchmark goes on
            record.error = f"{type(exc).__name__}: {exc}"[:400]
            self.log(f"fault {planned.kind} failed: {record.error}")
        self.log(f"fault {planned.kind}: {json.dumps(record.detail)}")

    # -- the faults ----------------------------------------------------------------------------
    def broker_kill(self, planned: PlannedFault, record: FaultRecord) -> None:
        """SIGKILL one broker's process group; start it again after the outage."""
        stack = self.platform.stack
        record.started = time.time()
        crash_node(stack, BROKER_NODE)
        record.detail["node"] = BROKER_NODE
        time.sleep(planned.outage_s)
        kafka_service(stack).start()  # starts the dead node, waits until the cluster lists all three
        record.lifted = time.time()

    def stop_service(self, name: str, planned: PlannedFault, record: FaultRecord) -> None:
        """Stop a stack server (SIGTERM, as a host shutdown does) for the outage, then start it."""
        (service,) = [s for s in self.platform.stack.services if s.name == name]
        record.started = time.time()
        record.detail["stopped"] = service.stop()
        time.sleep(planned.outage_s)
        service.start()
        wait_until(service.healthy, what=name, timeout=SERVICE_START_TIMEOUT_S)
        record.lifted = time.time()

    def postgres_restart(self, planned: PlannedFault, record: FaultRecord) -> None:
        """Restart Dagster's storage: stopped (fast shutdown) and started at once."""
        self.stop_service("postgres", planned, record)

    def steam_outage(self, planned: PlannedFault, record: FaultRecord) -> None:
        """Every Steam call answered 503, then 429 with Retry-After, then served again."""
        first, second = steam_phases(planned.outage_s)
        record.started = time.time()
        self._steam_rules([{"kind": "503"}])
        time.sleep(first)
        record.detail["429_from"] = time.time()
        self._steam_rules([{"kind": "429", "retry_after": RETRY_AFTER_S}])
        time.sleep(second)
        fired = self._steam_rules([])
        record.lifted = time.time()
        record.detail |= {"503_s": round(first), "429_s": round(second), "retry_after_s": RETRY_AFTER_S}
        record.detail["faulted_calls_seen_before_clear"] = fired

    def lake_worker_kill(self, planned: PlannedFault, record: FaultRecord) -> None:
        """SIGKILL the worker of a lake run in flight and its Spark driver (the whole process tree),
        once the driver is up; waits (bounded) for such a run."""
        deadline = time.monotonic() + LAKE_RUN_WAIT_S
        while time.monotonic() < deadline:
            target = self._lake_worker()
            if target is not None:
                run_id, tree = target
                record.started = time.time()
                for proc in tree:
                    with contextlib.suppress(psutil.Error):
                        proc.send_signal(signal.SIGKILL)
                record.lifted = record.started
                record.detail |= {"run_id": run_id, "killed_pids": [p.pid for p in tree]}
                return
            time.sleep(2)
        raise RuntimeError(f"no lake run with a Spark driver in flight within {LAKE_RUN_WAIT_S:.0f} s")

    def code_server_kill(self, planned: PlannedFault, record: FaultRecord) -> None:
        """SIGKILL the code server's gRPC process (the one that loads the code and launches runs)."""
        procs = self.platform.dev.find(*CODE_PROCESS_NEEDLES)
        if not procs:
            raise RuntimeError("no `dagster api grpc` process under steam-platform dev")
        record.started = time.time()
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        record.lifted = record.started
        record.detail["killed_pids"] = [p.pid for p in procs]

    def daemon_kill(self, planned: PlannedFault, record: FaultRecord) -> None:
        """SIGKILL the Dagster daemon. `dagster dev` exits when its daemon dies and `steam-platform
        dev` starts it again (`DevRestartPolicy`); should `steam-platform dev` itself exit, the
        service manager starts it. Lifted when a new daemon runs and the webserver answers again."""
        dev = self.platform.dev
        procs = dev.find(*DAEMON_NEEDLES)
        if not procs:
            raise RuntimeError("no dagster-daemon process under steam-platform dev")
        killed = {p.pid for p in procs}
        restarts = len(dev.restarts)
        record.started = time.time()
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        record.detail["killed_pids"] = sorted(killed)
        wait_until(
            lambda: any(p.pid not in killed for p in dev.find(*DAEMON_NEEDLES)),
            what="a new dagster daemon under steam-platform dev",
            timeout=180,
        )
        dev.wait_ready()
        record.lifted = time.time()
        record.detail["restarted_after_s"] = round(record.lifted - record.started, 1)
        record.detail["service_manager_restarts"] = len(dev.restarts) - restarts

    # -- helpers -------------------------------------------------------------------------------
    def _lake_worker(self) -> tuple[str, list[psutil.Process]] | None:
        """A STARTED lake run whose worker runs a Spark driver (java below it): (run id, worker tree)."""
        records = self.instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={LAKE_RUN_TAG: "poll"}), limit=5
        )
        for rec in records:
            worker = run_worker(self.instance, rec.dagster_run.run_id)
            if worker is None:
                continue
            tree = process_tree(worker.pid)
            names = set()
            for proc in tree:
                with contextlib.suppress(psutil.Error):
                    names.add(proc.name())
            if "java" in names:
                return rec.dagster_run.run_id, tree
        return None

    def _steam_rules(self, rules: list[dict[str, Any]]) -> int:
        """Replace the simulator's fault rules; returns how often the rules it had fired."""
        base = self.platform.env["STEAM_API_BASE_URL"].rstrip("/")
        with urllib.request.urlopen(f"{base}/__sim/faults", timeout=10) as resp:
            fired = sum(int(r.get("fired", 0)) for r in json.loads(resp.read())["rules"])
        body = json.dumps({"rules": rules}).encode()
        request = urllib.request.Request(
            f"{base}/__sim/faults", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            if resp.status != 200:
                raise RuntimeError(f"simulator refused the fault rules: {resp.read()[:200]!r}")
        return fired
