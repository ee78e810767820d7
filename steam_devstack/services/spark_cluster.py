"""A Spark standalone cluster (one master, two workers) from the Spark that pyspark ships.

Optional: `steam-platform stack up --spark-cluster` starts it (the choice is kept in `stack.json`,
so later `up`/`down`/`status` calls include it; `--no-spark-cluster` stops it again). Without it,
Spark runs `local[2]` inside the process that builds a session, as before.

What runs: `bin/spark-class org.apache.spark.deploy.master.Master` and two
`...deploy.worker.Worker spark://127.0.0.1:<port>` processes from the pyspark package
(`pyspark/bin`, `pyspark/jars`), nothing downloaded. Each is a separate JVM in its own process
group with its own pid file, like every other server of the stack; `stack down` stops the workers
(and with them their executors, which share the worker's process group), then the master.

- Bound to 127.0.0.1: `--host 127.0.0.1` for the RPC endpoints, `SPARK_LOCAL_IP=127.0.0.1` for the
  web UIs (which otherwise listen on every interface) and for the executors the workers launch.
  The master's REST submission server (a fixed port 6066 on all stacks) is off.
- Memory capped: the daemons' heap is `SPARK_DAEMON_MEMORY` (256 MB); each worker offers 1 core and
  1 GB to executors (`--cores 1 --memory 1g`), and an executor's heap is the application's
  `spark.executor.memory` (the platform asks for 1g, see `streaming/spark_session.py`).
- Clients find the master in `SPARK_MASTER` (the stack's env file); the platform's local wiring
  then runs every Spark job on it: in the run's process as the driver (client mode, executors on
  the workers), or through `spark-submit --master` (Pipes).
- Executors get nothing secret from the cluster: the workers start with the AWS key variables
  removed from their environment, so an executor can only write to S3 with the credentials its
  application ships in the Hadoop configuration of its tasks (a developer who exported
  `.stack/env` in the shell that ran `stack up` would otherwise hand every executor the keys, and
  a job that forgot to ship them would seem to work).

As root, unlike the JVM servers, the cluster is not dropped to the service user: executors run the
application's Python interpreter (the project's venv, possibly under /root with pyenv) and import
the checkout's packages, which that user cannot reach. Nothing is listening beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from steam_devstack.health import StackError, port_open, wait_until
from steam_devstack.process import ManagedProcess
from steam_devstack.services.base import Service
from streaming.connect_server import spark_home

HOST = "127.0.0.1"
WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"
DAEMON_MEMORY = "256m"
START_TIMEOUT_S = 120
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
#: Removed from the daemons' (and so the executors') environment; see the module docstring.
SCRUBBED_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

#: Read by master and workers from `$SPARK_CONF_DIR/spark-defaults.conf`.
DAEMON_DEFAULTS = {
    "spark.master.rest.enabled": "false",
    # Finished applications' folders (fetched jars, executor logs) are removed after an hour.
    "spark.worker.cleanup.enabled": "true",
    "spark.worker.cleanup.interval": "600",
    "spark.worker.cleanup.appDataTtl": "3600",
}
#: Daemons log their lifecycle (registrations, executors launched); executors only warnings.
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.deploy.name = org.apache.spark.deploy
logger.deploy.level = info
"""


def master_json(ui_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The master's state (`/json/`: status, alive workers, apps), or None when it does not answer."""
    try:
        with urllib.request.urlopen(f"{ui_url}/json/", timeout=timeout) as resp:
            data = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class SparkClusterService(Service):
    """A Spark standalone master and `WORKERS` workers on 127.0.0.1 (optional service)."""

    name = "spark_cluster"
    default_ports: ClassVar[dict[str, int]] = {
        "spark_master": 17077,
        "spark_master_ui": 18080,
        **{f"spark_worker_{i}": 17077 + i for i in range(1, WORKERS + 1)},
        **{f"spark_worker_ui_{i}": 18080 + i for i in range(1, WORKERS + 1)},
    }

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.port('spark_master')}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.port('spark_master_ui')}"

    @property
    def base(self) -> Path:
        return self.ctx.state_dir / "data" / self.name

    def processes(self) -> list[ManagedProcess]:
        return [self.process("-master"), *(self.process(f"-worker-{i}") for i in range(1, WORKERS + 1))]

    def _ports_of(self) -> list[list[str]]:
        """Port keys per process, in `processes()` order."""
        workers = [[f"spark_worker_{i}", f"spark_worker_ui_{i}"] for i in range(1, WORKERS + 1)]
        return [["spark_master", "spark_master_ui"], *workers]

    def ports_in_use(self) -> list[int]:
        """Ports taken by something other than this cluster's own live processes (a partial restart)."""
        busy = []
        for proc, keys in zip(self.processes(), self._ports_of(), strict=True):
            if not proc.is_running():
                busy += [self.port(k) for k in keys if port_open(HOST, self.port(k))]
        return busy

    def install(self) -> None:
        """Nothing to fetch: pyspark ships Spark; check that its launcher is there."""
        if not (spark_home() / "bin" / "spark-class").is_file():
            raise StackError(f"spark_cluster: {spark_home()}/bin/spark-class is missing (reinstall pyspark)")

    def _prepare(self) -> Path:
        """Folders and the daemons' config (`spark-defaults.conf`, `log4j2.properties`); returns conf dir."""
        conf = self.base / "conf"
        for sub in ("conf", "tmp", *(f"worker-{i}" for i in range(1, WORKERS + 1))):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        (conf / "spark-defaults.conf").write_text("".join(f"{k} {v}\n" for k, v in DAEMON_DEFAULTS.items()))
        (conf / "log4j2.properties").write_text(LOG4J2)
        return conf

    def _env(self, conf: Path, local_dirs: Path | None = None) -> dict[str, str]:
        env = {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(conf),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_PUBLIC_DNS": HOST,
            "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
            "SPARK_DAEMON_JAVA_OPTS": (
                f"-XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir={self.base / 'tmp'}"
            ),
        }
        if local_dirs is not None:  # executors' shuffle and spill files
            env["SPARK_LOCAL_DIRS"] = str(local_dirs)
        return env

    def _argv(self, main: str, *args: str) -> list[str]:
        unset = [flag for var in SCRUBBED_ENV for flag in ("-u", var)]
        return ["env", *unset, str(spark_home() / "bin" / "spark-class"), main, *args]

    def master_argv(self) -> list[str]:
        return self._argv(
            MASTER_CLASS, "--host", HOST, "--port", str(self.port("spark_master")),
            "--webui-port", str(self.port("spark_master_ui")),
        )  # fmt: skip

    def worker_argv(self, index: int) -> list[str]:
        return self._argv(
            WORKER_CLASS, self.master_url, "--host", HOST, "--port", str(self.port(f"spark_worker_{index}")),
            "--webui-port", str(self.port(f"spark_worker_ui_{index}")),
            "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
            "--work-dir", str(self.base / f"worker-{index}"),
        )  # fmt: skip

    def start(self) -> None:
        """Start the master, wait until it leads, then the workers, and wait until both registered."""
        conf = self._prepare()
        master, *workers = self.processes()
        if not master.is_running():
            master.start(self.master_argv(), cwd=self.base, env=self._env(conf))
        wait_until(
            self._master_alive,
            what="spark master",
            timeout=START_TIMEOUT_S,
            alive=master.is_running,
            log_hint=f"See {master.log_file}",
        )
        for index, proc in enumerate(workers, start=1):
            if not proc.is_running():
                local = self.base / f"worker-{index}" / "local"
                local.mkdir(parents=True, exist_ok=True)
                proc.start(self.worker_argv(index), cwd=self.base, env=self._env(conf, local))
        wait_until(
            self.healthy,
            what=f"spark cluster ({WORKERS} workers)",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )

    def _master_alive(self) -> bool:
        state = master_json(self.ui_url) if port_open(HOST, self.port("spark_master_ui")) else None
        return bool(state and state.get("status") == "ALIVE")

    def healthy(self) -> bool:
        """The master leads (ALIVE) and every worker has registered with it."""
        if not port_open(HOST, self.port("spark_master")):
            return False
        state = master_json(self.ui_url)
        return bool(state and state.get("status") == "ALIVE" and int(state.get("aliveworkers", 0)) >= WORKERS)

    def endpoints(self) -> dict[str, str]:
        """`SPARK_MASTER` points the platform's Spark jobs at the cluster; the UI URL is for people."""
        return {"SPARK_MASTER": self.master_url, "SPARK_MASTER_UI_URL": self.ui_url}
