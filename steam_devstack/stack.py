"""The local stack as a whole: choose ports once, bring services up in order, report, tear down.

`stack.json` in the state folder records the ports, cluster size and Kafka security (plaintext or
sasl_ssl) chosen at the first `up`, and which services `up` started, so later `up`/`status`/`down`
calls (and the tests) address the same servers. `env` in the same folder holds `export KEY=value`
lines pointing every client at the stack; it holds passwords, so only its owner may read it (0600).

Optional services (the Spark standalone cluster; Prometheus, Alertmanager and the platform's metrics
exporter) belong to the stack only once asked for (`up --spark-cluster`, `up --monitoring`); the
Spark Connect server runs unless turned off (`up --no-spark-connect`); `stack.json` keeps each
choice (`up --no-...` drops one).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from steam_devstack.health import StackError, free_port, port_open
from steam_devstack.paths import REPO_ROOT, cache_dir, default_state_dir, private_dir, write_private
from steam_devstack.process import concurrently, service_rss_bytes
from steam_devstack.services.base import Service, StackContext
from steam_devstack.services.kafka_tls import KafkaSecurity, parse_security
from steam_devstack.services.registry import (
    MONITORING,
    OPTIONAL_SERVICES,
    SERVICE_TYPES,
    SPARK_CLUSTER,
    SPARK_CONNECT,
)


@dataclass(frozen=True)
class ServiceStatus:
    """One row of `stack status`."""

    name: str
    running: bool
    healthy: bool
    pids: list[int]
    rss_mb: float
    endpoints: dict[str, str]


class LocalStack:
    """The servers of one state folder."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        brokers: int | None = None,
        only: list[str] | None = None,
        prefer_default_ports: bool = True,
        kafka_security: KafkaSecurity | str | None = None,
        spark_cluster: bool | None = None,
        monitoring: bool | None = None,
        spark_connect: bool | None = None,
    ) -> None:
        self.state_dir = (state_dir or default_state_dir()).resolve()
        saved = self._load()
        self.kafka_security = self._kafka_security(saved, parse_security(kafka_security))
        if (
            brokers is not None
            and saved
            and saved.get("brokers") != brokers
            and self._anything_running(saved)
        ):
            raise StackError(
                f"the stack in {self.state_dir} runs with {saved.get('brokers')} broker(s); "
                "run `stack down` first to change the cluster size"
            )
        if brokers is not None and saved and saved.get("brokers") != brokers:
            # A different cluster size needs fresh Kafka storage (cluster ids differ).
            shutil.rmtree(self.state_dir / "data" / "kafka", ignore_errors=True)
            saved = {**saved, "brokers": brokers}
        n_brokers = brokers or (saved or {}).get("brokers", 1)
        self.ctx = StackContext(
            state_dir=self.state_dir,
            cache_dir=cache_dir(),
            ports=dict((saved or {}).get("ports", {})),
            brokers=int(n_brokers),
        )
        self._explicit_only = bool(only)
        self.started: list[str] = list((saved or {}).get("services", []))
        #: The optional Spark standalone cluster: `spark_cluster` if given, else the recorded choice.
        recorded_cluster = bool((saved or {}).get("spark_cluster", False))
        self.spark_cluster = recorded_cluster if spark_cluster is None else spark_cluster
        #: Prometheus, Alertmanager and the metrics exporter: `monitoring` if given, else recorded.
        recorded_monitoring = bool((saved or {}).get("monitoring", False))
        self.monitoring = recorded_monitoring if monitoring is None else monitoring
        #: The Spark Connect server runs attach to: `spark_connect` if given, else the recorded choice,
        #: else on (a warm server instead of a driver start per run step: benchmarks/RESULTS.md).
        recorded_connect = bool((saved or {}).get("spark_connect", True))
        self.spark_connect = recorded_connect if spark_connect is None else spark_connect
        wanted_optional = {SPARK_CLUSTER} if self.spark_cluster else set()
        wanted_optional |= {SPARK_CONNECT} if self.spark_connect else set()
        wanted_optional |= {MONITORING} if self.monitoring else set()
        left_out = OPTIONAL_SERVICES - wanted_optional
        names = only or [t.name for t in SERVICE_TYPES if t.name not in left_out]
        unknown = set(names) - {t.name for t in SERVICE_TYPES}
        if unknown:
            raise StackError(f"unknown service(s): {', '.join(sorted(unknown))}")
        self.services: list[Service] = [t(self.ctx) for t in SERVICE_TYPES if t.name in names]
        self._assign_ports(prefer_default_ports)

    # -- persistence -------------------------------------------------------------------------
    @property
    def manifest(self) -> Path:
        return self.state_dir / "stack.json"

    @property
    def env_file(self) -> Path:
        return self.state_dir / "env"

    def _load(self) -> dict | None:
        try:
            return dict(json.loads(self.manifest.read_text()))
        except (OSError, ValueError):
            return None

    def _anything_running(self, saved: dict) -> bool:
        return any((self.state_dir / "pids").glob("*.pid"))

    def _kafka_security(self, saved: dict | None, wanted: KafkaSecurity | None) -> KafkaSecurity:
        """The Kafka security mode: `wanted`, else the recorded one, else plaintext.

        Like the cluster size, it changes only while the stack is down, and a change needs fresh
        Kafka storage (SCRAM users are created when the storage is formatted).
        """
        recorded = parse_security((saved or {}).get("kafka_security")) or KafkaSecurity.PLAINTEXT
        if wanted is None or not saved or wanted is recorded:
            return wanted or recorded
        if self._anything_running(saved):
            raise StackError(
                f"the stack in {self.state_dir} runs Kafka with {recorded.value}; "
                "run `stack down` first to change --kafka-security"
            )
        shutil.rmtree(self.state_dir / "data" / "kafka", ignore_errors=True)
        return wanted

    def _save(self) -> None:
        private_dir(self.state_dir)
        write_private(
            self.manifest,
            json.dumps(
                {
                    "brokers": self.ctx.brokers,
                    "kafka_security": self.kafka_security.value,
                    "monitoring": self.monitoring,
                    "ports": self.ctx.ports,
                    "services": self.started,
                    "spark_cluster": self.spark_cluster,
                    "spark_connect": self.spark_connect,
                },
                indent=2,
                sort_keys=True,
            ),
        )

    def _assign_ports(self, prefer_default: bool) -> None:
        """Keep recorded ports; otherwise take the default if free, else any free port."""
        for svc in SERVICE_TYPES:
            for key, default in svc.default_ports.items():
                if key in self.ctx.ports:
                    continue
                taken = set(self.ctx.ports.values())
                if prefer_default and default not in taken and not port_open("127.0.0.1", default):
                    self.ctx.ports[key] = default
                else:
                    port = free_port()
                    while port in taken:
                        port = free_port()
                    self.ctx.ports[key] = port
        self._save()

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> None:
        """Fetch/build every service's artifacts (cached; quick when already done)."""
        for svc in self.services:
            print(f"[install] {svc.name}", file=sys.stderr, flush=True)
            svc.install()

    def up(self) -> dict[str, str]:
        """Install, start what is not running, wait for health; returns the client environment.

        The started services are recorded (added to those of earlier `up --only` calls), so
        `status` reports them and `env` points at all of them.
        """
        if any(svc.name == SPARK_CLUSTER for svc in self.services):
            self.spark_cluster = True  # named by `--only`, or `--spark-cluster`: kept for later calls
        elif not self.spark_cluster and SPARK_CLUSTER in self.started:  # `up --no-spark-cluster`
            cluster = next(t for t in SERVICE_TYPES if t.name == SPARK_CLUSTER)(self.ctx)
            if cluster.stop():
                print(f"[up] {SPARK_CLUSTER}: stopped (--no-spark-cluster)", file=sys.stderr, flush=True)
            self.started.remove(SPARK_CLUSTER)
        if any(svc.name == SPARK_CONNECT for svc in self.services):
            self.spark_connect = True
        elif not self.spark_connect and SPARK_CONNECT in self.started:  # `up --no-spark-connect`
            connect = next(t for t in SERVICE_TYPES if t.name == SPARK_CONNECT)(self.ctx)
            if connect.stop():
                print(f"[up] {SPARK_CONNECT}: stopped (--no-spark-connect)", file=sys.stderr, flush=True)
            self.started.remove(SPARK_CONNECT)
        if any(svc.name == MONITORING for svc in self.services):
            self.monitoring = True
        elif not self.monitoring and MONITORING in self.started:  # `up --no-monitoring`
            monitoring = next(t for t in SERVICE_TYPES if t.name == MONITORING)(self.ctx)
            if monitoring.stop():
                print(f"[up] {MONITORING}: stopped (--no-monitoring)", file=sys.stderr, flush=True)
            self.started.remove(MONITORING)
        wanted = set(self.started) | {svc.name for svc in self.services}
        self.started = [t.name for t in SERVICE_TYPES if t.name in wanted]
        self._save()
        self.install()
        self.ctx.expose_to_run_user(self.ctx.cache_dir, REPO_ROOT)
        for svc in self.services:
            if not svc.processes():  # install-only components (e.g. Spark's connector jars)
                print(f"[up] {svc.name}: installed (no server process)", file=sys.stderr, flush=True)
                continue
            if svc.is_running() and svc.healthy():
                print(f"[up] {svc.name}: already running", file=sys.stderr, flush=True)
                continue
            if svc.is_running():
                svc.stop()
            busy = svc.ports_in_use()
            if busy:
                raise StackError(
                    f"{svc.name}: port(s) {busy} are taken by another program; free them or "
                    f"remove {self.manifest} to choose new ports"
                )
            print(f"[up] {svc.name}: starting", file=sys.stderr, flush=True)
            if svc.reads_stack_env:
                self._write_env()  # e.g. the metrics exporter reads the other servers' addresses
            svc.start()
        self.ctx.make_state_private()
        return self._write_env()

    def _write_env(self) -> dict[str, str]:
        """Write (0600) and return the client environment of every service started so far
        (earlier `up --only` calls too)."""
        env: dict[str, str] = {}
        for svc in (t(self.ctx) for t in SERVICE_TYPES if t.name in self.started):
            env.update(svc.endpoints())
        write_private(
            self.env_file, "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
        )
        return env

    def down(self, purge: bool = False) -> list[str]:
        """Stop every process this stack started (by pid file / process group); optionally wipe data."""
        # Every service at once: none needs another to shut down, and each mostly waits.
        stopped = [label for labels in concurrently(Service.stop, self.services[::-1]) for label in labels]
        if purge:
            shutil.rmtree(self.state_dir / "data", ignore_errors=True)
        return stopped

    def endpoints(self) -> dict[str, str]:
        """Client environment variables for every service of this stack."""
        env: dict[str, str] = {"STEAM_STACK_DIR": str(self.state_dir)}
        for svc in self.services:
            env.update(svc.endpoints())
        return env

    def reported_services(self) -> list[Service]:
        """What `status` covers: the services named by `only`, else those `up` started (else all)."""
        if self._explicit_only or not self.started:
            return self.services
        return [svc for svc in self.services if svc.name in self.started]

    def status(self) -> list[ServiceStatus]:
        """What runs where, whether it answers, and how much memory (its whole process tree) it holds."""
        rows = []
        for svc in self.reported_services():
            pids = [p for p in (proc.pid() for proc in svc.processes()) if p is not None]
            running = len(pids) == len(svc.processes())
            rows.append(
                ServiceStatus(
                    name=svc.name,
                    running=running,
                    healthy=running and svc.healthy(),
                    pids=pids,
                    rss_mb=sum(service_rss_bytes(p) for p in pids) / 2**20,
                    endpoints=svc.endpoints(),
                )
            )
        return rows
