"""Apache Kafka in KRaft mode (no ZooKeeper): one combined broker/controller, or three.

The broker's jars come from Maven Central (`deploy/local/maven/kafka/pom.xml`); storage is
formatted with Kafka's own storage tool; every node is a `java -cp ... kafka.Kafka` process with a
capped heap. Auto topic creation is off: the platform creates its topics explicitly.

Every node carries the Prometheus JMX exporter java agent (`deploy/local/maven/jmx-exporter`), with
the rules the compose brokers use too (`deploy/monitoring/kafka-jmx.yml`): under-replicated and
offline partitions, ISR shrinks, bytes/messages per topic, log size per partition, controller state
are served on `http://127.0.0.1:<kafka_metrics_N>/metrics` (exported as `KAFKA_METRICS_URLS`).
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import ClassVar

from steam_devstack import maven
from steam_devstack.health import StackError, port_open, wait_until
from steam_devstack.paths import DEPLOY_LOCAL, REPO_ROOT
from steam_devstack.process import ManagedProcess
from steam_devstack.services.base import Service

MAX_NODES = 3
HEAP = "-Xmx512m"
START_TIMEOUT_S = 120
JMX_RULES = REPO_ROOT / "deploy" / "monitoring" / "kafka-jmx.yml"


class KafkaService(Service):
    """A KRaft Kafka cluster of `ctx.brokers` combined broker+controller nodes on 127.0.0.1."""

    name = "kafka"
    default_ports: ClassVar[dict[str, int]] = {
        **{f"kafka_broker_{i}": 19091 + 2 * i for i in range(1, MAX_NODES + 1)},
        **{f"kafka_controller_{i}": 19092 + 2 * i for i in range(1, MAX_NODES + 1)},
        **{f"kafka_metrics_{i}": 19300 + i for i in range(1, MAX_NODES + 1)},
    }

    @property
    def node_ids(self) -> list[int]:
        if self.ctx.brokers not in (1, MAX_NODES):
            raise StackError(f"kafka: --brokers must be 1 or {MAX_NODES}, not {self.ctx.brokers}")
        return list(range(1, self.ctx.brokers + 1))

    def processes(self) -> list[ManagedProcess]:
        return [self.process(f"-{n}") for n in self.node_ids]

    def bootstrap_servers(self) -> str:
        """The `host:port` list clients bootstrap from."""
        return ",".join(f"127.0.0.1:{self.port(f'kafka_broker_{n}')}" for n in self.node_ids)

    def metrics_urls(self) -> list[str]:
        """The Prometheus endpoint of every node's JMX exporter agent, in node order."""
        return [f"http://127.0.0.1:{self.port(f'kafka_metrics_{n}')}/metrics" for n in self.node_ids]

    def install(self) -> None:
        maven.resolve("kafka")
        maven.resolve("jmx-exporter")

    def _metrics_agent(self, node: int) -> str:
        """`-javaagent:` serving the node's MBeans as Prometheus metrics on 127.0.0.1 only."""
        (jar,) = maven.jars_dir("jmx-exporter").glob("jmx_prometheus_javaagent-*.jar")
        return f"-javaagent:{jar}=127.0.0.1:{self.port(f'kafka_metrics_{node}')}:{JMX_RULES}"

    def _java(self, main: str, *args: str, heap: str = HEAP, agent: tuple[str, ...] = ()) -> list[str]:
        log4j = DEPLOY_LOCAL / "kafka" / "log4j2.properties"
        return [
            "java", heap, "-Xms128m", "-XX:+UseG1GC", "-Djava.awt.headless=true", *agent,
            f"-Dlog4j2.configurationFile={log4j}", "-cp", maven.classpath("kafka"), main, *args,
        ]  # fmt: skip

    def _write_config(self, node: int, data: Path) -> Path:
        replication = min(3, len(self.node_ids))
        voters = ",".join(f"{n}@127.0.0.1:{self.port(f'kafka_controller_{n}')}" for n in self.node_ids)
        broker_port = self.port(f"kafka_broker_{node}")
        controller_port = self.port(f"kafka_controller_{node}")
        config = {
            "process.roles": "broker,controller",
            "node.id": str(node),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data / f"node-{node}"),
            "auto.create.topics.enable": "false",
            "num.partitions": "6",
            "default.replication.factor": str(replication),
            "min.insync.replicas": "2" if replication >= 3 else "1",
            "offsets.topic.replication.factor": str(replication),
            "transaction.state.log.replication.factor": str(replication),
            "transaction.state.log.min.isr": "2" if replication >= 3 else "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 2**20),
            "unclean.leader.election.enable": "false",
        }
        path = data / f"server-{node}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        return path

    def _format(self, node: int, config: Path, data: Path) -> None:
        """Format the node's log dir with the cluster id (once; formatted dirs are left alone)."""
        if (data / f"node-{node}" / "meta.properties").exists():
            return
        cluster_file = data / "cluster.id"
        if not cluster_file.exists():
            cluster_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        cluster_id = cluster_file.read_text()
        cmd = self._java(
            "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config),
            "--ignore-formatted", heap="-Xmx256m",
        )  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, **self.ctx.run_as())
        if result.returncode != 0:
            raise StackError(
                f"kafka: formatting storage of node {node} failed:\n{result.stdout}{result.stderr}"
            )

    def start(self) -> None:
        data = self.ctx.data_dir("kafka")
        for node in self.node_ids:
            config = self._write_config(node, data)
            self.ctx.give_to_run_user(data)
            self._format(node, config, data)
        for node, proc in zip(self.node_ids, self.processes(), strict=True):
            if not proc.is_running():
                config = data / f"server-{node}.properties"
                argv = self._java("kafka.Kafka", str(config), agent=(self._metrics_agent(node),))
                proc.start(argv, cwd=data, user=self.ctx.run_user)
        wait_until(
            self.healthy,
            what=f"kafka ({len(self.node_ids)} node(s))",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )

    def healthy(self) -> bool:
        """Every node listens (Kafka and metrics) and the cluster metadata lists all brokers."""
        ports = [self.port(f"kafka_{kind}_{n}") for n in self.node_ids for kind in ("broker", "metrics")]
        if not all(port_open("127.0.0.1", port) for port in ports):
            return False
        from confluent_kafka.admin import AdminClient

        try:
            meta = AdminClient({"bootstrap.servers": self.bootstrap_servers()}).list_topics(timeout=5)
        except Exception:
            return False
        return len(meta.brokers) == len(self.node_ids)

    def endpoints(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers(),
            "KAFKA_BROKERS": str(len(self.node_ids)),
            "KAFKA_METRICS_URLS": ",".join(self.metrics_urls()),
        }
