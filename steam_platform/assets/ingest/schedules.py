"""When ingestion runs: partitioned jobs for the ingest assets and the schedules that start them.

- `player_counts_poll`: every N minutes (env `STEAM_POLL_INTERVAL_MINUTES`, default 10), the
  current hour's partition, tagged with the poll slot so the snapshot's event ids are stable.
- `player_activity_hourly`: at minute 5, the current hour.
- `news_daily`: at 00:30 UTC, yesterday (a complete day of posts).
- `apps_daily`: at 06:00 UTC, today's catalogue and details snapshot.
Backfills of `news` over a date range use `news_job` from the UI or `dagster job backfill`.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from steam_platform.assets.ingest.players import POLL_SLOT_TAG, poll_slot
from steam_platform.core.cadence import poll_interval_minutes
from steam_platform.core.partitions import daily_partitions, hourly_partitions
from steam_platform.core.run_limits import daily_ingest_run_tags, poll_run_tags

POLL_INTERVAL_MINUTES = poll_interval_minutes()

player_counts_job = dg.define_asset_job(
    "player_counts_job", selection=["player_counts"], tags=poll_run_tags()
)
player_activity_job = dg.define_asset_job(
    "player_activity_job", selection=["player_activity"], tags=poll_run_tags()
)
news_job = dg.define_asset_job("news_job", selection=["news"], tags=daily_ingest_run_tags())
apps_job = dg.define_asset_job(
    "apps_job", selection=["app_catalog", "app_details"], tags=daily_ingest_run_tags()
)


def _tick_time(context: dg.ScheduleEvaluationContext) -> datetime:
    tick = context.scheduled_execution_time or datetime.now(UTC)
    return tick.astimezone(UTC)


@dg.schedule(
    job=player_counts_job,
    cron_schedule=f"*/{POLL_INTERVAL_MINUTES} * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def player_counts_poll(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """One player-count snapshot per tick into the hour that contains the tick."""
    slot = poll_slot(_tick_time(context), POLL_INTERVAL_MINUTES)
    return dg.RunRequest(
        run_key=f"player_counts:{slot.isoformat()}",
        partition_key=hourly_partitions.get_partition_key_for_timestamp(slot.timestamp()),
        run_config={"ops": {"player_counts": {"config": {"poll_interval_minutes": POLL_INTERVAL_MINUTES}}}},
        tags={POLL_SLOT_TAG: slot.isoformat()},
    )


def _partition_schedule(
    name: str,
    run_key_prefix: str,
    job_name: str,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    cron_schedule: str,
    description: str,
    lag: timedelta = timedelta(0),
) -> dg.ScheduleDefinition:
    """A running UTC schedule that asks, once per tick, for the partition containing `tick - lag`.

    The run key is `<run_key_prefix>:<partition key>`, so a tick evaluated twice starts one run.
    """

    @dg.schedule(
        name=name,
        job_name=job_name,
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        moment = _tick_time(context) - lag
        key = partitions_def.get_partition_key_for_timestamp(moment.timestamp())
        return dg.RunRequest(run_key=f"{run_key_prefix}:{key}", partition_key=key)

    return _schedule


player_activity_hourly = _partition_schedule(
    "player_activity_hourly",
    "player_activity",
    player_activity_job.name,
    hourly_partitions,
    "5 * * * *",
    "Tracked players' games, once an hour, into the current hour.",
)
news_daily = _partition_schedule(
    "news_daily",
    "news",
    news_job.name,
    daily_partitions,
    "30 0 * * *",
    "Yesterday's news, once the day is complete.",
    lag=timedelta(days=1),
)
apps_daily = _partition_schedule(
    "apps_daily",
    "apps",
    apps_job.name,
    daily_partitions,
    "0 6 * * *",
    "Today's catalogue and store details snapshot.",
)


INGEST_JOBS = [player_counts_job, player_activity_job, news_job, apps_job]
INGEST_SCHEDULES = [player_counts_poll, player_activity_hourly, news_daily, apps_daily]
