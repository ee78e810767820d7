"""Two faults of the chaos benchmark met by the real daemon, each in a few minutes, nobody acting.

`steam-platform dev` (webserver, daemon, supervised code server) on the Postgres instance of
`deploy/dagster.yaml`, a fresh lake bucket and player counts polled every minute:
- Steam answers 503 for every call (a storm), then 429 with `Retry-After`: the polls of the storm
  fail, clearly (the error names Steam), inventing nothing and writing nothing to Kafka; the
  client waits what `Retry-After` asked; the first poll after the storm lands exactly one snapshot
  per tracked app.
- Postgres (Dagster's storage) is restarted: the daemon keeps ticking, no run is left in flight,
  and a poll after the restart succeeds.
- The daemon is SIGKILLed: `steam-platform dev` starts `dagster dev` again, a new daemon ticks the
  sensors and the next poll succeeds.

That the missed slots become gaps in `mart_player_count_gaps` needs lake and mart runs over the
storm (minutes of Spark on two cores): the chaos benchmark measures it; `tests/lake` tests the rule.
That news and app days failed in a storm are asked again is `test_reask_sensor.py` (the real sensor
on a real instance); the chaos benchmark shows it on the running platform.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import psutil
import pytest
import requests
from dev_support import open_instance, processes_of, steam_platform_dev, wait_until
from ingest_support import read_between, watermarks

from steam_devstack.stack import LocalStack
from steam_platform.assets.ingest.players import POLL_SLOT_TAG
from steam_platform.core import sources
from steam_platform.events.envelope import make_event_id
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource
from steam_platform.resources.steam import EP_PLAYERS, PATHS

pytestmark = pytest.mark.integration

T = TypeVar("T")
POLL_JOB = "player_counts_job"
#: Seconds of `Retry-After` the simulator sends with its 429s.
RETRY_AFTER_S = 4
#: Command-line needles of the Dagster daemon (`dagster dev` runs `dagster-daemon run`).
DAEMON_NEEDLES = ("dagster-daemon run", "dagster._daemon")
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass
class Platform:
    """The running platform and what the tests need to look at it."""

    instance: dg.DagsterInstance
    env: dict[str, str]
    log: Path
    graphql: str
    home: Path


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, platform: Platform) -> T:
    """Poll `probe` every 2 s until it returns a truthy value; fail with the daemon's log tail."""
    return wait_until(what, probe, timeout_s, platform.log, platform.instance, interval_s=2)


@pytest.fixture(scope="module")
def platform(stack_env: dict[str, str], s3: S3Resource) -> Iterator[Platform]:
    """`steam-platform dev` on the stack: polls every minute, dead workers looked for every 10 s,
    Steam items retried three times."""
    assert "STEAM_API_BASE_URL" in stack_env, "the stack's Steam simulator must run"
    # Three calls per item, at most 2 s apart without Retry-After: a storm's polls fail within
    # their minute, so the test waits for slots, not for a six-call backoff of every item.
    fast_retries = {"STEAM_RETRY_MAX_ATTEMPTS": "3", "STEAM_RETRY_BACKOFF_MAX_S": "2"}
    with steam_platform_dev(stack_env, s3, "steam-faults", fast_retries) as dev:
        try:
            with open_instance(dev) as inst:
                yield Platform(inst, dev.env, dev.log, dev.graphql, dev.home)
        finally:
            _set_steam_faults(stack_env, [])


def _set_steam_faults(env: dict[str, str], rules: list[dict[str, Any]]) -> None:
    """Replace the simulator's fault rules (`POST /__sim/faults`, as the chaos benchmark does)."""
    base = env["STEAM_API_BASE_URL"].rstrip("/")
    response = requests.post(f"{base}/__sim/faults", json={"rules": rules}, timeout=10)
    assert response.status_code == 200, response.text


def _polls(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """The scheduled polls (each tagged with its slot)."""
    return [r for r in instance.get_runs(dg.RunsFilter(job_name=POLL_JOB)) if POLL_SLOT_TAG in r.tags]


def _slot(run: dg.DagsterRun) -> datetime:
    return datetime.fromisoformat(run.tags[POLL_SLOT_TAG])


def _polls_done(
    instance: dg.DagsterInstance, status: dg.DagsterRunStatus, after: datetime
) -> list[dg.DagsterRun]:
    """Poll runs of slots starting at or after `after` that ended with `status`."""
    return [r for r in _polls(instance) if _slot(r) >= after and r.status == status]


def _no_poll_in_flight(instance: dg.DagsterInstance) -> bool:
    return not instance.get_runs(dg.RunsFilter(job_name=POLL_JOB, statuses=IN_FLIGHT))


def _next_slot(moment: datetime) -> datetime:
    """The first one-minute poll slot that starts after `moment`."""
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _step_failure(instance: dg.DagsterInstance, run_id: str) -> tuple[str, dict[str, Any]] | None:
    """The failed step's error message and the failure's metadata values; None when no step ran
    (a run failed before its step started, e.g. by run monitoring's start timeout)."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    if not events:
        return None
    (event,) = events
    data = event.dagster_event.step_failure_data  # type: ignore[union-attr]
    metadata = data.user_failure_data.metadata if data.user_failure_data else {}
    message = data.error.message if data.error else ""
    return message, {k: getattr(v, "value", v) for k, v in metadata.items()}


def _polls_met_steam(instance: dg.DagsterInstance, after: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(error, failure metadata) of the failed polls of slots from `after` whose step met Steam."""
    failed = _polls_done(instance, dg.DagsterRunStatus.FAILURE, after)
    return [f for f in (_step_failure(instance, r.run_id) for r in failed) if f is not None]


def _poll_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("player_counts")), limit=20
    ).records
    (record,) = [r for r in records if r.run_id == run_id]
    metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


SENSOR_TICK_QUERY = """
query Tick($sensor: SensorSelector!) {
  sensorOrError(sensorSelector: $sensor) { ... on Sensor { sensorState { ticks(limit: 1) { timestamp } } } }
}
"""


def _last_tick(platform: Platform, sensor: str) -> float:
    """When the daemon last ticked `sensor`, as the webserver shows it (0 when unknown)."""
    selector = {
        "repositoryLocationName": "steam_platform",
        "repositoryName": "__repository__",
        "sensorName": sensor,
    }
    try:
        data = requests.post(
            platform.graphql, json={"query": SENSOR_TICK_QUERY, "variables": {"sensor": selector}}, timeout=30
        ).json()["data"]
        ticks = data["sensorOrError"]["sensorState"]["ticks"]
        return float(ticks[0]["timestamp"]) if ticks else 0.0
    except (requests.RequestException, KeyError, TypeError, ValueError):
        return 0.0


def _names(pids: list[int]) -> list[str]:
    """Process names of `pids` still running."""
    names = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            names.append(psutil.Process(pid).name())
    return names


def _daemons(home: Path) -> list[psutil.Process]:
    """The Dagster daemon processes started for `home`."""
    found = []
    for pid in processes_of(home):
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if any(n in " ".join(process.cmdline()) for n in DAEMON_NEEDLES):
                found.append(process)
    return found


def _a_successful_poll(platform: Platform) -> None:
    """Wait for a poll of the last 10 minutes to have succeeded (the platform is up)."""
    wait_for(
        "a successful poll",
        lambda: _polls_done(
            platform.instance, dg.DagsterRunStatus.SUCCESS, datetime.now(UTC) - timedelta(minutes=10)
        ),
        420,
        platform,
    )


def _working_again(platform: Platform, back: float, fault_at: datetime, fault: str) -> dg.DagsterRun:
    """Wait for the daemon to tick `dead_run_reaper` after `back` (epoch seconds) and for a poll of a
    slot after `fault_at` to succeed; returns that poll."""
    wait_for(
        "dead_run_reaper ticking again", lambda: _last_tick(platform, "dead_run_reaper") > back, 180, platform
    )
    return wait_for(
        f"a successful poll after the {fault}",
        lambda: _polls_done(platform.instance, dg.DagsterRunStatus.SUCCESS, _next_slot(fault_at)),
        240,
        platform,
    )[-1]


def test_a_killed_daemon_is_started_again_and_the_platform_carries_on(platform: Platform) -> None:
    _a_successful_poll(platform)
    killed = _daemons(platform.home)
    assert killed, "no daemon process under steam-platform dev"
    killed_at = datetime.now(UTC)
    for process in killed:
        process.kill()
    old = {p.pid for p in killed}
    wait_for("a new daemon", lambda: [p for p in _daemons(platform.home) if p.pid not in old], 120, platform)
    after = _working_again(platform, time.time(), killed_at, "kill")
    assert "starting it again" in platform.log.read_text(errors="replace")
    print(f"daemon killed at {killed_at:%H:%M:%S}; poll {after.run_id} succeeded after it")


def test_the_daemon_keeps_working_when_its_postgres_restarts(
    platform: Platform, local_stack: LocalStack
) -> None:
    instance = platform.instance
    _a_successful_poll(platform)
    (postgres,) = [s for s in local_stack.services if s.name == "postgres"]
    restarted_at = datetime.now(UTC)
    postgres.stop()
    postgres.start()
    deadline = time.monotonic() + 120
    while not postgres.healthy():
        assert time.monotonic() < deadline, "Postgres did not come back"
        time.sleep(1)
    # The restarted server belongs to the session's stack, not to this platform's teardown.
    swept = _names(processes_of(platform.home))
    assert not [name for name in swept if name.startswith("postgres")], swept

    # The daemon ticks again: the reaper's sensor and the poll schedule, whose next run succeeds.
    after = _working_again(platform, time.time(), restarted_at, "restart")

    # No run created up to then (before, during or after the restart) is left in flight: each
    # finished or was failed (a worker that lost its storage for good is failed by the reaper).
    until = datetime.now(UTC)

    def settled() -> bool:
        return not instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT, created_before=until))

    wait_for("every run created so far finished or failed", settled, 300, platform)
    print(f"Postgres restarted at {restarted_at:%H:%M:%S}; poll {after.run_id} succeeded after it")


def test_a_steam_storm_fails_its_polls_cleanly_and_everything_resumes_unattended(
    platform: Platform, stack_env: dict[str, str]
) -> None:
    instance = platform.instance
    kafka = KafkaResource(bootstrap_servers=stack_env["KAFKA_BOOTSTRAP_SERVERS"])
    topic = sources.PLAYER_COUNTS.topic
    started = datetime.now(UTC)
    first = wait_for(
        "a first scheduled poll",
        lambda: _polls_done(instance, dg.DagsterRunStatus.SUCCESS, started - timedelta(minutes=2)),
        420,
        platform,
    )
    wait_for("no poll in flight", lambda: _no_poll_in_flight(instance), 120, platform)

    # The storm: every Steam call answered 503.
    _set_steam_faults(stack_env, [{"kind": "503"}])
    storm_start = datetime.now(UTC)
    before_storm = watermarks(kafka, topic)
    message, _ = wait_for(
        "a poll failed by the 503s",
        lambda: _polls_met_steam(instance, _next_slot(storm_start)),
        240,
        platform,
    )[-1]
    assert "Steam looks down" in message and "503" in message, message
    # Then 429 with Retry-After.
    _set_steam_faults(stack_env, [{"kind": "429", "retry_after": RETRY_AFTER_S}])
    throttled_from = datetime.now(UTC)
    message, calls = wait_for(
        "a poll failed by the 429s",
        lambda: _polls_met_steam(instance, _next_slot(throttled_from)),
        240,
        platform,
    )[-1]
    assert "Steam looks down" in message and "429" in message, message
    detail = calls["steam_calls_detail"]
    assert detail["http_429"] > 0 and detail["retries"] > 0, detail
    # Every retry waited at least what Retry-After asked (the fallback backoff starts at 1 s).
    assert detail["retry_wait_s"] >= RETRY_AFTER_S * detail["retries"], detail
    assert calls["events_total"] == 0, calls

    # The storm ends; nobody acts.
    _set_steam_faults(stack_env, [])
    lifted = datetime.now(UTC)
    wait_for("the storm's polls finished", lambda: _no_poll_in_flight(instance), 240, platform)
    after_storm = watermarks(kafka, topic)
    storm_polls = [r for r in _polls(instance) if _next_slot(storm_start) <= _slot(r) < _next_slot(lifted)]
    failed = [r for r in storm_polls if r.status == dg.DagsterRunStatus.FAILURE]
    assert len(failed) >= 2, [(r.run_id, r.status) for r in storm_polls]
    for run in storm_polls:
        record = instance.get_run_record_by_id(run.run_id)
        assert record is not None and record.end_time is not None
        if run.status == dg.DagsterRunStatus.SUCCESS:
            # A poll of the storm that waited in the queue (one Steam slot) ran after the lift.
            assert record.end_time >= lifted.timestamp(), run.run_id
        else:
            assert run.status == dg.DagsterRunStatus.FAILURE, (run.run_id, run.status)
            failure = _step_failure(instance, run.run_id)  # None: failed before its step ran
            assert failure is None or failure[1]["events_total"] == 0, run.run_id
    # Nothing invented, nothing half-written: Kafka got only whole snapshots (one event per app),
    # all from polls that ran after the lift.
    tracked = _poll_metadata(instance, first[-1].run_id)
    by_moment: dict[str, list[str]] = {}
    for rec in read_between(kafka, topic, before_storm, after_storm):
        by_moment.setdefault(rec.value["observed_at"], []).append(rec.key)
    for moment, keys in by_moment.items():
        assert len(keys) == len(set(keys)) == tracked["apps_tracked"], moment
        assert datetime.fromisoformat(moment) >= throttled_from, moment

    resumed = wait_for(
        "a successful poll after the storm",
        lambda: _polls_done(instance, dg.DagsterRunStatus.SUCCESS, _next_slot(lifted)),
        240,
        platform,
    )[-1]
    metadata = _poll_metadata(instance, resumed.run_id)
    assert metadata["skipped_count"] == 0, metadata
    assert metadata["events_total"] == metadata["apps_tracked"] > 0, metadata
    # Exactly one snapshot per app for its slot in Kafka (event ids derive from app and slot); it
    # may have landed while the storm's last polls were waited for.
    source = PATHS[EP_PLAYERS].rstrip("/")
    slot = resumed.tags[POLL_SLOT_TAG]
    keys = [
        rec.key
        for rec in read_between(kafka, topic, before_storm, watermarks(kafka, topic))
        if rec.value["event_id"] == make_event_id(source, rec.key, slot)
    ]
    assert len(keys) == len(set(keys)) == metadata["apps_tracked"], (len(keys), len(set(keys)))

    print(
        f"storm {storm_start:%H:%M:%S}-{lifted:%H:%M:%S}: {len(failed)} of {len(storm_polls)} polls failed, "
        f"poll {resumed.run_id} landed {len(keys)} snapshots"
    )
