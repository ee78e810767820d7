"""What `reask_failed_work_sensor` may ask for again, with which job, and for how long.

Re-askable is what gives the same answer, or an answer as good, when asked later:
- `news` (news_job): Steam pages a game's news back in time (`enddate`), so any day can be asked
  again, whatever its age;
- `app_catalog`, `app_details` (apps_job) and `player_activity` (player_activity_job): snapshots of
  now, filed under the period they were asked in. Asked within `STEAM_REASK_SNAPSHOT_WINDOW_HOURS`
  (24 h) after the period ended, the answer still describes it: the catalogue and store pages change
  over days, and recently played is Steam's rolling two-week window, so one day later it still holds
  that hour's play. Later, the hourly and daily polls have long covered the same ground, and an old
  period filled with today's snapshot would misdate it: such a failure is given up (and alerted);
- every daily warehouse, marts and search partition (lake_refresh_job): rebuilt from the lake,
  which keeps everything. Bronze is not partitioned: what a failed landing left in Kafka is landed
  by the next landing of its topic (the checkpoint loses nothing), and the lake sensor then
  rebuilds the days it changed.

Never re-asked: `player_counts`. A count is a snapshot of the poll's moment and a past hour fails
on purpose; a missed poll is recorded as a gap (`mart_player_count_gaps`) instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import dagster as dg

from steam_platform.assets.ingest.schedules import apps_job, news_job, player_activity_job
from steam_platform.assets.lake.refresh_sensor import lake_refresh_job
from steam_platform.core.constants import GROUP_MARTS, GROUP_SEARCH, GROUP_WAREHOUSE
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.sources import PLAYER_COUNTS

#: Point-in-time assets: never asked again (their gaps are recorded instead).
NEVER_REASKED = frozenset(dg.AssetKey(a) for a in PLAYER_COUNTS.ingest_assets)
#: Ingest jobs whose failed partitions are asked again, and whether they are snapshots of now.
STEAM_JOBS = {news_job.name: False, apps_job.name: True, player_activity_job.name: True}
STEAM_JOB_DEFS = [news_job, apps_job, player_activity_job]
LAKE_JOB = lake_refresh_job.name
LAKE_GROUPS = (GROUP_WAREHOUSE, GROUP_MARTS, GROUP_SEARCH)


@dataclass(frozen=True)
class Target:
    """One re-askable asset: the job that rebuilds it, its partitions, and whether it calls Steam
    and is a snapshot of now (re-askable only within the snapshot window)."""

    key: dg.AssetKey
    job: str
    partitions_def: dg.TimeWindowPartitionsDefinition
    calls_steam: bool
    snapshot: bool

    def reaskable_until(self, partition: str, window: timedelta) -> datetime | None:
        """When the partition stops being re-askable (None: never stops)."""
        if not self.snapshot:
            return None
        return self.partitions_def.time_window_for_partition_key(partition).end + window


def reask_targets(graph: Any) -> dict[dg.AssetKey, Target]:
    """Every re-askable asset of the code location's asset graph (`RepositoryDefinition.asset_graph`)."""
    targets: dict[dg.AssetKey, Target] = {}
    for job in STEAM_JOB_DEFS:
        for key in job.selection.resolve(graph, allow_missing=True):
            partitions = graph.get(key).partitions_def
            assert isinstance(partitions, dg.TimeWindowPartitionsDefinition), key
            targets[key] = Target(key, job.name, partitions, True, STEAM_JOBS[job.name])
    lake = dg.AssetSelection.groups(*LAKE_GROUPS).resolve(graph, allow_missing=True)
    for key in sorted(lake):
        if graph.get(key).partitions_def == daily_partitions:
            targets[key] = Target(key, LAKE_JOB, daily_partitions, False, False)
    assert not NEVER_REASKED & targets.keys(), "player counts are point-in-time: never re-asked"
    return targets


def lake_selection(graph: Any, failed: set[dg.AssetKey]) -> list[dg.AssetKey]:
    """The failed lake assets of a day and every daily asset downstream of them (what the failure
    skipped), within the layers the lake job builds."""
    keys = dg.AssetSelection.assets(*failed).downstream().resolve(graph)
    lake = dg.AssetSelection.groups(*LAKE_GROUPS).resolve(graph)
    return sorted(k for k in keys & lake if graph.get(k).partitions_def == daily_partitions)
