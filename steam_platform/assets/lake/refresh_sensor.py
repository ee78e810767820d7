"""`lake_refresh_sensor`: after every ingest run, land it and refresh the days it changed.

This is what keeps the lake, warehouse, marts and search current with nobody clicking. A
declarative condition cannot say it: bronze is one streaming landing per topic (unpartitioned),
and which warehouse days a landing changes depends on the data (a news backfill lands posts of
last month today). So a sensor reads the event log instead:

1. a new materialisation of an ingest asset (a poll, a backfilled news day) marks its topic as
   waiting to land;
2. the next tick requests ONE run for today's partition: `bronze_<topic>` of every waiting topic,
   today's silver tables of those topics, and every mart and search asset downstream of them. One
   run means one Spark session per poll, and the day in progress refreshed as it fills;
3. each bronze materialisation reports the silver days it changed (`days_landed`); days other
   than the run's own are rebuilt by a follow-up run (a range of days is one run: the Spark
   layers have a single-run backfill policy);
4. once the first refresh after midnight has landed, the closed day is rebuilt once more, so it
   ends final.

Runs never pile up: while a lake run is queued or running, nothing new is requested, and what
arrives meanwhile is coalesced into the next run; when both polls and other days wait, they take
turns. A failed run's work is tried again after a
back-off (10, then 20 minutes), at most `MAX_ATTEMPTS` times; never on every tick.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from steam_platform.assets.lake.refresh_cursor import LakeCursor, Request, Retry
from steam_platform.assets.lake.refresh_events import (
    ALL_SILVER,
    BRONZE_OF_TOPIC,
    LAKE_RUN_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REQUEST_TAG,
    SILVER_OF_TOPIC,
    continuous_topics,
    lake_run_in_flight,
    latest_run,
    read_ingest,
    read_landings,
)
from steam_platform.core.constants import GROUP_LAKE, GROUP_MARTS, GROUP_SEARCH, GROUP_WAREHOUSE
from steam_platform.core.partitions import PARTITIONS_START, daily_partitions
from steam_platform.core.run_limits import lake_run_tags

#: Tries of the same work (topics to land, days to rebuild) before waiting for new data instead.
MAX_ATTEMPTS = 3
RETRY_BACKOFF = timedelta(minutes=10)
#: A request whose run never appeared (launch failed) is given up after this long and retried.
LOST_REQUEST_AFTER = timedelta(hours=1)
#: Seconds between ticks. A poll waits half of it on average before its lake run is requested; a
#: tick with nothing new costs a few event-log reads (pooled connections), so 5 s costs ~1/100 of a core.
TICK_INTERVAL_S = 5
#: Days per rebuild run: a backfill since 2012 is split into runs of at most this many days.
MAX_DAYS_PER_RUN = 92


def settle_requests(instance: dg.DagsterInstance, cursor: LakeCursor, now: float) -> list[str]:
    """Forget finished requests; schedule a failed one's work for a retry. Returns log lines."""
    notes = []
    for request_id, request in list(cursor.requested.items()):
        run = latest_run(instance, request_id)
        lost = run is None and now - request.requested_at > LOST_REQUEST_AFTER.total_seconds()
        if run is not None and not run.is_finished:
            continue
        if run is None and not lost:
            continue
        del cursor.requested[request_id]
        if run is not None and run.is_success:
            continue
        if request.attempt >= MAX_ATTEMPTS:
            notes.append(f"{request_id} failed {request.attempt} times: waiting for new data instead")
            continue
        wait = RETRY_BACKOFF.total_seconds() * 2 ** (request.attempt - 1)
        retry = {f"topic:{t}": set[str]() for t in request.topics}
        retry |= {f"day:{d}": silver for d, silver in request.days.items()}
        for key, silver in retry.items():
            cursor.retries[key] = Retry(silver, request.attempt + 1, now + wait)
        notes.append(f"{request_id} did not succeed: retry {request.attempt + 1} in {wait / 60:.0f} min")
    return notes


def due_retries(cursor: LakeCursor, now: float) -> int:
    """Move retries whose back-off has passed back into the waiting work; the highest attempt."""
    attempt = 1
    for key, retry in list(cursor.retries.items()):
        if retry.not_before > now:
            continue
        del cursor.retries[key]
        kind, _, value = key.partition(":")
        if kind == "topic":
            cursor.topics.add(value)
        else:
            cursor.add_days({value: retry.silver})
        attempt = max(attempt, retry.attempt)
    return attempt


def finalise_closed_day(instance: dg.DagsterInstance, cursor: LakeCursor, today: date) -> None:
    """Rebuild yesterday once more, after the first successful refresh of today landed its tail."""
    yesterday = (today - timedelta(days=1)).isoformat()
    if cursor.finalised >= yesterday or yesterday < PARTITIONS_START:
        return
    done = instance.get_runs(
        dg.RunsFilter(
            tags={LAKE_RUN_TAG: "poll", "dagster/partition": today.isoformat()},
            statuses=[dg.DagsterRunStatus.SUCCESS],
        ),
        limit=1,
    )
    if done:
        cursor.add_days({yesterday: set(ALL_SILVER)})
        cursor.finalised = yesterday


def downstream_daily(graph: Any, silver: Iterable[str]) -> list[dg.AssetKey]:
    """`silver` and every daily-partitioned asset downstream of it (marts, search), sorted.

    `graph` is the code location's asset graph (`RepositoryDefinition.asset_graph`)."""
    roots = dg.AssetSelection.assets(*silver)
    keys = roots.downstream().resolve(graph)
    return sorted(k for k in keys if graph.get(k).partitions_def == daily_partitions)


def poll_request(
    cursor: LakeCursor, graph: Any, today: str, attempt: int, now: float, continuous: set[str]
) -> dg.RunRequest:
    """Land every waiting topic and refresh today's silver, marts and search in one run (a topic
    landed by a running continuous job is only refreshed: that job owns its checkpoint)."""
    topics = sorted(cursor.topics)
    silver = {table for t in topics for table in SILVER_OF_TOPIC[t]}
    cursor.topics.clear()
    if today in cursor.days:
        cursor.days[today] -= silver
        if not cursor.days[today]:
            del cursor.days[today]
    # unique per request (the daemon drops a run key it has seen: a retry needs a new one)
    request_id = f"poll-{today}-{cursor.after}-{int(now)}"
    cursor.requested[request_id] = Request(
        topics=set(topics), days={today: silver}, attempt=attempt, requested_at=now
    )
    bronze = [dg.AssetKey(BRONZE_OF_TOPIC[t]) for t in topics if t not in continuous]
    return dg.RunRequest(
        run_key=request_id,
        partition_key=today,
        asset_selection=[*bronze, *downstream_daily(graph, silver)],
        tags={LAKE_RUN_TAG: "poll", REQUEST_TAG: request_id},
    )


def days_request(cursor: LakeCursor, graph: Any, attempt: int, now: float) -> dg.RunRequest:
    """Rebuild the waiting days that need the same silver tables as the newest one, in one run."""
    newest = max(cursor.days)
    silver = frozenset(cursor.days[newest])
    days = sorted(d for d, s in cursor.days.items() if frozenset(s) == silver)[-MAX_DAYS_PER_RUN:]
    for day in days:
        del cursor.days[day]
    first, last = days[0], days[-1]
    request_id = f"days-{first}-{last}-{cursor.after}-{int(now)}"
    cursor.requested[request_id] = Request(
        days={d: set(silver) for d in days}, attempt=attempt, requested_at=now
    )
    tags = {LAKE_RUN_TAG: "days", REQUEST_TAG: request_id}
    if first != last:  # one run over the range (rebuilding any day between is harmless)
        tags |= {RANGE_START_TAG: first, RANGE_END_TAG: last}
    return dg.RunRequest(
        run_key=request_id,
        partition_key=first if first == last else None,
        asset_selection=downstream_daily(graph, silver),
        tags=tags,
    )


def _drop_days_outside_partitions(cursor: LakeCursor, today: str) -> None:
    for day in [d for d in cursor.days if d < PARTITIONS_START or d > today]:
        del cursor.days[day]


def evaluate(context: dg.SensorEvaluationContext, now: datetime | None = None) -> dg.SensorResult:
    """One tick: read what happened, then request at most one lake run."""
    moment = now or datetime.now(UTC)
    instance = context.instance
    cursor = LakeCursor.loads(context.cursor)
    (ingested, ingest_ceiling), (landed, bronze_ceiling) = (
        read_ingest(instance, cursor),
        read_landings(instance, cursor),
    )
    ceilings = [c for c in (ingest_ceiling, bronze_ceiling) if c is not None]
    # A full page means more records wait: resume after the last one read from that page (records
    # past it may be read twice, which only marks the same topic or day again).
    cursor.after = min(ceilings) if ceilings else max(ingested, landed)
    for note in settle_requests(instance, cursor, moment.timestamp()):
        context.log.warning(note)
    attempt = due_retries(cursor, moment.timestamp())
    today = moment.date()
    finalise_closed_day(instance, cursor, today)
    _drop_days_outside_partitions(cursor, today.isoformat())
    if not cursor.topics and not cursor.days:
        return dg.SensorResult(skip_reason="nothing new to land or rebuild", cursor=cursor.dumps())
    if lake_run_in_flight(instance):
        waiting = f"{len(cursor.topics)} topic(s), {len(cursor.days)} day(s)"
        return dg.SensorResult(skip_reason=f"a lake run is in flight; {waiting} wait", cursor=cursor.dumps())
    assert context.repository_def is not None, "the sensor needs its code location's asset graph"
    graph = context.repository_def.asset_graph
    # Polls and rebuilds of other days take turns, so frequent polls never starve a closed day.
    if cursor.topics and not (cursor.days and cursor.last_kind == "poll"):
        continuous = continuous_topics(instance)
        request = poll_request(cursor, graph, today.isoformat(), attempt, moment.timestamp(), continuous)
        cursor.last_kind = "poll"
    else:
        request = days_request(cursor, graph, attempt, moment.timestamp())
        cursor.last_kind = "days"
    return dg.SensorResult(run_requests=[request], cursor=cursor.dumps())


#: What the sensor may request: bronze, silver, marts and search (each run asks for a subset).
LAKE_TARGET = dg.AssetSelection.groups(
    GROUP_LAKE, GROUP_WAREHOUSE, GROUP_MARTS, GROUP_SEARCH
) - dg.AssetSelection.assets("kibana_saved_objects")

#: The job every lake run belongs to: named, so the runs list says what they are (a sensor
#: targeting a bare selection would run them as `__anonymous_asset_job_lake_refresh_sensor`).
lake_refresh_job = dg.define_asset_job(
    "lake_refresh_job",
    selection=LAKE_TARGET,
    tags=lake_run_tags(),
    description="Lands ingested events in bronze and refreshes the days they changed (silver, marts, "
    "search); launched by `lake_refresh_sensor`, each run for a subset of these assets.",
)


@dg.sensor(
    name="lake_refresh_sensor",
    target=lake_refresh_job,
    minimum_interval_seconds=TICK_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each ingest run: land it in bronze and refresh the days it changed "
    "(silver, marts, search) in one run; closed days once more when they close.",
)
def lake_refresh_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Keeps bronze, the warehouse, the marts and search current after every ingest run."""
    return evaluate(context)
