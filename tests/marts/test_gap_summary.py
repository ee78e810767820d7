"""What the UI shows of recorded player-count gaps (`assets/marts/gap_summary.py`), no servers: the
WARN check `no_player_count_gaps` and the materialisation metadata, from the rows a run wrote."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from steam_platform.assets.marts.assets import _first_poll
from steam_platform.assets.marts.gap_summary import (
    APPS_SHOWN,
    CHECK_NO_GAPS,
    GAPS_BY_HOUR,
    GapRow,
    check_result,
    materialization_metadata,
)

TEN = datetime(2026, 10, 2, 10, tzinfo=UTC)


def test_a_day_without_gaps_passes_and_a_day_with_gaps_warns_with_each_apps_summary() -> None:
    clean = check_result([], ["2026-10-02"])
    assert (clean.check_name, clean.passed, clean.severity) == (
        CHECK_NO_GAPS,
        True,
        dg.AssetCheckSeverity.WARN,
    )
    assert materialization_metadata([])["apps_with_gaps"] == "none"

    rows = [
        GapRow(570, "Dota 2", TEN, 6, "10:00,10:10,10:20,10:30,10:40,10:50"),
        GapRow(570, "Dota 2", TEN + timedelta(hours=1), 2, "11:00,11:10"),
        GapRow(730, None, TEN + timedelta(hours=1), 1, "11:50"),
    ]
    warned = check_result(rows, ["2026-10-01", "2026-10-02"])
    assert (warned.passed, warned.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert warned.description == "9 missed polls in 3 (app, hour) rows of 2 apps, dt=2026-10-01..2026-10-02"
    table = warned.metadata["per_app"].value
    assert isinstance(table, str)
    assert table.splitlines()[2:] == [
        "| Dota 2 (570) | 2 | 8 | 2026-10-02 10:00 | 2026-10-02 11:00 |",  # most missed first
        "| 730 | 1 | 1 | 2026-10-02 11:00 | 2026-10-02 11:00 |",
    ]
    meta = materialization_metadata(rows)
    assert (meta["gap_rows"], meta["missed_polls"], meta["apps_affected"]) == (3, 9, 2)
    assert meta["apps_with_gaps"] == "Dota 2 (570), 730"
    assert meta[GAPS_BY_HOUR].value == {
        TEN.isoformat(): {"apps": 1, "missed": 6},
        (TEN + timedelta(hours=1)).isoformat(): {"apps": 2, "missed": 3},
    }


def test_many_apps_are_counted_in_full_and_listed_up_to_a_limit() -> None:
    rows = [GapRow(appid, None, TEN, 1, "10:00") for appid in range(APPS_SHOWN + 5)]
    warned = check_result(rows, ["2026-10-02"])
    assert warned.metadata["apps_affected"].value == APPS_SHOWN + 5
    table = warned.metadata["per_app"].value
    assert isinstance(table, str) and table.splitlines()[-1].startswith("| ... 5 more apps")
    assert len(table.splitlines()) == 2 + APPS_SHOWN + 1


def test_the_first_poll_is_the_oldest_player_counts_materialisation() -> None:
    """Slots before it were never scheduled (`mart_player_count_gaps` does not expect them)."""
    with dg.DagsterInstance.ephemeral() as instance:
        assert _first_poll(instance) is None  # never polled: every slot is expected
        for hour in ("10:00", "11:00"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization("player_counts", partition=f"2026-10-02-{hour}")
            )
            time.sleep(0.01)  # two distinct event times
        newest, oldest = instance.fetch_materializations(dg.AssetKey("player_counts"), limit=2).records
        assert oldest.timestamp < newest.timestamp
        assert _first_poll(instance) == datetime.fromtimestamp(oldest.timestamp, UTC)
