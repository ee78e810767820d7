"""The marts' partition mappings: which silver days a mart day reads (what a backfill waits for)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from steam_platform.core.cadence import PIPELINE_LAG
from steam_platform.core.partitions import daily_partitions
from steam_platform.definitions import defs

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _upstream_days(downstream: str, upstream: str, day: str) -> tuple[list[str], list[str]]:
    graph = defs.resolve_asset_graph()
    mapping = graph.get(dg.AssetKey(downstream)).partition_mappings.get(dg.AssetKey(upstream))
    mapping = mapping or dg.IdentityPartitionMapping()
    result = mapping.get_upstream_mapped_partitions_result_for_partitions(
        daily_partitions.empty_subset().with_partition_keys([day]),
        daily_partitions,
        daily_partitions,
        current_time=NOW,
    )
    return sorted(result.partitions_subset.get_partition_keys()), sorted(
        result.required_but_nonexistent_subset.get_partition_keys()
    )


@pytest.mark.parametrize(
    ("downstream", "upstream", "day", "days"),
    [
        ("mart_top_games", "mart_game_daily", "2026-10-02", ["2026-10-01", "2026-10-02"]),
        ("mart_news_impact", "fact_player_counts", "2026-10-02", ["2026-10-01", "2026-10-02", "2026-10-03"]),
        ("mart_news_impact", "fact_news", "2026-10-02", ["2026-10-02"]),
        ("mart_game_daily", "fact_player_counts", "2026-10-02", ["2026-10-02"]),
        ("mart_game_daily", "dim_app", "2026-10-02", ["2026-10-02"]),
        # Edges of the range: no day before the first partition, no day after today.
        ("mart_top_games", "mart_game_daily", "2026-10-01", ["2026-10-01"]),
        ("mart_news_impact", "fact_player_counts", "2026-11-25", ["2026-11-24", "2026-11-25"]),
    ],
)
def test_mart_reads_the_days_it_needs(downstream: str, upstream: str, day: str, days: list[str]) -> None:
    mapped, missing = _upstream_days(downstream, upstream, day)
    assert mapped == days
    assert missing == []  # nonexistent neighbours are allowed, not required


def test_lake_lineage() -> None:
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
        for k in graph.get_all_asset_keys()
    }
    assert parents["bronze_apps"] == ["app_catalog", "app_details"]
    assert parents["bronze_player_counts"] == ["player_counts"]
    assert parents["fact_news"] == ["bronze_news"]
    assert parents["mart_game_daily"] == ["dim_app", "fact_news", "fact_player_counts"]
    assert parents["mart_top_games"] == ["mart_game_daily"]
    for key in ("fact_player_counts", "fact_news", "dim_app", "fact_playtime"):
        assert graph.get(dg.AssetKey(key)).partitions_def == daily_partitions
        assert graph.get(dg.AssetKey(key)).group_name == "warehouse"


#: Every layer's promise: one source cadence + the pipeline lag warns, two cadences fail.
CADENCE_OF = {
    "bronze_player_counts": timedelta(minutes=10),
    "fact_player_counts": timedelta(minutes=10),
    "mart_game_daily": timedelta(minutes=10),
    "mart_news_impact": timedelta(minutes=10),
    "mart_top_games": timedelta(minutes=10),
    "search_game_daily": timedelta(minutes=10),
    "search_top_games": timedelta(minutes=10),
    "search_news_impact": timedelta(minutes=10),
    "bronze_playtime": timedelta(hours=1),
    "fact_playtime": timedelta(hours=1),
    "bronze_news": timedelta(days=1),
    "fact_news": timedelta(days=1),
    "search_news": timedelta(days=1),
    "bronze_apps": timedelta(days=1),
    "dim_app": timedelta(days=1),
}


def test_every_layer_after_ingest_promises_freshness_by_its_source_cadence() -> None:
    assert os.environ.get("STEAM_POLL_INTERVAL_MINUTES", "10") == "10"
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    for key, cadence in CADENCE_OF.items():
        policy = specs[key].freshness_policy
        assert isinstance(policy, dg.FreshnessPolicy), key
        assert policy.warn_window is not None
        assert policy.warn_window.to_timedelta() == cadence + PIPELINE_LAG, key
        assert policy.fail_window.to_timedelta() == 2 * cadence + PIPELINE_LAG, key
