"""History in a real lake: written into bronze on the object store, read by the platform's own
reconciliation and warehouse as landed rows are, and untouched by a real landing after it.

Two days of five apps go into a fresh bucket; then two real polls of one app arrive through Kafka
(one for a slot history already holds, one for a new slot) and the bronze job lands them. The
offsets reconciliation must pass with the history rows present, the history files must be intact,
and the day's `fact_player_counts` (the platform's asset, blocking checks included) must hold
exactly one typed row per distinct event: every history slot once plus the new one.
"""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
from lake_support import at, materialize_checked, player_count_message, produce
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from steam_devstack.history.bronze_files import HISTORY_BATCH_ID, day_file
from steam_devstack.history.plan import HistoryPlan, HistoryWorld
from steam_devstack.history.run import HistoryTargets, run_history
from steam_platform.assets.lake.bronze import offsets_outcome
from steam_platform.assets.warehouse.assets import fact_assets
from steam_platform.assets.warehouse.tables import FACT_PLAYER_COUNTS
from steam_platform.core import sources
from steam_platform.core.spark_schemas import written_schema
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.spark import LakePySparkResource
from streaming.bronze import BronzeJob, run_bronze
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.lake_paths import bronze_path
from streaming.tables_io import read_table

pytestmark = pytest.mark.integration

PLAN = HistoryPlan(days=2, apps=5, end_date=date(2026, 11, 27))  # days no other lake test uses
SLOTS = 144


def test_history_is_reconciled_and_built_like_landed_rows_and_a_landing_leaves_it_intact(
    spark: SparkSession, fresh_s3, lake_kafka: KafkaResource, pyspark_resource: LakePySparkResource
) -> None:
    s3 = fresh_s3("history")
    topic = sources.PLAYER_COUNTS.topic
    report = run_history(PLAN, HistoryTargets(s3.filesystem(), s3.lake_path(), kafka=None))
    assert report.tallies[topic].rows == 2 * 5 * SLOTS

    day = PLAN.last_day
    appid = HistoryWorld(PLAN).apps[0].appid
    produce(
        lake_kafka,
        [
            player_count_message(
                topic, appid, at(f"{day}T12:00"), 1234
            ),  # a slot history holds: same event_id
            player_count_message(topic, appid, at(f"{day}T12:05"), 1250),  # a slot of its own
        ],
    )
    stats = run_bronze(spark, BronzeJob(topic, lake_kafka.bootstrap_servers, s3.lake_root()))
    assert stats.rows_landed >= 2 and min(stats.batches) >= 0

    outcome = offsets_outcome(spark, s3.lake_root(), topic, stats)
    assert outcome.passed, outcome.message
    for history_day in PLAN.day_list():  # the landing's dynamic overwrite left history alone
        assert (
            pq.read_table(day_file(s3.lake_path(), topic, history_day), filesystem=s3.filesystem()).num_rows
            == 5 * SLOTS
        )
    bronze = read_table(spark, bronze_path(s3.lake_root(), topic), BRONZE_SCHEMA).where(
        F.col("dt") == F.lit(day)
    )
    by_batch = {
        r.history: r.n
        for r in bronze.groupBy((F.col("batch_id") == HISTORY_BATCH_ID).alias("history"))
        .agg(F.count("*").alias("n"))
        .collect()
    }
    assert by_batch[True] == 5 * SLOTS and by_batch[False] >= 2
    assert bronze.where("batch_id = -1 AND kafka_offset IS NOT NULL").count() == 0

    resources = {"s3": s3, "pyspark": pyspark_resource, "kafka": lake_kafka}
    (fact_player_counts,) = [a for a in fact_assets if a.key.to_user_string() == FACT_PLAYER_COUNTS.name]
    materialize_checked([fact_player_counts], resources, [day])  # unique, reconciled with bronze, typed

    facts = read_table(spark, FACT_PLAYER_COUNTS.path(s3.lake_root()), written_schema(FACT_PLAYER_COUNTS))
    ours = facts.where(
        (F.col("dt") == F.lit(day)) & F.col("appid").isin([a.appid for a in HistoryWorld(PLAN).apps])
    )
    assert ours.count() == 5 * SLOTS + 1
    assert ours.select("event_id").distinct().count() == 5 * SLOTS + 1
    noon = ours.where(
        (F.col("appid") == appid) & (F.col("observed_at") == F.lit(at(f"{day}T12:00")))
    ).collect()
    assert [(r.player_count, r.is_live) for r in noon] == [
        (1234, True)
    ]  # the earliest observation of the slot
    assert dict(facts.dtypes)["player_count"] == "bigint"
