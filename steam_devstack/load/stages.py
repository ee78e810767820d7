"""The load's way through the lake and search, with the platform's own functions, into the run's own root.

The same code the platform's assets run, called directly so it can be pointed at the run's topics,
lake root and aliases (the assets' topics and paths are the platform's own):

- bronze: `streaming.bronze.run_bronze` per topic (`availableNow`, checkpoint, quarantine), in
  micro-batches of `plan.bronze_batch` records, so memory is bounded and progress is live;
- warehouse: each fact table's `FactSpec` (`assets/warehouse/facts.py`, its source's topic replaced
  by the run's) builds each day of the window from the bronze days it reads, conformed to the
  contract and written with dynamic partition overwrite (`write_days`), a day at a time;
- marts: `mart_game_daily` per day, as its asset builds it (player counts, news posts, app names);
- search: `indexer.sync` of `mart_game_daily` and of the news facts (`steam_news`) under the run's
  aliases; the first sync of a new alias is a full refresh of every day in the lake, as in a run.

Each stage reports rows, seconds and the bytes it wrote (Parquet files, or the index store).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from pyspark.sql import SparkSession

from steam_devstack.load.plan import LoadPlan
from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search import indexer, reader
from steam_platform.assets.search.templates import IndexSpec
from steam_platform.assets.warehouse.facts import FACTS, FactSpec
from steam_platform.assets.warehouse.tables import DIM_APP, FACT_NEWS, FACT_PLAYER_COUNTS
from steam_platform.core import sources
from steam_platform.core.contracts import Table
from steam_platform.core.spark_schemas import spark_schema, written_schema
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.kafka import KafkaResource
from streaming import marts
from streaming.bronze import BronzeJob, run_bronze
from streaming.hadoop_fs import parquet_stats
from streaming.tables_io import conform, read_days, read_table, write_days

Progress = Callable[[int], None]


@dataclass
class StageResult:
    """One stage of the load: rows it wrote, how long it took, how many bytes."""

    name: str
    rows: int
    seconds: float
    bytes: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows_per_s, 1),
            "bytes": self.bytes,
            "mb_per_s": round(self.mb_per_s, 3),
            **self.detail,
        }


def land_bronze(
    spark: SparkSession, plan: LoadPlan, kafka: KafkaResource, lake_root: str, on_rows: Progress
) -> StageResult:
    """Land both topics to bronze (and quarantine) with the bronze job the lake runs use."""
    started = time.monotonic()
    rows = quarantined = files = written = 0
    for topic in plan.topics:
        job = BronzeJob(
            topic=topic,
            bootstrap_servers=kafka.bootstrap_servers,
            lake_root=lake_root,
            kafka_options=kafka.spark_options(),
            writer=f"steam-platform load {plan.run_id}",
            max_offsets_per_trigger=plan.bronze_batch,
        )
        stats = run_bronze(
            spark, job, on_batch_landed=lambda _, batch: on_rows(batch.rows + batch.quarantined)
        )
        rows += stats.rows_landed
        quarantined += stats.rows_quarantined
        files += stats.files.files
        written += stats.files.bytes
    seconds = time.monotonic() - started
    return StageResult("bronze", rows, seconds, written, {"quarantined": quarantined, "files": files})


def fact_specs(plan: LoadPlan) -> list[FactSpec]:
    """The platform's player-count and news fact specs, reading the run's topics' bronze."""
    topics = {sources.PLAYER_COUNTS: plan.players_topic, sources.NEWS: plan.news_topic}
    return [
        replace(spec, source=replace(spec.source, topic=topics[spec.source]))
        for spec in FACTS.values()
        if spec.source in topics
    ]


def _table_bytes(spark: SparkSession, table: Table, lake_root: str) -> int:
    return parquet_stats(spark, f"{table.path(lake_root)}/dt=*").bytes


def build_warehouse(spark: SparkSession, plan: LoadPlan, lake_root: str, on_rows: Progress) -> StageResult:
    """Every day of the window of `fact_player_counts` and `fact_news`, as their assets build them."""
    started = time.monotonic()
    rows, specs = 0, fact_specs(plan)
    for spec in specs:
        for day in plan.days:
            built = conform(spec.build(spec.bronze(spark, lake_root, day), day), spark_schema(spec.table))
            written = write_days(spark, built, spec.table.path(lake_root), [day])
            rows += written
            on_rows(written)
    seconds = time.monotonic() - started
    size = sum(_table_bytes(spark, spec.table, lake_root) for spec in specs)
    return StageResult("warehouse", rows, seconds, size, {"days": len(plan.days)})


def build_marts(spark: SparkSession, plan: LoadPlan, lake_root: str, on_rows: Progress) -> StageResult:
    """`mart_game_daily` for every day of the window, as its asset builds a day."""
    started = time.monotonic()
    apps = read_table(spark, DIM_APP.path(lake_root), written_schema(DIM_APP))
    rows = 0
    for day in plan.days:
        counts = _day(spark, FACT_PLAYER_COUNTS, lake_root, day)
        news = _day(spark, FACT_NEWS, lake_root, day)
        built = conform(marts.mart_game_daily(counts, news, apps, day), spark_schema(MART_GAME_DAILY))
        written = write_days(spark, built, MART_GAME_DAILY.path(lake_root), [day])
        rows += written
        on_rows(written)
    seconds = time.monotonic() - started
    size = _table_bytes(spark, MART_GAME_DAILY, lake_root)
    return StageResult("marts", rows, seconds, size, {"days": len(plan.days)})


def _day(spark: SparkSession, table: Table, lake_root: str, day: date) -> Any:
    return read_days(spark, table.path(lake_root), written_schema(table), [day])


def index_search(
    es: SearchClient,
    elasticsearch: ElasticsearchResource,
    store: reader.LakeStore,
    plan: LoadPlan,
    lake_root: str,
    on_rows: Progress,
) -> StageResult:
    """Index the mart and the news facts under the run's aliases, day by day as the search assets do."""
    started = time.monotonic()
    fs, docs, size = store.filesystem(), 0, 0
    for spec in (plan.game_daily_index, plan.news_index):
        docs += _sync_days(es, elasticsearch, fs, spec, plan, lake_root, on_rows)
    for spec in (plan.game_daily_index, plan.news_index):
        stats = es.perform("GET", f"/{spec.alias}/_stats/store")
        size += int(stats["_all"]["primaries"]["store"]["size_in_bytes"])
    seconds = time.monotonic() - started
    return StageResult(
        "search", docs, seconds, size, {"aliases": [plan.game_daily_index.alias, plan.news_index.alias]}
    )


def _sync_days(
    es: SearchClient,
    elasticsearch: ElasticsearchResource,
    fs: Any,
    spec: IndexSpec,
    plan: LoadPlan,
    lake_root: str,
    on_rows: Progress,
) -> int:
    """Sync each day of `spec`'s table; a full refresh (the alias's first sync) covers them all."""
    indexed = 0
    for day in plan.days:
        report = indexer.sync(
            es,
            spec,
            day.isoformat(),
            load=lambda dt: reader.to_documents(
                reader.read_partition(fs, lake_root, spec.table, dt), spec.fields
            ),
            list_partitions=lambda: reader.list_partitions(fs, lake_root, spec.table),
            replicas=elasticsearch.index_replicas,
            retry=elasticsearch.retry_settings(),
        )
        indexed += report.docs_indexed
        on_rows(report.docs_indexed)
        if report.mode != "partition":
            break  # a full refresh indexed every day in the lake
    return indexed
