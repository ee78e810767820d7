"""The ingest schedules ask for the right partitions (and poll slots) at each tick."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pytest

from steam_platform.assets.ingest.players import POLL_SLOT_TAG, poll_slot
from steam_platform.assets.ingest.schedules import (
    apps_daily,
    news_daily,
    player_activity_hourly,
    player_counts_poll,
    poll_interval_minutes,
)
from steam_platform.definitions import defs


def _requests(schedule: dg.ScheduleDefinition, at: datetime) -> list[dg.RunRequest]:
    """Evaluate a tick as the daemon would, with the code location's repository (partitions checked)."""
    context = dg.build_schedule_context(scheduled_execution_time=at, repository_def=defs.get_repository_def())
    return list(schedule.evaluate_tick(context).run_requests or [])


def test_player_counts_poll_targets_the_current_hour_with_its_slot() -> None:
    assert player_counts_poll.cron_schedule == "*/10 * * * *"
    (request,) = _requests(player_counts_poll, datetime(2026, 11, 25, 10, 20, 3, tzinfo=UTC))
    assert request.partition_key == "2026-11-25-10:00"
    assert request.tags[POLL_SLOT_TAG] == "2026-11-25T10:20:00+00:00"
    (at_midnight,) = _requests(player_counts_poll, datetime(2026, 11, 26, 0, 0, tzinfo=UTC))
    assert at_midnight.partition_key == "2026-11-26-00:00"
    assert at_midnight.run_key != request.run_key


def test_daily_and_hourly_schedules() -> None:
    (news,) = _requests(news_daily, datetime(2026, 11, 26, 0, 30, tzinfo=UTC))
    assert news.partition_key == "2026-11-25"  # yesterday: a complete day of posts
    (apps,) = _requests(apps_daily, datetime(2026, 11, 26, 6, 0, tzinfo=UTC))
    assert apps.partition_key == "2026-11-26"
    (activity,) = _requests(player_activity_hourly, datetime(2026, 11, 26, 13, 5, tzinfo=UTC))
    assert activity.partition_key == "2026-11-26-13:00"


def test_poll_slot_rounds_down_to_the_interval() -> None:
    assert poll_slot(datetime(2026, 11, 25, 10, 27, 59, tzinfo=UTC), 10) == datetime(
        2026, 11, 25, 10, 20, tzinfo=UTC
    )
    assert poll_slot(datetime(2026, 11, 25, 23, 59, tzinfo=UTC), 15).minute == 45


def test_poll_interval_must_divide_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEAM_POLL_INTERVAL_MINUTES", "15")
    assert poll_interval_minutes() == 15
    for bad in ("7", "0", "ten"):
        monkeypatch.setenv("STEAM_POLL_INTERVAL_MINUTES", bad)
        with pytest.raises(ValueError, match="divisor of 60"):
            poll_interval_minutes()
