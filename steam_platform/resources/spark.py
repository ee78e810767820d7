"""The `pyspark` resource: a capped local Spark session that reads and writes the S3 lake and Kafka.

Assets that run Spark (bronze ingestion from Kafka, warehouse and mart builds) ask for `pyspark`
and get dagster-pyspark's `PySparkResource` with the platform's settings: `local[2]` with a capped
driver heap, the connector jars by path (Kafka source, S3A), dynamic partition overwrite, UTC,
and S3A pointed at the lake's store.

`master` may instead be a standalone cluster (`spark://host:port`, e.g. the local stack's
`SPARK_MASTER` with `stack up --spark-cluster`). The run's process is then the driver (client
mode) and the tasks run on the cluster's executors, which receive the connector jars from the
driver (`spark.jars`) and the S3 keys inside their tasks' Hadoop configuration (see
`streaming/spark_session.py`); `python` names the interpreter executors run
(`spark.pyspark.python`), locally this very one, so they import the same packages. The driver
listens on 127.0.0.1 (`spark.driver.host`/`bindAddress`): a cluster on other machines needs both
set (`extra_conf`) to an address its executors can reach.

With `STEAM_SPARK_REMOTE` (`stack up` sets it by default) runs attach to a Spark Connect server
instead of starting a driver, and fall back to the in-process driver when it does not answer.

`LakePySparkResource` adds how the S3 part is configured: from the nested `S3Resource`,
resolved at run time (production fills it with `dg.EnvVar`), and with the access key pair put into
the running session's Hadoop configuration, never into `spark_config` (shown in Dagster's UI) nor
on the driver's command line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource
from pydantic import Field, PrivateAttr

from steam_platform.core.settings import LakeSettings, SparkSettings, credentials_withheld
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.scrubbed_pipes import ScrubbedPipesSubprocessClient
from streaming import s3_access
from streaming.connect_session import ConnectUnavailableError, attach, is_connect, session_conf
from streaming.environment import DEFAULT_DRIVER_MEMORY, DEFAULT_SPARK_MASTER
from streaming.spark_session import PYSPARK_PYTHON_CONF, local_session_conf, session_from_conf

APP_NAME = "steam-platform"
logger = logging.getLogger(__name__)


class MissingSparkJarsError(RuntimeError):
    """A connector jar in `spark.jars` does not exist (the stack's install step did not run)."""


class LakePySparkResource(PySparkResource):
    """`PySparkResource` whose S3A settings and credentials come from the lake's `S3Resource`.

    With `remote` set (`STEAM_SPARK_REMOTE`, a Spark Connect server), the run's session is a new
    session on that server, with the platform's per-session SQL settings; the lake's S3 settings
    and keys are registered for the run's own Python-side file operations (`streaming/s3_access.py`)
    and never sent to the server. When the server does not answer within `remote_timeout_s`, the
    run starts its in-process driver as before and logs a WARNING saying why. The session starts
    when a step first asks for it. Every platform step runs on either kind, bronze's landing
    included (`streaming/bronze_connect.py`).
    """

    s3: S3Resource
    remote: str | None = Field(
        default=None, description="Spark Connect server (sc://host:port) to attach to; None: in-process."
    )
    remote_timeout_s: float = Field(
        default=15.0, description="Seconds to wait for the Connect server before starting a driver."
    )
    _log: logging.Logger | None = PrivateAttr(default=None)

    def session_conf(self) -> dict[str, str]:
        """The full Spark conf: S3A settings from `s3`, overridden by `spark_config`."""
        return {**self.s3.spark_hadoop_conf(), **{k: str(v) for k, v in self.spark_config.items()}}

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Check the connector jars (a driver needs them); the session itself starts on first use."""
        self._log = context.log if isinstance(context.log, logging.Logger) else None
        self._spark_session = None
        if not self.remote:
            self._check_jars(self.session_conf())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """A Connect session is released on the server (its cached data, temporary views); an
        in-process driver is left to the process, as before."""
        spark = self._spark_session
        if spark is not None and is_connect(spark):
            s3_access.forget(spark)
            spark.stop()
        self._spark_session = None

    @property
    def spark_session(self) -> Any:
        """The step's session: on the Connect server when `remote` is set and answers."""
        return self.session()

    def session(self) -> Any:
        """The step's session, started on first use: attached when `remote` answers, else in-process."""
        if self._spark_session is None:
            attached = self._attach() if self.remote else None
            self._spark_session = attached if attached is not None else self._in_process()
        return self._spark_session

    def _attach(self) -> Any | None:
        """A session on the Connect server, or None (with a WARNING naming why) when unavailable."""
        assert self.remote is not None
        try:
            spark = attach(self.remote, session_conf(self.session_conf()), timeout_s=self.remote_timeout_s)
        except ConnectUnavailableError as exc:
            self._warn(f"Spark Connect unavailable, starting an in-process driver instead: {exc}")
            return None
        keys = self.s3.spark_credentials()  # the pair, or nothing (the AWS default chain)
        s3_access.register(
            spark,
            s3_access.S3Access(
                endpoint_url=self.s3.endpoint_url or None,
                region=self.s3.region,
                path_style=self.s3.path_style,
                access_key=keys.get("fs.s3a.access.key"),
                secret_key=keys.get("fs.s3a.secret.key"),
            ),
        )
        if self._log is not None:
            self._log.info(f"attached to Spark Connect at {self.remote}")
        return spark

    def _warn(self, message: str) -> None:
        (self._log or logger).warning(message)

    def _in_process(self) -> Any:
        conf = self.session_conf()
        self._check_jars(conf)
        secrets = self.s3.spark_credentials()
        # With the key pair in its Hadoop configuration, the driver's JVM need not inherit it from
        # this process's environment (where the local wiring may have copied it for its EnvVars).
        withheld = LakeSettings.credential_names() if secrets else []
        with credentials_withheld(withheld):
            return session_from_conf(conf, hadoop_secrets=secrets)

    @staticmethod
    def _check_jars(conf: Mapping[str, str]) -> None:
        """Fail before Spark starts when a connector jar is not configured or not there."""
        jars_env = SparkSettings.env_name("jars")
        if not conf.get("spark.jars"):
            raise MissingSparkJarsError(
                f"no Spark connector jars are configured: set {jars_env} (colon-separated paths "
                "or a folder of jars), or run `steam-platform stack up` locally"
            )
        missing = [j for j in conf.get("spark.jars", "").split(",") if j and not Path(j).is_file()]
        if missing:
            raise MissingSparkJarsError(
                f"{len(missing)} Spark connector jar(s) are missing, e.g. {missing[0]}: "
                f"run `steam-platform stack install` (or set {jars_env})"
            )


def build_pyspark_resource(
    s3: S3Resource,
    *,
    jars: Sequence[str],
    master: str = DEFAULT_SPARK_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    extra_conf: Mapping[str, str] | None = None,
    python: str | None = None,
    remote: str | None = None,
) -> LakePySparkResource:
    """The `pyspark` resource for `s3`'s lake with the connector `jars` (paths) on the classpath.

    `python`: the executors' interpreter (`spark.pyspark.python`); None leaves PySpark's choice
    (`PYSPARK_PYTHON`, else `python3`). `remote`: a Spark Connect server runs attach to first.
    """
    conf = {PYSPARK_PYTHON_CONF: python} if python else {}
    spark_config = local_session_conf(
        APP_NAME, master=master, driver_memory=driver_memory, jars=jars, conf={**conf, **(extra_conf or {})}
    )
    return LakePySparkResource(spark_config=dict(spark_config), s3=s3, remote=remote or None)


def build_pipes_client(
    *,
    jars: Sequence[str],
    master: str = DEFAULT_SPARK_MASTER,
    driver_memory: str = DEFAULT_DRIVER_MEMORY,
    python: str | None = None,
    driver_host: str | None = None,
    driver_bind_address: str | None = None,
) -> ScrubbedPipesSubprocessClient:
    """The `pipes_subprocess` resource: launches `spark-submit` jobs with the lake's Spark settings.

    Its environment carries the same connector jars, master, driver memory and driver address as
    the `pyspark` resource, under the settings' variable names (`SparkSettings`; no secret:
    credentials are passed per run), and the Python of this process for the PySpark driver, so the
    job finds `dagster-pipes`. Termination of the Dagster run sends SIGINT to the job. The job's
    stdout and stderr reach the step's logs scrubbed (`ScrubbedPipesSubprocessClient`).
    """
    name = SparkSettings.env_name
    return ScrubbedPipesSubprocessClient(
        env={
            name("jars"): ":".join(jars),
            name("master"): master,
            name("driver_memory"): driver_memory,
            "PYSPARK_PYTHON": python or sys.executable,
            **({name("driver_host"): driver_host} if driver_host else {}),
            **({name("driver_bind_address"): driver_bind_address} if driver_bind_address else {}),
        },
        forward_termination=True,
    )
