"""`lake_refresh_sensor` on a real (ephemeral) Dagster instance: what each tick requests.

Materialisations are reported to the instance as the daemon would see them after ingest and bronze
runs; runs in flight or finished are recorded in the instance's run storage. Nothing is executed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest

from steam_platform.assets.lake import refresh_events as events
from steam_platform.assets.lake import refresh_sensor as ls
from steam_platform.assets.lake.bronze import DAYS_LANDED
from steam_platform.assets.lake.refresh_cursor import LakeCursor
from steam_platform.core import sources

NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TODAY = NOW.date().isoformat()
YESTERDAY = (NOW.date() - timedelta(days=1)).isoformat()
SEARCH_OF_COUNTS = {"search_game_daily", "search_top_games", "search_news_impact", "search_player_count_gaps"}
MARTS = {"mart_game_daily", "mart_news_impact", "mart_top_games", "mart_player_count_gaps"}


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from steam_platform.definitions import defs

    return defs


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def _tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None, now: datetime = NOW
) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    return ls.evaluate(context, now=now)


def _ingested(instance: dg.DagsterInstance, asset: str, partition: str, events: int = 3) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=asset, partition=partition, metadata={"events_total": events})
    )


def _landed(instance: dg.DagsterInstance, bronze: str, days: list[str]) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=bronze, metadata={DAYS_LANDED: dg.MetadataValue.json(days)})
    )


def _run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, tags: dict[str, str]) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=status, tags=tags)
    instance.add_run(run)
    return run


def _keys(request: dg.RunRequest) -> set[str]:
    """The request's assets, which must all lie in the sensor's target (the daemon refuses others)."""
    from steam_platform.definitions import defs

    target = ls.LAKE_TARGET.resolve(defs.resolve_asset_graph())
    assert set(request.asset_selection or []) <= target
    return {k.to_user_string() for k in request.asset_selection or []}


def test_nothing_new_requests_nothing(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    result = _tick(defs, instance, None)
    assert not result.run_requests
    assert result.skip_reason is not None and "nothing new" in result.skip_reason.skip_message


def test_lake_runs_are_runs_of_the_named_lake_job(defs: dg.Definitions) -> None:
    """The runs list shows `lake_refresh_job`, not `__anonymous_asset_job_lake_refresh_sensor`."""
    assert defs.resolve_sensor_def("lake_refresh_sensor").job_name == "lake_refresh_job"
    assert defs.resolve_job_def("lake_refresh_job").name == ls.lake_refresh_job.name
    assert ls.lake_refresh_job.selection == ls.LAKE_TARGET  # every asset a request may name


def test_a_poll_lands_and_refreshes_today_through_search_in_one_run(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _ingested(instance, "player_counts", f"{TODAY}-11:00")
    result = _tick(defs, instance, None)
    [request] = result.run_requests
    assert request.partition_key == TODAY
    assert _keys(request) == {"bronze_player_counts", "fact_player_counts", *MARTS, *SEARCH_OF_COUNTS}
    assert request.tags[events.LAKE_RUN_TAG] == "poll"
    # The same events are not requested twice.
    again = _tick(defs, instance, result.cursor)
    assert not again.run_requests


def test_an_ingest_run_that_produced_nothing_lands_nothing(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _ingested(instance, "player_activity", f"{TODAY}-11:00", events=0)
    assert not _tick(defs, instance, None).run_requests


def test_polls_during_a_run_are_coalesced_into_the_next_one(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    running = _run(instance, dg.DagsterRunStatus.STARTED, {events.LAKE_RUN_TAG: "poll"})
    for hour in ("10", "11"):
        _ingested(instance, "player_counts", f"{TODAY}-{hour}:00")
    _ingested(instance, "news", YESTERDAY)
    waiting = _tick(defs, instance, None)
    assert not waiting.run_requests
    assert waiting.skip_reason is not None and "in flight" in waiting.skip_reason.skip_message
    instance.report_run_canceled(running)  # finished (any end state frees the slot)
    [request] = _tick(defs, instance, waiting.cursor).run_requests
    assert {"bronze_player_counts", "bronze_news", "fact_news", "search_news"} <= _keys(request)


def test_days_a_landing_changed_are_rebuilt_as_one_range_run(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    days = [(NOW.date() - timedelta(days=n)).isoformat() for n in (12, 11, 10)]
    _landed(instance, "bronze_news", days)
    [request] = _tick(defs, instance, None).run_requests
    assert request.partition_key is None
    assert request.tags[events.RANGE_START_TAG] == days[0]
    assert request.tags[events.RANGE_END_TAG] == days[-1]
    gaps = {"mart_player_count_gaps", "search_player_count_gaps"}  # player counts only, not news
    assert _keys(request) == {"fact_news", "search_news", *MARTS, *SEARCH_OF_COUNTS} - gaps


def test_days_before_the_first_partition_or_in_the_future_are_ignored(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _landed(instance, "bronze_news", ["1999-01-01", (NOW.date() + timedelta(days=3)).isoformat()])
    assert not _tick(defs, instance, None).run_requests


def test_a_closed_day_is_rebuilt_once_after_the_first_refresh_of_the_next(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    cursor = LakeCursor(finalised=(NOW.date() - timedelta(days=2)).isoformat()).dumps()
    assert not _tick(defs, instance, cursor).run_requests  # no refresh of today yet: wait
    _run(instance, dg.DagsterRunStatus.SUCCESS, {events.LAKE_RUN_TAG: "poll", "dagster/partition": TODAY})
    first = _tick(defs, instance, cursor)
    [request] = first.run_requests
    assert request.partition_key == YESTERDAY
    assert {"fact_player_counts", "fact_news", "fact_playtime", "dim_app"} <= _keys(request)
    assert LakeCursor.loads(first.cursor).finalised == YESTERDAY
    _run(instance, dg.DagsterRunStatus.SUCCESS, {events.REQUEST_TAG: request.tags[events.REQUEST_TAG]})
    assert not _tick(defs, instance, first.cursor).run_requests  # once only


def test_a_failed_run_is_retried_after_a_back_off_and_at_most_three_times(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _landed(instance, "bronze_news", [YESTERDAY])
    result = _tick(defs, instance, None)
    now = NOW
    run_keys = set()
    for attempt in range(1, ls.MAX_ATTEMPTS + 1):
        [request] = result.run_requests
        assert request.run_key not in run_keys  # the daemon would drop a run key it has seen
        run_keys.add(request.run_key)
        _run(instance, dg.DagsterRunStatus.FAILURE, {events.REQUEST_TAG: request.tags[events.REQUEST_TAG]})
        # Not on the next ticks: the back-off doubles from 10 minutes.
        backoff = ls.RETRY_BACKOFF * 2 ** (attempt - 1)
        result = _tick(defs, instance, result.cursor, now=now + timedelta(seconds=30))
        assert not result.run_requests
        result = _tick(defs, instance, result.cursor, now=now + backoff - timedelta(seconds=30))
        assert not result.run_requests
        now = now + backoff + timedelta(seconds=30)
        result = _tick(defs, instance, result.cursor, now=now)
        if attempt == ls.MAX_ATTEMPTS:
            assert not result.run_requests  # given up: new data will ask again
        else:
            assert len(result.run_requests) == 1


def test_a_backfill_longer_than_a_page_is_read_over_several_ticks(
    defs: dg.Definitions, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "READ_LIMIT", 2)
    days = [(NOW.date() - timedelta(days=n)).isoformat() for n in range(10, 4, -1)]
    for day in days:  # six landings, one day each: three pages of two
        _landed(instance, "bronze_news", [day])
    _ingested(instance, "player_counts", f"{TODAY}-11:00")  # a newer record of another asset
    covered: set[str] = set()
    waiting: list[int] = []
    cursor = None
    for _ in range(6):
        result = _tick(defs, instance, cursor)
        state = LakeCursor.loads(result.cursor)
        waiting.append(len(state.days))
        for request in result.run_requests:
            if events.RANGE_START_TAG in request.tags:
                first = date.fromisoformat(request.tags[events.RANGE_START_TAG])
                last = date.fromisoformat(request.tags[events.RANGE_END_TAG])
                covered |= {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
            elif request.tags[events.LAKE_RUN_TAG] == "days":
                covered.add(str(request.partition_key))
            _run(
                instance, dg.DagsterRunStatus.SUCCESS, {events.REQUEST_TAG: request.tags[events.REQUEST_TAG]}
            )
        cursor = result.cursor
    assert set(days) <= covered  # every landed day was rebuilt, none skipped past a full page
    assert waiting[-1] == 0


def test_the_cursor_round_trips() -> None:
    cursor = LakeCursor(
        after=7, topics={sources.NEWS.topic}, days={TODAY: {"fact_news"}}, finalised=YESTERDAY
    )
    assert LakeCursor.loads(cursor.dumps()) == cursor


def test_frequent_polls_never_starve_the_rebuild_of_other_days(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    _landed(instance, "bronze_news", [YESTERDAY])
    cursor = None
    kinds = []
    for minute in range(4):
        _ingested(instance, "player_counts", f"{TODAY}-11:00")  # a poll before every tick
        result = _tick(defs, instance, cursor, now=NOW + timedelta(minutes=minute))
        [request] = result.run_requests
        kinds.append(request.tags[events.LAKE_RUN_TAG])
        _run(instance, dg.DagsterRunStatus.SUCCESS, {events.REQUEST_TAG: request.tags[events.REQUEST_TAG]})
        cursor = result.cursor
    assert kinds[:2] in (["poll", "days"], ["days", "poll"])
    assert kinds[2:] == ["poll", "poll"]  # nothing else waits: polls only


def test_a_topic_with_a_running_continuous_job_is_not_landed_by_lake_runs(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> None:
    continuous = dg.DagsterRun(
        job_name=events.CONTINUOUS_JOB,
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        run_config={"ops": {events.CONTINUOUS_OP: {"config": {"topic": sources.PLAYER_COUNTS.topic}}}},
    )
    instance.add_run(continuous)
    _ingested(instance, "player_counts", f"{TODAY}-11:00")
    _ingested(instance, "news", YESTERDAY)
    [request] = _tick(defs, instance, None).run_requests
    keys = _keys(request)
    assert "bronze_player_counts" not in keys  # the continuous job owns that checkpoint
    assert {"bronze_news", "fact_player_counts", "fact_news"} <= keys
