"""Search indexing is triggered by mart materialisations: each materialised mart (or fact_news)
partition requests exactly its search asset for that partition on the next sensor tick."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from steam_platform.constants import GROUP_SEARCH
from steam_platform.partitions import daily_partitions
from steam_platform.sensors import search_indexing_sensor

#: Search asset -> the lake table asset it indexes.
UPSTREAM = {
    "search_game_daily": "mart_game_daily",
    "search_top_games": "mart_top_games",
    "search_news_impact": "mart_news_impact",
    "search_news": "fact_news",
}
SEARCH = dg.AssetSelection.groups(GROUP_SEARCH)


def _defs() -> dg.Definitions:
    """The code location's definitions; upstream tables not defined there yet get executable
    stand-ins with the same key and partitions (never run here: materialisations are reported)."""
    from steam_platform.definitions import defs

    graph = defs.resolve_asset_graph()
    defined = {key for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    missing = [
        dg.AssetSpec(key, partitions_def=daily_partitions)
        for key in UPSTREAM.values()
        if dg.AssetKey(key) not in defined
    ]
    if not missing:
        return defs

    @dg.multi_asset(specs=missing, can_subset=True)
    def upstream_tables():  # type: ignore[no-untyped-def]
        raise NotImplementedError("materialisations are reported by the test, never computed")

    return dg.Definitions.merge(defs, dg.Definitions(assets=[upstream_tables]))


def _materialise(instance: dg.DagsterInstance, key: str, partition: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))


def _requested(result: dg.EvaluateAutomationConditionsResult) -> dict[str, set[str]]:
    requested: dict[str, set[str]] = {}
    for run in result.results:
        if run.true_subset.size:
            keys = run.true_subset.expensively_compute_partition_keys() or set()
            requested[run.key.to_user_string()] = set(keys)
    return requested


@pytest.fixture
def defs() -> dg.Definitions:
    return _defs()


def test_the_sensor_targets_the_search_group_and_runs_by_default(defs: dg.Definitions) -> None:
    sensor = defs.get_sensor_def("search_indexing_sensor")
    assert sensor is search_indexing_sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    targeted = sensor.asset_selection.resolve(defs.resolve_asset_graph())  # type: ignore[union-attr]
    assert {k.to_user_string() for k in targeted} == {*UPSTREAM, "kibana_saved_objects"}
    for key in UPSTREAM:
        spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(key))
        assert spec.automation_condition is not None
        assert {d.asset_key.to_user_string() for d in spec.deps} == {UPSTREAM[key]}


@pytest.mark.parametrize("search_key", sorted(UPSTREAM))
def test_a_materialised_partition_requests_only_its_search_asset(
    defs: dg.Definitions, search_key: str
) -> None:
    today = daily_partitions.get_last_partition_key()
    assert today is not None
    backfilled = "2026-10-08"  # an older day, rebuilt by a backfill, is indexed as well
    with dg.DagsterInstance.ephemeral() as instance:
        now = datetime.now(UTC)
        first = dg.evaluate_automation_conditions(defs, instance, asset_selection=SEARCH, evaluation_time=now)
        assert _requested(first) == {}  # nothing materialised upstream: nothing to index

        for partition in (today, backfilled):
            _materialise(instance, UPSTREAM[search_key], partition)
        tick = dg.evaluate_automation_conditions(
            defs, instance, asset_selection=SEARCH, evaluation_time=now, cursor=first.cursor
        )
        assert _requested(tick) == {search_key: {today, backfilled}}

        # Once indexed, the next tick requests nothing more.
        for partition in (today, backfilled):
            _materialise(instance, search_key, partition)
        idle = dg.evaluate_automation_conditions(
            defs, instance, asset_selection=SEARCH, evaluation_time=now, cursor=tick.cursor
        )
        assert _requested(idle) == {}

        # A re-materialised mart partition is re-indexed (and only that partition).
        _materialise(instance, UPSTREAM[search_key], backfilled)
        again = dg.evaluate_automation_conditions(
            defs, instance, asset_selection=SEARCH, evaluation_time=now, cursor=idle.cursor
        )
        assert _requested(again) == {search_key: {backfilled}}
