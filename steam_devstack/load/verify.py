"""Each stage's holdings against what was produced: what exactly is compared.

- bronze: per topic, the landed event ids are exactly the produced ones, each once (`IdCheck`);
  nothing quarantined;
- warehouse: `fact_player_counts` and `fact_news` hold exactly the produced ids, once each; the
  player-count rows with a count equal the live snapshots produced;
- marts: `mart_game_daily` has one row per (app, day) with a snapshot or a post, its `samples` sum
  to the live snapshots and its `news_posts` to the posts produced;
- search: the run's `mart_game_daily` alias holds one document per mart row and Elasticsearch's
  sum of `samples` equals the live snapshots; its `steam_news` alias one document per post.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from steam_devstack.load import counts
from steam_devstack.load.accounting import Comparison, IdCheck, check_ids
from steam_devstack.load.events import Expected
from steam_devstack.load.plan import LoadPlan
from steam_platform.resources.es_client import SearchClient

Checks = tuple[list[IdCheck], list[Comparison]]


def bronze(spark: SparkSession, plan: LoadPlan, lake_root: str, expected: Expected) -> Checks:
    held = sum(counts.quarantined(spark, lake_root, topic) for topic in plan.topics)
    return (
        [
            check_ids(
                "bronze player_counts",
                expected.players,
                counts.bronze_ids(spark, lake_root, plan.players_topic),
            ),
            check_ids("bronze news", expected.news, counts.bronze_ids(spark, lake_root, plan.news_topic)),
        ],
        [Comparison("bronze quarantined records", 0, held)],
    )


def warehouse(spark: SparkSession, lake_root: str, expected: Expected) -> Checks:
    found = counts.warehouse_counts(spark, lake_root)
    return (
        [
            check_ids("fact_player_counts", expected.players, found.players),
            check_ids("fact_news", expected.news, found.news),
        ],
        [Comparison("fact_player_counts rows with a count (live)", expected.live, found.live)],
    )


def marts(spark: SparkSession, lake_root: str, expected: Expected) -> Checks:
    found = counts.mart_counts(spark, lake_root)
    return (
        [],
        [
            Comparison("mart_game_daily rows (app-days)", len(expected.app_days), found.rows),
            Comparison("mart_game_daily samples (live snapshots)", expected.live, found.samples),
            Comparison("mart_game_daily news_posts", expected.news.count, found.news_posts),
        ],
    )


def search(es: SearchClient, plan: LoadPlan, expected: Expected) -> Checks:
    found = counts.search_counts(es, plan.game_daily_index, plan.news_index)
    return (
        [],
        [
            Comparison("search mart_game_daily documents", len(expected.app_days), found.game_daily_docs),
            Comparison("search mart_game_daily samples (sum)", expected.live, found.game_daily_samples),
            Comparison("search steam_news documents", expected.news.count, found.news_docs),
        ],
    )
