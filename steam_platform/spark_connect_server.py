"""`python -m steam_platform.spark_connect_server`: the Spark Connect server runs attach to.

Every Spark step of a run that has `STEAM_SPARK_REMOTE` attaches to this server instead of starting
a driver of its own (~10 s and a 1 GiB heap per step saved; `benchmarks/RESULTS.md`). One command
for every deployment: the local stack runs it under its supervisor (`stack up`), the Kubernetes
chart as the `spark-connect` Deployment in front of its standalone cluster, compose as the
`spark-connect` service. Its conf is `streaming/connect_server.py`'s, from the platform's settings:

- `SPARK_MASTER` (`local[2]`, or the cluster whose executors run the work), `SPARK_DRIVER_MEMORY`,
  `SPARK_DRIVER_HOST`/`SPARK_DRIVER_BIND_ADDRESS` (where the cluster's executors reach this driver),
  `STEAM_SPARK_JARS` (the Kafka and S3A connector jars);
- the lake's `S3_ENDPOINT_URL`, `AWS_REGION`, `S3_PATH_STYLE`; the key pair stays in the
  environment (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), which Spark copies into the Hadoop
  configuration when the server's context starts: never on a command line or in the conf file.

It writes the conf file (mode 0600) into `--work-dir` and replaces itself with `spark-submit`, so a
supervisor or Kubernetes watches the server's own process and a signal reaches the JVM.
`--conf KEY=VALUE` (repeatable) overrides a setting, e.g. dynamic allocation on a shared cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from steam_platform.core.settings import LakeSettings, SettingsError, SparkSettings
from streaming import worker_forkserver
from streaming.connect_server import (
    DEFAULT_PORT,
    is_local_master,
    properties_text,
    server_conf,
    spark_home,
    submit_argv,
    write_conf_file,
)
from streaming.spark_session import (
    MissingConnectorJarsError,
    connector_jars_from_env,
    driver_address_conf,
    s3a_conf,
)


class ConnectServerConfigError(ValueError):
    """A `--conf` argument that is not `KEY=VALUE`."""


#: The parts of pyspark's Spark the server's launch needs (its `python/` is left out, see below).
SPARK_PARTS = ("bin", "jars", "sbin", "conf")


def launch_spark_home(home: Path, work: Path) -> Path:
    """A view of `home` (symlinks to its Spark parts) without pyspark's zipped sources.

    Spark puts `$SPARK_HOME/python/lib/pyspark.zip` first on the path of every Python worker it
    starts. Python caches no bytecode for modules imported from a zip, so each worker compiles
    PySpark's sources again: about 0.7 s for the `foreachBatch` worker the server starts for every
    streaming query (bronze's landing), measured here. Launched from this view, which has no
    `python/`, the workers import the installed (compiled) PySpark of the server's interpreter.
    """
    view = work / "spark-home"
    view.mkdir(mode=0o700, parents=True, exist_ok=True)
    for part in SPARK_PARTS:
        target, link = home / part, view / part
        if target.exists() and not link.is_symlink():
            link.symlink_to(target, target_is_directory=True)
    return view


def parse_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """`["k=v", ...]` -> `{k: v}`; a pair without `=` is an error that names it."""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConnectServerConfigError(f"--conf expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value
    return overrides


def build_conf(port: int, bind_address: str, scratch: Path, overrides: dict[str, str]) -> dict[str, str]:
    """The server's conf from the process environment's platform settings (no secret in it)."""
    spark = SparkSettings.from_process_environment()
    lake = LakeSettings.from_process_environment()
    jars = connector_jars_from_env()  # all there, or a clear error: no server without Kafka and S3A
    return server_conf(
        port=port,
        bind_address=bind_address,
        master=spark.master,
        driver_memory=spark.driver_memory,
        jars=jars,
        s3a=s3a_conf(endpoint_url=lake.endpoint_url, region=lake.region, path_style=lake.path_style_access),
        scratch=scratch,
        python=sys.executable,
        driver_address=driver_address_conf(spark.driver_host, spark.driver_bind_address),
        overrides=overrides,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m steam_platform.spark_connect_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"gRPC port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--bind", default="127.0.0.1", help="address gRPC listens on (default 127.0.0.1; 0.0.0.0 in a pod)"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="conf file and the driver's scratch space (default: a new temp folder)"
    )
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    parser.add_argument("--print-conf", action="store_true", help="print the conf and exit (no secret in it)")
    args = parser.parse_args(argv)
    if args.work_dir:
        work = args.work_dir
    elif args.print_conf:  # prints the conf a server would get; creates no folder
        work = Path(tempfile.gettempdir()) / "spark-connect-<new folder>"
    else:
        work = Path(tempfile.mkdtemp(prefix="spark-connect-"))
    scratch = work / "tmp"
    try:
        conf = build_conf(args.port, args.bind, scratch, parse_overrides(args.conf))
    except (ConnectServerConfigError, MissingConnectorJarsError, SettingsError) as exc:
        parser.error(str(exc))
    if args.print_conf:
        print(properties_text(conf), end="")
        return
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    home = launch_spark_home(spark_home(), work)
    command = submit_argv(home, write_conf_file(work, conf), conf["spark.driver.memory"])
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    if is_local_master(conf["spark.master"]):  # the workers run on this host: fork them ready-made
        env["PYSPARK_PYTHON"] = str(worker_forkserver.start(work, sys.executable))
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
