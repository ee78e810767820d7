"""Spark's connectors (Kafka source, S3A) as a stack component: resolved jars, no process.

pyspark ships Spark and the Hadoop client but neither the Kafka source of Structured Streaming nor
S3A. `deploy/local/maven/spark/pom.xml` resolves both from Maven Central into the cache (Spark's
own Ivy resolver is not used: it may not reach a registry). Nothing runs: Spark starts inside the
process that builds a session (`local[2]`), which passes these jars by path (`spark.jars`). With the
optional standalone cluster (`stack up --spark-cluster`, `services/spark_cluster.py`) that process
is the driver and serves the same jars to the executors; the workers need no copy.
`STEAM_SPARK_JARS` (colon-separated paths) in the stack's environment points jobs and
`spark-submit` at them. Bronze's envelope parser, compiled here from source with the JDK
(`steam_devstack/spark_udf.py`), sits in the same folder and travels with them.
"""

from __future__ import annotations

from pathlib import Path

from steam_devstack import maven
from steam_devstack.process import ManagedProcess
from steam_devstack.services.base import Service
from steam_devstack.spark_udf import JAR_PREFIX, build_udf_jar

COMPONENT = "spark"
#: The jars a session needs; the list is checked so a half-resolved cache is noticed.
REQUIRED_PREFIXES = ("spark-sql-kafka-0-10_", "kafka-clients-", "hadoop-aws-", "s3-", "sts-", JAR_PREFIX)


def connector_jars() -> list[Path]:
    """Resolve (cached) and return the connector jars and bronze's envelope parser, sorted."""
    folder = maven.resolve(COMPONENT)
    build_udf_jar(folder)
    return sorted(folder.glob("*.jar"))


class SparkConnectors(Service):
    """Install-only entry: `stack install`/`up` resolves the Spark connector jars."""

    name = "spark"

    def processes(self) -> list[ManagedProcess]:
        return []

    def install(self) -> None:
        connector_jars()

    def start(self) -> None:
        """Nothing to start: sessions load the jars themselves."""

    def healthy(self) -> bool:
        """Every required connector jar is in the cache."""
        names = [p.name for p in maven.jars_dir(COMPONENT).glob("*.jar")]
        return all(any(n.startswith(prefix) for n in names) for prefix in REQUIRED_PREFIXES)

    def endpoints(self) -> dict[str, str]:
        return {"STEAM_SPARK_JARS": maven.classpath(COMPONENT)}
