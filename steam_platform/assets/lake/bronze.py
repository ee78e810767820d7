"""Bronze lake: each Kafka topic landed as Parquet on the object store by Spark Structured Streaming.

Every materialisation runs the topic's streaming query with `trigger(availableNow=True)`: it lands
everything that arrived since the checkpoint, then stops. The checkpoint makes landing
exactly-once across runs, crashes and retries; the reconciliation check proves it on the data.

The landing holds the checkpoint's lease while its query runs (`streaming/checkpoint_lease.py`):
when the continuous job (or any other writer) has the topic's checkpoint, the step fails at once
naming that writer, writes nothing, and is retried later (`SPARK_RETRY`, then the next request).
"""

from datetime import date
from typing import Any

import dagster as dg
from dagster_pyspark import PySparkResource
from pyspark.sql import functions as F

from steam_platform.core.cadence import freshness
from steam_platform.core.constants import GROUP_LAKE
from steam_platform.core.settings import SparkSettings
from steam_platform.core.sources import SOURCES, SteamSource
from steam_platform.core.spark_steps import POOL_SPARK, SPARK_RETRY, check_result, session
from steam_platform.core.step_priority import step_priority_tags
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from streaming.bronze import BronzeJob, BronzeStats, run_bronze
from streaming.checkpoint_lease import LeaseTiming
from streaming.envelope_schema import BRONZE_SCHEMA, QUARANTINE_SCHEMA
from streaming.lake_paths import bronze_path, quarantine_path
from streaming.landed_days import landed_days
from streaming.quality import Outcome, kafka_offsets_reconcile, offsets_landed_once
from streaming.tables_io import batch_folders, read_days, read_folders, read_table

CHECK_OFFSETS = "kafka_offsets_reconcile"
#: Metadata key: the silver days this landing changed (ISO dates), read by `lake_refresh_sensor`.
DAYS_LANDED = "days_landed"


def run_metadata(stats: BronzeStats, days: list[date]) -> dict[str, Any]:
    """What one landing did: rows, quarantined rows, offsets per Kafka partition, files, bytes, time,
    and the silver days it changed (what the warehouse must refresh)."""
    return {
        DAYS_LANDED: dg.MetadataValue.json([d.isoformat() for d in days]),
        "rows_landed": stats.rows_landed,
        "rows_quarantined": stats.rows_quarantined,
        "records_read": stats.records_read,
        "batches": len(stats.batches),
        "kafka_offsets": dg.MetadataValue.json({str(p): o for p, o in stats.offsets.items()}),
        "files_written": stats.files.files,
        "bytes_written": stats.files.bytes,
        "duration_s": stats.duration_s,
        "envelope_parser": stats.envelope_parser,
    }


def run_reconciles(stats: BronzeStats) -> Outcome:
    """This run: offsets read (to - from) = records read = rows landed + quarantined."""
    landed = stats.rows_landed + stats.rows_quarantined
    meta = {"offset_span": stats.offset_span, "records_read": stats.records_read, "landed": landed}
    if stats.offset_span == stats.records_read == landed:
        return Outcome(True, f"{stats.topic}: {landed} records read = landed (bronze + quarantine)", meta)
    return Outcome(
        False,
        f"{stats.topic}: Kafka offsets span {stats.offset_span} records, {stats.records_read} read, "
        f"{landed} landed (bronze + quarantine)",
        meta,
    )


def offsets_outcome(spark: Any, lake_root: str, topic: str, stats: BronzeStats) -> Outcome:
    """Every Kafka offset landed exactly once, none missing, at the cost of what this run touched.

    Three parts: this run's counts agree (offsets read = records = rows landed + quarantined); each
    offset it read is in bronze or quarantine once (only the `dt` folders it wrote and its own
    quarantine batches are read: an offset landed again by any batch of that day would be there);
    and it started where bronze's earlier landings stopped (`streaming/landed_offsets.py`, checked
    by the landing itself). By induction, the whole dataset holds each offset once. When no record
    of earlier landings existed (the first landing, or a lake from before the record), the whole
    dataset is reconciled instead, once.
    """
    this_run = run_reconciles(stats)
    if not stats.continuity_known:
        whole = _whole_dataset_reconciles(spark, lake_root, topic)
        message = f"this run: {this_run.message}; whole dataset (no earlier landing recorded): "
        message += whole.message
        return Outcome(this_run.passed and whole.passed, message, {**this_run.metadata, **whole.metadata})
    once = offsets_landed_once(_rows_this_run_touched(spark, lake_root, topic, stats), stats.offsets, topic)
    continues = not stats.continuity_problems
    continuity = (
        "it starts where the last landing stopped"
        if continues
        else "it does not start where the last landing stopped: " + "; ".join(stats.continuity_problems)
    )
    return Outcome(
        this_run.passed and once.passed and continues,
        f"this run: {this_run.message}; its offsets: {once.message}; {continuity}",
        {**this_run.metadata, **once.metadata, "continuity_problems": len(stats.continuity_problems)},
    )


def _rows_this_run_touched(spark: Any, lake_root: str, topic: str, stats: BronzeStats) -> Any:
    """Kafka partition and offset of the rows in the bronze days and quarantine batches the run wrote."""
    cols = ["kafka_partition", "kafka_offset"]
    days = [date.fromisoformat(day) for day in stats.days]
    landed = read_days(spark, bronze_path(lake_root, topic), BRONZE_SCHEMA, days).select(*cols)
    quarantine = quarantine_path(lake_root, topic)
    held = batch_folders(spark, quarantine, stats.batches)
    quarantined = read_folders(spark, quarantine, QUARANTINE_SCHEMA, held).select(*cols)
    return landed.unionByName(quarantined)


def _whole_dataset_reconciles(spark: Any, lake_root: str, topic: str) -> Outcome:
    """Bronze + quarantine of the whole topic hold each Kafka offset once, none missing in between."""
    cols = ["kafka_partition", "kafka_offset"]
    landed = read_table(spark, bronze_path(lake_root, topic), BRONZE_SCHEMA).select(*cols)
    held = read_table(spark, quarantine_path(lake_root, topic), QUARANTINE_SCHEMA).select(*cols)
    return kafka_offsets_reconcile(landed.unionByName(held).where(F.col("kafka_offset").isNotNull()), topic)


def spark_kafka_options(kafka: KafkaResource) -> dict[str, str]:
    """The Java consumer's security settings for the Kafka source (SASL as an escaped JAAS line)."""
    return kafka.spark_options()


def lease_timing() -> LeaseTiming:
    """The checkpoint lease's ttl and heartbeat, from the settings."""
    spark = SparkSettings.load()
    return LeaseTiming(float(spark.bronze_lease_ttl_s), float(spark.bronze_lease_heartbeat_s))


def _bronze_asset(source: SteamSource) -> dg.AssetsDefinition:
    """The source's bronze asset: lands its topic after its ingest assets, fresh per its cadence."""
    name, topic = source.bronze_asset, source.topic

    @dg.asset(
        name=name,
        group_name=GROUP_LAKE,
        deps=list(source.ingest_assets),
        kinds={"spark", "kafka", "s3"},
        pool=POOL_SPARK,
        op_tags=step_priority_tags(name),
        retry_policy=SPARK_RETRY,
        freshness_policy=freshness(source.cadence),
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_OFFSETS,
                asset=name,
                blocking=True,
                description="Kafka offsets read = rows landed (bronze + quarantine), each offset once",
            )
        ],
        description=f"Raw events of `{topic}` landed as Parquet (bronze), partitioned by observation day.",
    )
    def _bronze(
        context: dg.AssetExecutionContext, pyspark: PySparkResource, s3: S3Resource, kafka: KafkaResource
    ) -> dg.MaterializeResult:
        kafka.check_access()  # a refused login or untrusted CA: our message, not Spark's stack trace
        # On the Spark Connect server when runs attach to one (its batches land in the server's
        # Python worker and report back: streaming/bronze_connect.py), else an in-process driver.
        spark = session(pyspark)
        lake_root = s3.lake_root()
        job = BronzeJob(
            topic=topic,
            bootstrap_servers=kafka.bootstrap_servers,
            lake_root=lake_root,
            kafka_options=spark_kafka_options(kafka),
            writer=f"lake run {context.run.run_id} ({name})",
            lease=lease_timing(),
        )
        stats = run_bronze(spark, job)
        context.log.info(f"{topic}: landed {stats.rows_landed} rows, quarantined {stats.rows_quarantined}")
        outcome = offsets_outcome(spark, lake_root, topic, stats)
        days = landed_days(
            spark, lake_root, topic, stats.batches, stats.days, by_publication=source.days_by_publication
        )
        return dg.MaterializeResult(
            metadata={**run_metadata(stats, days), "path": bronze_path(lake_root, topic)},
            check_results=[check_result(CHECK_OFFSETS, outcome)],
        )

    return _bronze


bronze_assets = [_bronze_asset(source) for source in SOURCES]
