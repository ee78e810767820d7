"""The first partition day is configuration: `STEAM_PARTITIONS_START` (validated)."""

from __future__ import annotations

import importlib
from datetime import date, timedelta

import pytest

import steam_platform.core.partitions as partitions


def test_the_default_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(partitions.PARTITIONS_START_ENV, raising=False)
    assert partitions.partitions_start() == partitions.DEFAULT_PARTITIONS_START


def test_a_user_tracking_a_game_since_2012_backfills_from_then(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(partitions.PARTITIONS_START_ENV, "2012-08-21")
    try:
        reloaded = importlib.reload(partitions)
        assert reloaded.daily_partitions.get_first_partition_key() == "2012-08-21"
        assert reloaded.hourly_partitions.get_first_partition_key() == "2012-08-21-00:00"
    finally:
        monkeypatch.delenv(partitions.PARTITIONS_START_ENV)
        importlib.reload(partitions)


@pytest.mark.parametrize("bad", ["yesterday", "2012-13-01", (date.today() + timedelta(days=2)).isoformat()])
def test_a_bad_start_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv(partitions.PARTITIONS_START_ENV, bad)
    with pytest.raises(ValueError, match=partitions.PARTITIONS_START_ENV):
        partitions.partitions_start()
