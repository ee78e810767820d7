"""A Dagster run's process that attaches to a Spark Connect server and lands a topic into bronze.

A process of its own because PySpark picks its Connect or classic DataFrame API per process (and
the tests' process holds a classic driver). It materialises the platform's bronze asset, built for
`--topic` (the player-count source's asset on a topic of the test's own), into the lake in
`--bucket` with the `pyspark` resource pointed at `--remote`; the run and the asset's blocking
offsets check must succeed. It writes a JSON report: the materialisation's metadata, and whether a
driver JVM ever started in this process (it must not: the landing ran on the server).

`--stale-lease-topic T` then lands topic T with bronze's Connect `foreachBatch` holding a lease
another writer has taken over since: the query must fail in the server's worker before writing.

    python connect_bronze_run.py --remote sc://127.0.0.1:15002 --bucket b --topic t --env env.json \
        --jars a.jar:b.jar --report report.json [--stale-lease-topic t2]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as the child run process: the tests' helpers sit one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lake_support import materialize_checked, s3_for

from steam_platform.assets.lake.bronze import _bronze_asset
from steam_platform.core.sources import PLAYER_COUNTS
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.spark import build_pyspark_resource
from streaming.bronze import BronzeJob, _kafka_stream
from streaming.bronze_connect import ConnectBatchLander
from streaming.checkpoint_lease import LeaseRecord, LeaseTiming, acquire, epoch_name
from streaming.lease_stores import lease_store_for


def land_with_a_lease_taken_over(spark: Any, s3: S3Resource, kafka: KafkaResource, topic: str) -> str:
    """Land `topic` holding a lease whose successor exists; the query's error (empty: none)."""
    job = BronzeJob(topic, kafka.bootstrap_servers, s3.lake_root(), timeout_s=120)
    checkpoint = job.checkpoint_location
    store = lease_store_for(spark, checkpoint)
    lease = acquire(store, checkpoint, "the test's stale writer", LeaseTiming(30, 5))
    try:
        taker = LeaseRecord("the test's new writer", lease.record.epoch + 1, 30)
        assert store.create(epoch_name(taker.epoch), taker.to_bytes()) is not None
        lander = ConnectBatchLander(job.lake_root, topic, checkpoint, lease.record, None)
        query = (
            _kafka_stream(spark, job)
            .writeStream.option("checkpointLocation", checkpoint)
            .foreachBatch(lander)
            .trigger(availableNow=True)
            .start()
        )
        try:
            query.awaitTermination(120)  # raises the query's error
        except Exception as exc:
            return str(exc)
        return ""
    finally:
        lease.release()


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--remote", "--bucket", "--topic", "--env", "--jars", "--report"):
        parser.add_argument(name, required=True)
    parser.add_argument("--stale-lease-topic")
    args = parser.parse_args()
    stack_env = json.loads(Path(args.env).read_text())
    s3 = s3_for(stack_env, args.bucket)
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    pyspark = build_pyspark_resource(s3, jars=args.jars.split(":"), remote=args.remote)
    bronze = _bronze_asset(dataclasses.replace(PLAYER_COUNTS, topic=args.topic))
    result = materialize_checked([bronze], {"s3": s3, "pyspark": pyspark, "kafka": kafka})
    (materialization,) = result.asset_materializations_for_node(bronze.op.name)
    report: dict[str, Any] = {
        "metadata": {k: v.value for k, v in materialization.metadata.items()},
    }
    if args.stale_lease_topic:
        with pyspark.yield_for_execution(_init_context()) as ready:
            report["stale_lease_error"] = land_with_a_lease_taken_over(
                ready.spark_session, s3, kafka, args.stale_lease_topic
            )
    from pyspark import SparkContext

    # No driver JVM in this process: the landing ran on the Connect server.
    report["jvm_started"] = SparkContext._gateway is not None
    Path(args.report).write_text(json.dumps(report, default=str))
    return 0


def _init_context() -> Any:
    import dagster as dg

    return dg.build_init_resource_context()


if __name__ == "__main__":
    sys.exit(main())
