"""What the soak and chaos benchmarks count as polled: a poll's snapshots from its materialisation,
and also from its step failure when Steam went down midway (the snapshots it had collected were
produced, and land); a slot's runs poll the same apps, so a slot counts the most any run produced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
from soak_support import POLL_SCHEDULE, RunWatcher

from steam_platform.assets.ingest.players import POLL_SLOT_TAG
from steam_platform.core import sources


def _poll(instance: dg.DagsterInstance, slot: str, produced: int, fail: bool) -> None:
    """One run of the poll schedule for `slot` that produced `produced` snapshots, then failed or not."""

    @dg.asset(name="player_counts")
    def player_counts() -> dg.MaterializeResult:
        metadata = {
            "events_total": produced,
            "events_per_topic": dg.MetadataValue.json({sources.PLAYER_COUNTS.topic: produced}),
            "apps_not_live": 1,
        }
        if fail:
            raise dg.Failure(description="Steam looks down", metadata=metadata, allow_retries=False)
        return dg.MaterializeResult(metadata=metadata)

    tags = {"dagster/schedule_name": POLL_SCHEDULE, POLL_SLOT_TAG: slot}
    dg.materialize([player_counts], instance=instance, tags=tags, raise_on_error=False)


def test_a_failed_polls_produced_snapshots_count_and_a_slot_counts_its_fullest_run() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        since = datetime.now(UTC) - timedelta(minutes=1)
        _poll(instance, "2026-12-04T14:30:00+00:00", produced=2, fail=True)  # Steam down midway
        _poll(instance, "2026-12-04T14:32:00+00:00", produced=100, fail=False)
        _poll(instance, "2026-12-04T14:34:00+00:00", produced=0, fail=True)
        _poll(instance, "2026-12-04T14:34:00+00:00", produced=100, fail=False)  # the slot again
        watcher = RunWatcher(instance, since)
        watcher.refresh()
        watcher.refresh()  # counted once, not again
        polled = {slot[11:16]: (p.apps, p.live, p.status) for slot, p in watcher.polls.items()}
        assert polled == {
            "14:30": (2, 1, "FAILURE"),
            "14:32": (100, 99, "SUCCESS"),
            "14:34": (100, 99, "SUCCESS"),
        }
