"""The declarative automation after the warehouse, evaluated the way the daemon evaluates it.

`marts_automation_sensor` and `search_automation_sensor` target the marts and search groups.
Today's partitions are left to `lake_refresh_sensor` (one run per poll); a past day whose
upstream changed is refreshed at most once per clock hour, never while the upstream's blocking
checks fail, and a failing partition is not requested again on every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from steam_platform.assets.marts.definitions import marts_automation_sensor
from steam_platform.assets.search.definitions import search_automation_sensor
from steam_platform.core.constants import GROUP_MARTS, GROUP_SEARCH
from steam_platform.core.settings import ScheduleSettings

UPSTREAM = {
    "search_game_daily": "mart_game_daily",
    "search_top_games": "mart_top_games",
    "search_news_impact": "mart_news_impact",
    "search_player_count_gaps": "mart_player_count_gaps",
    "search_news": "fact_news",
}
SEARCH = dg.AssetSelection.groups(GROUP_SEARCH) - dg.AssetSelection.assets("kibana_saved_objects")
START = datetime.now(UTC).replace(hour=10, minute=30, second=0, microsecond=0)
TODAY = START.date().isoformat()
PAST = (START.date() - timedelta(days=5)).isoformat()


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from steam_platform.definitions import defs

    return defs


class Ticks:
    """Successive automation evaluations on one instance, like the daemon's sensor ticks."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance = defs, instance
        self.cursor = None

    def at(self, moment: datetime) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(
            self.defs, self.instance, asset_selection=SEARCH, evaluation_time=moment, cursor=self.cursor
        )
        self.cursor = result.cursor
        requested: dict[str, set[str]] = {}
        for entity in result.results:
            if entity.true_subset.size:
                keys = entity.true_subset.expensively_compute_partition_keys() or set()
                requested[entity.key.to_user_string()] = set(keys)
        return requested


def _check(instance: dg.DagsterInstance, key: str, check: str, partition: str, passed: bool) -> None:
    """A check result for a partition (runless events allow one per check and partition)."""
    seen: set[tuple[str, str, str]] = instance.__dict__.setdefault("_checks_reported", set())
    if (key, check, partition) in seen:
        return
    seen.add((key, check, partition))
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(key), check_name=check, passed=passed, blocking=True, partition=partition
        )
    )


def _materialise(
    instance: dg.DagsterInstance, key: str, partition: str, failing: tuple[str, ...] = ()
) -> None:
    """A materialisation of `key`'s partition, then its blocking checks' results (as a run reports):
    passed, except those named in `failing`."""
    from steam_platform.definitions import defs

    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key, partition=partition))
    for spec in defs.resolve_assets_def(key).check_specs:
        if spec.blocking and spec.asset_key == dg.AssetKey(key):
            _check(instance, key, spec.name, partition, passed=spec.name not in failing)


@pytest.mark.parametrize(
    ("sensor", "group"), [(marts_automation_sensor, GROUP_MARTS), (search_automation_sensor, GROUP_SEARCH)]
)
def test_each_layer_sensor_runs_by_default_over_its_layer(
    defs: dg.Definitions, sensor: dg.AutomationConditionSensorDefinition, group: str
) -> None:
    assert defs.resolve_sensor_def(sensor.name) is sensor
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    # Evaluated every 5 minutes by default: the conditions act at most hourly, and each tick costs
    # the daemon CPU over every partition of the layer (issue #17's CPU target).
    assert sensor.minimum_interval_seconds == ScheduleSettings.load().automation_interval_s == 300
    graph = defs.resolve_asset_graph()
    targeted = sensor.asset_selection.resolve(graph)  # type: ignore[union-attr]
    expected = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == group}
    assert targeted == expected
    for key in targeted:
        assert graph.get(key).automation_condition is not None


@pytest.mark.parametrize("search_key", sorted(UPSTREAM))
def test_a_past_day_follows_its_upstream_at_most_hourly_and_today_is_left_to_the_lake_run(
    defs: dg.Definitions, search_key: str
) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        ticks = Ticks(defs, instance)
        assert ticks.at(START) == {}
        for partition in (TODAY, PAST):
            _materialise(instance, UPSTREAM[search_key], partition)
        assert ticks.at(START + timedelta(minutes=5)) == {}  # same hour as the last evaluation
        assert ticks.at(START + timedelta(minutes=31)) == {search_key: {PAST}}  # 11:01: next hour
        _materialise(instance, search_key, PAST)  # its run indexed the day
        assert ticks.at(START + timedelta(minutes=35)) == {}
        _materialise(instance, UPSTREAM[search_key], PAST)  # rebuilt again in the same hour
        assert ticks.at(START + timedelta(minutes=45)) == {}
        assert ticks.at(START + timedelta(minutes=91)) == {search_key: {PAST}}  # 12:01


def test_a_mart_whose_blocking_check_failed_is_not_indexed(defs: dg.Definitions) -> None:
    """Dagster 1.13 judges blocking checks by their latest execution, whatever its partition: a
    failure holds back every past day until the mart passes again (the search asset also refuses
    a partition whose own mart run failed a blocking check; see test_automation_daemon.py)."""
    with dg.DagsterInstance.ephemeral() as instance:
        ticks = Ticks(defs, instance)
        ticks.at(START)
        other = (START.date() - timedelta(days=6)).isoformat()
        _materialise(instance, "mart_game_daily", other)
        _materialise(instance, "mart_game_daily", PAST, failing=("unique_key",))
        assert "search_game_daily" not in ticks.at(START + timedelta(minutes=31))
        assert "search_game_daily" not in ticks.at(START + timedelta(minutes=91))


def test_a_requested_partition_is_not_requested_again_on_every_tick(defs: dg.Definitions) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        ticks = Ticks(defs, instance)
        ticks.at(START)
        _materialise(instance, "fact_news", PAST)
        assert ticks.at(START + timedelta(minutes=31)) == {"search_news": {PAST}}
        # Its run failed (nothing materialised): later ticks, even past the next hour, wait for
        # the upstream to change again.
        for minutes in (32, 40, 95, 155):
            assert ticks.at(START + timedelta(minutes=minutes)) == {}
