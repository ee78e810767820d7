"""A Spark Connect server that the platform's Dagster runs attach to instead of starting a driver.

On by default: `steam-platform stack up` starts it (`--no-spark-connect` stops it and leaves it out;
the choice is kept in `stack.json`). The stack's env file then carries
`STEAM_SPARK_REMOTE=sc://127.0.0.1:<port>` and the `pyspark` resource attaches to it (falling back
to an in-process driver with a warning when it does not answer; `steam_platform/resources/spark.py`).
Why on: every run step, bronze's landing included (`streaming/bronze_connect.py`), then finds a warm
driver instead of starting one; measured with the unattended platform at 2-minute polls, poll ->
searchable p50 21 s instead of 34 s and half the CPU (`benchmarks/RESULTS.md`). The price: the
server holds a 1 GB driver heap (~1.3 GB resident at its peak) all the time, and its fork server
for `foreachBatch` workers ~140 MB (`streaming/worker_forkserver.py`). The test suite's
stacks leave it out unless a test attaches (`tests/conftest.py`).

What runs: `python -m steam_devstack.supervisor -- python -m steam_platform.spark_connect_server
--port <port> --bind 127.0.0.1 --work-dir <private folder>`: the platform's own server entry point,
the one the Kubernetes chart and compose run, which writes its conf (`streaming/connect_server.py`)
and replaces itself with Spark's `spark-submit` of the server. The supervisor (the service's pid
file and process group) starts the server again whenever it exits
(`steam_devstack/supervisor.py`); `stack down` stops both.

- Bound to 127.0.0.1: gRPC and the driver's RPC, no UI.
- Driver capped like the platform's in-process driver (`DEFAULT_DRIVER_MEMORY`, `local[2]`), the
  same session defaults (UTC, dynamic partition overwrite, 4 shuffle partitions), and the JVM exits
  on an OutOfMemoryError so the supervisor restarts it instead of it hanging.
- The connector jars (Kafka source, S3A) by path, the ones `stack install` resolved.
- S3A pointed at the stack's S3 server; the access key pair reaches the server through its
  environment only, never its command line or conf file, so `spark.conf.get` from a client cannot
  read it either. The conf file (everything else) is 0600 in the service's private data folder.
- As root, like the standalone cluster, it is not dropped to the service user: its Python workers
  (a `foreachBatch` function, a Python UDF) run this venv's interpreter and import the checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from steam_devstack.health import wait_until
from steam_devstack.paths import private_dir
from steam_devstack.services import s3 as s3_service
from steam_devstack.services.base import Service
from steam_devstack.services.spark import connector_jars
from streaming.connect_server import spark_home
from streaming.connect_session import server_answers
from streaming.environment import (
    AWS_REGION_ENV,
    DEFAULT_DRIVER_MEMORY,
    DEFAULT_SPARK_MASTER,
    S3_ENDPOINT_URL_ENV,
    SPARK_JARS_ENV,
)

HOST = "127.0.0.1"
START_TIMEOUT_S = 180
#: Where a client's `STEAM_SPARK_REMOTE` points.
REMOTE_ENV = "STEAM_SPARK_REMOTE"
#: The platform's server entry point (`steam_platform/spark_connect_server.py`).
ENTRY_POINT = "steam_platform.spark_connect_server"


class SparkConnectService(Service):
    """One supervised Spark Connect server on 127.0.0.1 (optional service)."""

    name = "spark_connect"
    default_ports: ClassVar[dict[str, int]] = {"spark_connect": 15002}

    @property
    def remote(self) -> str:
        """The `sc://` URL clients attach to."""
        return f"sc://{HOST}:{self.port('spark_connect')}"

    @property
    def base(self) -> Path:
        return self.ctx.state_dir / "data" / self.name

    def install(self) -> None:
        """The connector jars (resolved by the `spark` component) and Spark's launcher."""
        connector_jars()
        spark_home()

    def argv(self) -> list[str]:
        """The supervisor's command line: the platform's server entry point after `--` (no secret)."""
        return [
            sys.executable, "-m", "steam_devstack.supervisor", "--",
            sys.executable, "-m", ENTRY_POINT, "--port", str(self.port("spark_connect")),
            "--bind", HOST, "--work-dir", str(self.base),
        ]  # fmt: skip

    def server_env(self) -> dict[str, str]:
        """Every setting the entry point reads, stated (none inherited from the caller's shell):
        loopback only, `local[2]`, the stack's jars and S3 server, and its key pair for S3A (the
        entry point sets Spark's home and the workers' Python itself)."""
        return {
            "SPARK_LOCAL_IP": HOST,
            "SPARK_MASTER": DEFAULT_SPARK_MASTER,
            "SPARK_DRIVER_MEMORY": DEFAULT_DRIVER_MEMORY,
            "SPARK_DRIVER_HOST": HOST,
            "SPARK_DRIVER_BIND_ADDRESS": HOST,
            SPARK_JARS_ENV: ":".join(str(p) for p in connector_jars()),
            S3_ENDPOINT_URL_ENV: f"http://{HOST}:{self.port('s3')}",
            "S3_PATH_STYLE": "true",
            AWS_REGION_ENV: s3_service.REGION,
            "AWS_ACCESS_KEY_ID": s3_service.ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": s3_service.SECRET_ACCESS_KEY,
        }

    def start(self) -> None:
        """Start the supervised server and wait (bounded) until its gRPC port answers."""
        private_dir(self.base)
        proc = self.process()
        if not proc.is_running():
            proc.start(self.argv(), cwd=self.base, env=self.server_env())
        wait_until(
            self.healthy,
            what="spark connect server",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )

    def healthy(self) -> bool:
        """The supervisor runs and the server accepts a gRPC (HTTP/2) connection on its port."""
        return self.is_running() and server_answers(f"sc://{HOST}:{self.port('spark_connect')}", 2.0)

    def endpoints(self) -> dict[str, str]:
        return {REMOTE_ENV: self.remote}
