"""`reask_failed_work_sensor` asks failed partitions again with back-off, within the Steam budget,
and gives them up (recorded, counted, alerted) after its tries.

The sensor is the real code location's; the history it judges is real run history on a test
instance, written by stand-ins with the platform's asset keys (`reask_support.py`). Time is moved
by evaluating the sensor at a later `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from reask_support import NEWS_CALLS, run_standin

from steam_platform.assets.lake.refresh_events import (
    LAKE_RUN_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REQUEST_TAG,
)
from steam_platform.assets.operations.reask_failures import (
    ATTEMPT_TAG,
    GIVEN_UP_TAG,
    REASK_OF_TAG,
    State,
    backoff,
    judge,
    lake_handoff,
    read_failed_work,
)
from steam_platform.assets.operations.reask_sensor import evaluate
from steam_platform.assets.operations.reask_targets import NEVER_REASKED, reask_targets
from steam_platform.core.partitions import hourly_partitions
from steam_platform.core.settings import ReaskSettings
from steam_platform.monitoring.exporter import platform_sources, registry_for
from steam_platform.monitoring.reask import reask_metrics
from steam_platform.resources.steam_api import SteamApiResource

DAY = "2026-11-02"
SETTINGS = ReaskSettings.load()
MINUTE = timedelta(minutes=1)


def _defs() -> dg.Definitions:
    from steam_platform.definitions import defs

    return defs


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return _defs().get_repository_def()


def _steam(tmp_path: Path, daily_budget: int = 10_000_000) -> SteamApiResource:
    return SteamApiResource(
        api_base_url="http://127.0.0.1:9",
        budget_state_dir=str(tmp_path / "steam"),
        daily_call_budget=daily_budget,
    )


def _tick(
    instance: dg.DagsterInstance,
    repository: dg.RepositoryDefinition,
    steam: SteamApiResource,
    now: datetime,
    settings: ReaskSettings = SETTINGS,
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, repository_def=repository, resources={"steam": steam}
    )
    return evaluate(context, steam, settings, now=now)


def _requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return list(result.run_requests or [])


def _values(families: list[Metric], name: str) -> dict[str, float]:
    family = next(f for f in families if f.name == name)
    return {s.labels["dagster_job"]: s.value for s in family.samples}


def test_a_failed_news_day_is_asked_again_after_the_back_off_and_not_before(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    failed = run_standin(instance, "news", DAY, fail=True)
    now = datetime.now(UTC)
    steam = _steam(tmp_path)

    early = _tick(instance, repository, steam, now + 9 * MINUTE)
    assert _requests(early) == []
    assert "1 waiting" in str(early.skip_reason)

    (request,) = _requests(_tick(instance, repository, steam, now + 11 * MINUTE))
    assert request.job_name == "news_job"
    assert request.partition_key == DAY
    assert request.asset_selection == [dg.AssetKey("news")]
    assert request.tags[ATTEMPT_TAG] == "1"
    assert request.tags[REASK_OF_TAG] == failed.run_id
    assert request.run_key == f"reask:news_job:{DAY}:attempt-1:of-{failed.run_id}"


def test_each_failed_re_ask_waits_longer_than_the_one_before(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    assert [backoff(SETTINGS, n).total_seconds() / 60 for n in range(6)] == [10, 20, 40, 80, 120, 120]
    steam = _steam(tmp_path)
    run_standin(instance, "news", DAY, fail=True, tags={ATTEMPT_TAG: "2"})  # the second re-ask failed
    now = datetime.now(UTC)
    assert _requests(_tick(instance, repository, steam, now + 39 * MINUTE)) == []
    (request,) = _requests(_tick(instance, repository, steam, now + 41 * MINUTE))
    assert request.tags[ATTEMPT_TAG] == "3"
    assert ":attempt-3:" in str(request.run_key)


def test_nothing_is_asked_while_a_run_for_it_is_in_flight(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    run_standin(instance, "news", DAY, fail=True)
    # the schedule (or a person) already asked again: that run is under way
    instance.add_run(
        dg.DagsterRun(
            job_name="news_job", tags={"dagster/partition": DAY}, status=dg.DagsterRunStatus.STARTED
        )
    )
    result = _tick(instance, repository, _steam(tmp_path), datetime.now(UTC) + 3 * 60 * MINUTE)
    assert _requests(result) == []
    assert "1 in_flight" in str(result.skip_reason)


def test_nothing_is_asked_while_dagsters_own_run_retries_are_pending(
    tmp_path: Path, repository: dg.RepositoryDefinition
) -> None:
    retries = {"run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": True}}
    fast = SETTINGS.model_copy(update={"base_delay_s": 60})
    steam = _steam(tmp_path)
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides=retries) as instance:
        failed = run_standin(instance, "news", DAY, fail=True)
        failed = instance.get_run_by_id(failed.run_id)
        assert failed is not None and failed.tags.get("dagster/will_retry") == "true"
        now = datetime.now(UTC)
        pending = _tick(instance, repository, steam, now + 2 * MINUTE, fast)
        assert _requests(pending) == [] and "1 retrying" in str(pending.skip_reason)
        # Dagster's retry fails too, and is not retried again (a step failure, as deploy/dagster.yaml
        # configures): the failure is now the sensor's
        no_more = {"dagster/retry_number": "1", "dagster/retry_on_asset_or_op_failure": "false"}
        last = run_standin(instance, "news", DAY, fail=True, tags=no_more)
        last = instance.get_run_by_id(last.run_id)
        assert last is not None and last.tags.get("dagster/will_retry") == "false"
        (request,) = _requests(_tick(instance, repository, steam, datetime.now(UTC) + 2 * MINUTE, fast))
        assert request.tags[REASK_OF_TAG] == last.run_id


def test_given_up_after_the_last_try_recorded_on_the_run_counted_and_cleared_by_a_success(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    steam = _steam(tmp_path)
    targets = reask_targets(repository.asset_graph)
    last = run_standin(instance, "news", DAY, fail=True, tags={ATTEMPT_TAG: str(SETTINGS.max_tries)})
    later = datetime.now(UTC) + 6 * 60 * MINUTE

    result = _tick(instance, repository, steam, later)
    assert _requests(result) == [] and "1 given_up" in str(result.skip_reason)
    tagged = instance.get_run_by_id(last.run_id)
    assert tagged is not None and tagged.tags[GIVEN_UP_TAG] == f"failed after {SETTINGS.max_tries} re-asks"
    metrics = list(reask_metrics(instance, targets, SETTINGS, later))
    assert _values(metrics, "steam_reask_given_up_partitions")["news_job"] == 1
    assert _values(metrics, "steam_reask_given_up_partitions")["lake_refresh_job"] == 0
    scrape = generate_latest(
        registry_for(platform_sources(instance, _defs(), {}, timedelta(hours=1)))
    ).decode()
    assert 'steam_reask_given_up_partitions{dagster_job="news_job"} 1.0' in scrape  # what Prometheus reads
    # a daemon restart changes nothing: the record is on the run, the next tick asks nothing either
    assert _requests(_tick(instance, repository, steam, later + 60 * MINUTE)) == []

    run_standin(instance, "news", DAY, fail=False)  # fixed by hand
    metrics = list(reask_metrics(instance, targets, SETTINGS, later))
    assert _values(metrics, "steam_reask_given_up_partitions")["news_job"] == 0
    assert _values(metrics, "steam_reask_pending_partitions")["news_job"] == 0
    assert "no failed partition" in str(_tick(instance, repository, steam, later).skip_reason)


def test_player_counts_are_never_asked_again(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    assert dg.AssetKey("player_counts") in NEVER_REASKED
    assert dg.AssetKey("player_counts") not in reask_targets(repository.asset_graph)
    hour = hourly_partitions.get_partition_key_for_timestamp(
        (datetime.now(UTC) - 2 * 60 * MINUTE).timestamp()
    )
    run_standin(instance, "player_counts", hour, fail=True)
    result = _tick(instance, repository, _steam(tmp_path), datetime.now(UTC) + 3 * 60 * MINUTE)
    assert _requests(result) == [] and "no failed partition" in str(result.skip_reason)


def test_a_player_activity_hour_is_asked_within_its_window_and_given_up_after(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    recent = hourly_partitions.get_partition_key_for_timestamp((now - 2 * 60 * MINUTE).timestamp())
    old = hourly_partitions.get_partition_key_for_timestamp((now - 26 * 60 * MINUTE).timestamp())
    run_standin(instance, "player_activity", recent, fail=True)
    run_standin(instance, "player_activity", old, fail=True)
    (request,) = _requests(_tick(instance, repository, _steam(tmp_path), now + 11 * MINUTE))
    assert (request.job_name, request.partition_key) == ("player_activity_job", recent)
    work = {
        w.partition: w
        for w in read_failed_work(instance, reask_targets(repository.asset_graph), SETTINGS, now)
    }
    assert judge(work[old], SETTINGS, instance, now + 11 * MINUTE).state is State.GIVEN_UP
    assert "no longer re-askable" in work[old].reason


def test_a_steam_re_ask_waits_for_the_budget_and_is_not_lost(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    run_standin(instance, "news", "2026-11-01", fail=False)  # measured: a news run makes NEWS_CALLS calls
    run_standin(instance, "news", DAY, fail=True)
    run_standin(instance, "mart_game_daily", DAY, fail=True)  # a lake rebuild calls no Steam
    later = datetime.now(UTC) + 11 * MINUTE

    short = _tick(instance, repository, _steam(tmp_path, daily_budget=NEWS_CALLS - 1), later)
    assert [(r.job_name, r.partition_key) for r in _requests(short)] == [("lake_refresh_job", DAY)]

    (request,) = [
        r for r in _requests(_tick(instance, repository, _steam(tmp_path), later)) if r.job_name == "news_job"
    ]
    assert request.partition_key == DAY and request.tags[ATTEMPT_TAG] == "1"


def test_a_lake_day_is_left_to_the_lake_sensor_then_rebuilt_with_its_downstream(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    steam = _steam(tmp_path)
    lake_run = {LAKE_RUN_TAG: "days", REQUEST_TAG: f"days-{DAY}-{DAY}-1-1"}
    run_standin(instance, "fact_news", DAY, fail=True, tags=lake_run)
    now = datetime.now(UTC)
    handoff = lake_handoff()
    assert _requests(_tick(instance, repository, steam, now + handoff - MINUTE)) == []
    (request,) = _requests(_tick(instance, repository, steam, now + handoff + MINUTE))
    assert (request.job_name, request.partition_key) == ("lake_refresh_job", DAY)
    selection = {k.to_user_string() for k in request.asset_selection or []}
    assert {"fact_news", "mart_game_daily", "mart_news_impact", "search_news"} <= selection
    assert LAKE_RUN_TAG not in request.tags  # the lake sensor does not take it for its own


def test_days_a_backfill_failed_together_are_asked_again_in_one_range_run(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    backfill = {RANGE_START_TAG: "2026-11-01", RANGE_END_TAG: "2026-11-03"}  # one run, as from the UI
    failed = run_standin(instance, "fact_news", None, fail=True, tags=backfill)
    (request,) = _requests(_tick(instance, repository, _steam(tmp_path), datetime.now(UTC) + 11 * MINUTE))
    assert request.partition_key is None
    assert request.tags[RANGE_START_TAG] == "2026-11-01" and request.tags[RANGE_END_TAG] == "2026-11-03"
    assert request.tags[REASK_OF_TAG] == failed.run_id and request.tags[ATTEMPT_TAG] == "1"
    assert dg.AssetKey("search_news") in (request.asset_selection or [])


def test_the_sensor_definition_runs_with_its_resource(
    instance: dg.DagsterInstance, repository: dg.RepositoryDefinition, tmp_path: Path
) -> None:
    sensor = repository.get_sensor_def("reask_failed_work_sensor")
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING
    steam = _steam(tmp_path)
    with dg.build_sensor_context(
        instance=instance, repository_def=repository, resources={"steam": steam}
    ) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult) and "no failed partition" in str(result.skip_reason)
