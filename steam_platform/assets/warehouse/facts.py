"""The warehouse's fact tables: which source each is built from, and how.

Each `FactSpec` joins a table contract (`tables.py`), its source (`steam_platform/core/sources.py`,
which lists the table among its `silver_tables`) and the Spark functions of `streaming/warehouse.py`
that build days of it (one, or a backfill's range as one plan) and select the bronze rows those days
must reconcile with. The fact assets
(`assets.py`) and their quality rules (`quality.py`) are derived from `FACTS`; a new source's fact
table is one more entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from steam_platform.assets.warehouse.tables import FACT_NEWS, FACT_PLAYER_COUNTS, FACT_PLAYTIME
from steam_platform.core import sources
from steam_platform.core.contracts import Table
from steam_platform.core.sources import SteamSource
from streaming import warehouse
from streaming.envelope_schema import BRONZE_SCHEMA
from streaming.lake_paths import bronze_path
from streaming.tables_io import read_days, read_days_from, read_table


@dataclass(frozen=True)
class FactSpec:
    """How a fact table is built from its source's bronze rows, and which column must be >= 0."""

    table: Table
    source: SteamSource
    #: The table's rows for some days, from bronze rows holding them (`bronze_of_days`).
    build_days: Callable[[DataFrame, Sequence[date]], DataFrame]
    #: The bronze rows those days are built from (what each must reconcile with), each row with
    #: its fact day in `streaming.warehouse.FACT_DAY`.
    selection: Callable[[DataFrame, Sequence[date]], DataFrame]
    non_negative: str

    def bronze_of_days(self, spark: SparkSession, lake_root: str, days: Sequence[date]) -> DataFrame:
        """The bronze days a build of `days` needs (`selection` picks its rows among them): those
        days, or from the first on when the source's days are publication days (news observed
        later belongs to the day it was published). A range is read once, not once per day."""
        path = bronze_path(lake_root, self.topic)
        if self.source.days_by_publication:
            return read_days_from(spark, path, BRONZE_SCHEMA, min(days))
        return read_days(spark, path, BRONZE_SCHEMA, days)

    def bronze(self, spark: SparkSession, lake_root: str, day: date) -> DataFrame:
        """The bronze days a build of `day` alone needs."""
        return self.bronze_of_days(spark, lake_root, [day])

    def build(self, bronze: DataFrame, day: date) -> DataFrame:
        """The table's rows of `day` alone."""
        return self.build_days(bronze, [day])

    @property
    def topic(self) -> str:
        """The Kafka topic (and bronze dataset) the table is built from."""
        return self.source.topic


def _facts(*specs: FactSpec) -> dict[str, FactSpec]:
    return {spec.table.name: spec for spec in specs}


#: fact table name -> how it is built.
FACTS: dict[str, FactSpec] = _facts(
    FactSpec(
        FACT_PLAYER_COUNTS,
        sources.PLAYER_COUNTS,
        warehouse.fact_player_counts_of_days,
        warehouse.events_observed_on,
        "player_count",
    ),
    FactSpec(FACT_NEWS, sources.NEWS, warehouse.fact_news_of_days, warehouse.news_published_on, "word_count"),
    FactSpec(
        FACT_PLAYTIME,
        sources.PLAYTIME,
        warehouse.fact_playtime_of_days,
        warehouse.events_observed_on,
        "playtime_forever",
    ),
)


def read_bronze(spark: SparkSession, lake_root: str, topic: str) -> DataFrame:
    """The topic's whole bronze dataset (the app dimension's history; facts read `FactSpec.bronze`)."""
    return read_table(spark, bronze_path(lake_root, topic), BRONZE_SCHEMA)
