"""The platform's Spark Connect server: one long-lived driver that every run's Spark work attaches to.

A run that attaches (`streaming/connect_session.py`) starts no driver: it sends its plans to this
server, whose driver runs them locally (`local[2]`, the local stack) or on a cluster's executors
(`spark://...`, the Kubernetes chart and anyone's standalone cluster). Both use this one conf and
this one command line (`steam_platform/spark_connect_server.py` is the entry point; the local
stack supervises it, Kubernetes restarts its pod), so what the tests prove locally is what runs in
production.

- The platform's session defaults (`local_session_conf`: UTC, dynamic partition overwrite, few
  shuffle partitions, no UI) and the lake's S3A settings, on the server, which owns every static
  setting: clients may only change `spark.sql.*` per session.
- gRPC bound to `bind_address` (127.0.0.1 locally; a pod's address in a cluster, behind its
  NetworkPolicy). The driver's own RPC address comes with `driver_address` (executors on other
  hosts connect back to it).
- The JVM exits on an OutOfMemoryError, so its supervisor (or Kubernetes) starts it again instead
  of it hanging with every run waiting on it.
- Connector jars (Kafka source, S3A) by path: on the driver's classpath in local mode (executors
  live in the driver's JVM; `spark.jars` would copy every jar into the scratch folder), as
  `spark.jars` with a cluster master (the driver's file server hands them to every executor).
- Bronze's jar (the envelope parser, its commit protocols) travels with the connector jars, and
  its session extensions (`spark.sql.extensions`) put `steam_envelope_parse` into every session,
  so an attached bronze parses as fast as an in-process driver (`streaming/envelope_parse.py`).
- No secret in the conf: it is written to a file and any client can read it through `spark.conf`.
  The S3 key pair reaches the server through its environment (`AWS_ACCESS_KEY_ID`/
  `AWS_SECRET_ACCESS_KEY`); Spark copies it into the Hadoop configuration when the context
  starts, and the tasks that read or write files carry that configuration to the executors.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from streaming.envelope_parse import SESSION_EXTENSIONS
from streaming.spark_session import PYSPARK_PYTHON_CONF, local_session_conf

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
APP_NAME = "steam-platform-connect"
DEFAULT_PORT = 15002
CONF_FILE_NAME = "spark-connect.conf"


def spark_home() -> Path:
    """The Spark that pyspark ships (`bin/spark-submit`, `bin/spark-class`, `jars/` with the Connect
    server), found without importing pyspark."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyspark is not installed in this Python (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def is_local_master(master: str) -> bool:
    """True for `local`, `local[N]`, `local[*]`: executors run inside the driver's JVM."""
    return master == "local" or master.startswith("local[")


def server_conf(
    *,
    port: int,
    bind_address: str,
    master: str,
    driver_memory: str,
    jars: Sequence[str],
    s3a: Mapping[str, str],
    scratch: Path,
    python: str,
    driver_address: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The server's Spark conf (holds no secret); `overrides` win over every default.

    `scratch`: the driver's temporary and spill folder. `python`: the interpreter of the server's
    Python workers (a `foreachBatch` function, Python UDFs), and of the executors' on a cluster
    whose workers run the same image. `driver_address`: `spark.driver.host`/`bindAddress` for a
    cluster whose executors are on other hosts (default: 127.0.0.1).
    """
    conf = local_session_conf(
        APP_NAME,
        master=master,
        driver_memory=driver_memory,
        jars=() if is_local_master(master) else jars,
        conf={**s3a, **(driver_address or {})},
    )
    if is_local_master(master) and jars:
        conf["spark.driver.extraClassPath"] = ":".join(jars)
    conf.update(
        {
            "spark.connect.grpc.binding.address": bind_address,
            "spark.connect.grpc.binding.port": str(port),
            "spark.driver.extraJavaOptions": (
                f"-Duser.timezone=UTC -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir={scratch}"
            ),
            "spark.local.dir": str(scratch),
            # The catalog's default database lives in the scratch folder, not the working directory
            # (read-only in a pod, the checkout locally), and local folders Spark makes stay the
            # server's own (Hadoop's default umask would make them 0755).
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.hadoop.fs.permissions.umask-mode": "077",
            PYSPARK_PYTHON_CONF: python,
            # Bronze's envelope parser in every session (a client has no JVM to register it in).
            "spark.sql.extensions": SESSION_EXTENSIONS,
        }
    )
    conf.update(overrides or {})
    return conf


def properties_text(conf: Mapping[str, str]) -> str:
    """`conf` as the lines of a Spark properties file (`key value`, sorted)."""
    return "".join(f"{key} {value}\n" for key, value in sorted(conf.items()))


def write_conf_file(folder: Path, conf: Mapping[str, str]) -> Path:
    """Write `conf` as a Spark properties file, readable by its owner only; returns its path."""
    path = folder / CONF_FILE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(properties_text(conf))
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
    return path


def submit_argv(spark_home: Path, conf_file: Path, driver_memory: str) -> list[str]:
    """`spark-submit` of the server with `conf_file` (the driver's heap is a launch setting)."""
    return [
        str(spark_home / "bin" / "spark-submit"), "--class", SERVER_CLASS,
        "--properties-file", str(conf_file), "--driver-memory", driver_memory, "spark-internal",
    ]  # fmt: skip
