"""The platform runs itself: the real Dagster daemon, on the real servers, with nobody clicking.

`steam-platform dev` (what `make dev` runs: the webserver, the daemon with its schedules, sensors,
run queue and backfills, and the supervised code server) on the Postgres instance of
`deploy/dagster.yaml`, a fresh lake bucket, player counts polled every minute, and runs attached to
the stack's Spark Connect server (as `stack up` starts it by default):
- a poll reaches Elasticsearch through bronze, silver, marts and search in one automated run;
- the closed day (yesterday) is rebuilt once after the first refresh of today;
- lake runs never overlap (pools + the sensor's one-in-flight rule);
- a news backfill of three past days (the one user action) reaches Elasticsearch with no further
  action, each Spark layer in one run over the range;
- last, the code server is SIGKILLed mid lake run with its run worker: it comes back, the location
  loads again, sensors tick again, the run is failed, retried, and its data lands.

The backfill is launched as soon as the daemon runs, so its runs interleave with the polls' as they
would in production (the sensor lets polls and rebuilds of other days take turns), and the two
tests wait for their outcomes over the same few minutes instead of one after the other.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import dagster as dg
import psutil
import pyarrow.dataset as pads
import pytest
import requests
from dev_support import VENV_BIN, open_instance, processes_of, steam_platform_dev, wait_until

from steam_devstack.paths import REPO_ROOT
from steam_devstack.services.spark_connect import REMOTE_ENV, SparkConnectService
from steam_platform.assets.lake.refresh_events import LAKE_RUN_TAG, RANGE_END_TAG, RANGE_START_TAG
from steam_platform.assets.operations.run_reaper import RunWorker, run_worker, worker_alive
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.s3 import S3Resource

pytestmark = pytest.mark.integration

T = TypeVar("T")
TODAY = datetime.now(UTC).date()
YESTERDAY = (TODAY - timedelta(days=1)).isoformat()
BACKFILL = [(TODAY - timedelta(days=n)).isoformat() for n in (4, 3, 2)]


@dataclass
class Daemon:
    """A running daemon and what the test needs to look at its work."""

    instance: dg.DagsterInstance
    env: dict[str, str]
    bucket: str
    log: Path
    backfill: subprocess.CompletedProcess[str]
    home: Path
    graphql: str
    code_server_port: int


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout_s: float,
    daemon: Daemon,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll `probe` every 3 s until it returns a truthy value; fail with the daemon's log tail (and
    what `explain` says of the state waited on).

    Timeouts are generous: on two busy cores one lake run (cold Spark, every layer) can take
    minutes; on an idle machine the whole module takes about six."""
    return wait_until(what, probe, timeout_s, daemon.log, daemon.instance, interval_s=3, explain=explain)


@pytest.fixture(scope="module")
def daemon(stack_env: dict[str, str], s3: S3Resource, spark_connect: SparkConnectService) -> Iterator[Daemon]:
    """`steam-platform dev` on the stack, polling every minute into a fresh bucket; dead run workers
    looked for every 10 s; its runs attach to the stack's Spark Connect server, as `stack up`'s do."""
    remote = {REMOTE_ENV: spark_connect.remote}
    with steam_platform_dev(stack_env, s3, "steam-daemon", extra_env=remote) as dev:
        backfill = _launch_news_backfill(dev.env)
        with open_instance(dev) as instance:
            yield Daemon(
                instance, dev.env, dev.bucket, dev.log, backfill, dev.home, dev.graphql, dev.code_server_port
            )


def _launch_news_backfill(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`dagster job backfill` of `news_job` over BACKFILL, as a person types it while the daemon runs."""
    return subprocess.run(
        [
            str(VENV_BIN / "dagster"),
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "news_job",
            "--from",
            BACKFILL[0],
            "--to",
            BACKFILL[-1],
            "--noprompt",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _lake_runs(instance: dg.DagsterInstance, kind: str, **tags: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(tags={LAKE_RUN_TAG: kind, **tags})))


def _succeeded(runs: list[dg.DagsterRun]) -> list[dg.DagsterRun]:
    return [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]


def _materialised_by(instance: dg.DagsterInstance, asset: str, partition: str) -> str | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0].run_id if records else None


def _lake_rows(s3: S3Resource, bucket: str, table_path: str, day: str) -> int:
    fs = s3.filesystem()
    path = f"{bucket}/lake/{table_path}/dt={day}"
    if not fs.get_file_info(path).type.value:
        return 0
    return pads.dataset(path, filesystem=fs, format="parquet").count_rows()


@pytest.fixture(scope="module")
def es(es_resource: ElasticsearchResource) -> Iterator[SearchClient]:
    """A plain client: unlike the shared `es` fixture it deletes no index under the daemon's runs."""
    client = es_resource.client()
    yield client
    client.close()


def test_a_poll_reaches_search_unattended_and_the_closed_day_is_finalised(
    daemon: Daemon, es: SearchClient
) -> None:
    instance = daemon.instance
    today = TODAY.isoformat()
    counts = dg.AssetKey("bronze_player_counts")
    poll = wait_for(
        "the first automated lake run of today that landed player counts",
        lambda: [
            r
            for r in _succeeded(_lake_runs(instance, "poll", **{"dagster/partition": today}))
            if counts in (r.asset_selection or set())
        ],
        900,
        daemon,
    )[-1]
    assert poll.tags.get("dagster/sensor_name") == "lake_refresh_sensor"
    # That one run landed, rebuilt and indexed today.
    for asset in ("bronze_player_counts", "fact_player_counts", "mart_game_daily", "search_game_daily"):
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset)), limit=50
        ).records
        assert poll.run_id in {r.run_id for r in records}, asset
    hits = es.search(
        "mart_game_daily",
        {"query": {"bool": {"filter": [{"term": {"dt": today}}, {"range": {"samples": {"gte": 1}}}]}}},
    )
    assert hits["hits"]["total"]["value"] > 0

    final = wait_for(
        "the rebuild of yesterday",
        lambda: _succeeded(_lake_runs(instance, "days", **{"dagster/partition": YESTERDAY})),
        900,
        daemon,
    )[-1]
    for asset in ("fact_player_counts", "fact_news", "fact_playtime", "dim_app", "mart_game_daily"):
        assert _materialised_by(instance, asset, YESTERDAY) == final.run_id, asset

    # Never two lake runs at once.
    runs = sorted(
        (r for r in instance.get_runs(dg.RunsFilter(tags={LAKE_RUN_TAG: ["poll", "days"]}))),
        key=lambda r: r.run_id,
    )
    spans = []
    for run in runs:
        record = instance.get_run_record_by_id(run.run_id)
        if record and record.start_time and record.end_time:
            spans.append((record.start_time, record.end_time))
    spans.sort()
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_a_news_backfill_reaches_search_with_one_run_per_spark_layer(
    daemon: Daemon, es: SearchClient, s3: S3Resource
) -> None:
    instance = daemon.instance
    assert daemon.backfill.returncode == 0, daemon.backfill.stderr[-2000:]

    def rebuilt() -> str | None:
        runs = {_materialised_by(instance, "search_news", day) for day in BACKFILL}
        return runs.pop() if len(runs) == 1 and None not in runs else None

    run_id = wait_for("the backfilled news days in search", rebuilt, 900, daemon)
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.tags[LAKE_RUN_TAG] == "days"
    assert run.tags[RANGE_START_TAG] <= BACKFILL[0] and run.tags[RANGE_END_TAG] >= BACKFILL[-1]
    for asset in ("fact_news", "mart_game_daily", "mart_news_impact", "search_news"):
        assert {_materialised_by(instance, asset, day) for day in BACKFILL} == {run_id}, asset
    rows = sum(_lake_rows(s3, daemon.bucket, "warehouse/fact_news", day) for day in BACKFILL)
    assert rows > 0, "the simulator publishes news every few days: three days should hold some"
    es.refresh("steam_news")
    indexed = es.count("steam_news", {"range": {"dt": {"gte": BACKFILL[0], "lte": BACKFILL[-1]}}})
    assert indexed == rows


LOCATION_QUERY = """
query Recovery($sensor: SensorSelector!) {
  workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus updatedTimestamp locationOrLoadError { __typename }
  } } }
  sensorOrError(sensorSelector: $sensor) { ... on Sensor { sensorState { ticks(limit: 1) { timestamp } } } }
}
"""


def _code_process(daemon: Daemon) -> psutil.Process | None:
    """The process that holds the code (`dagster api grpc`) under the supervised code server."""
    for pid in processes_of(daemon.home):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.cmdline()[1:5] == ["-m", "dagster", "api", "grpc"]:
                return proc
    return None


def _in_flight_lake_run(instance: dg.DagsterInstance) -> tuple[dg.DagsterRun, RunWorker] | None:
    started = instance.get_runs(
        dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={LAKE_RUN_TAG: ["poll", "days"]})
    )
    for run in started:
        worker = run_worker(instance, run.run_id)
        if worker is not None and worker_alive(worker):
            return run, worker
    return None


def _ui_state(daemon: Daemon) -> tuple[str, float, float]:
    """What the webserver shows: the location's type and load time, the last lake_refresh_sensor tick."""
    sensor = {
        "repositoryLocationName": "steam_platform",
        "repositoryName": "__repository__",
        "sensorName": "lake_refresh_sensor",
    }
    data = requests.post(
        daemon.graphql, json={"query": LOCATION_QUERY, "variables": {"sensor": sensor}}, timeout=30
    ).json()["data"]
    (entry,) = data["workspaceOrError"]["locationEntries"]
    ticks = data["sensorOrError"].get("sensorState", {}).get("ticks") or [{"timestamp": 0}]
    return entry["locationOrLoadError"]["__typename"], entry["updatedTimestamp"], ticks[0]["timestamp"]


def _frozen_lake_run(daemon: Daemon) -> tuple[dg.DagsterRun, RunWorker, list[psutil.Process]] | None:
    """A lake run still in flight with its worker stopped (SIGSTOP), and the code server's processes
    (the worker among them) to kill; None when the run ended before its worker was frozen.

    Freezing first closes a race: a run seen STARTED may write its success in the moment before the
    kill lands, and a finished run is never failed."""
    found = _in_flight_lake_run(daemon.instance)
    code = _code_process(daemon)
    if found is None or code is None:
        return None
    run, worker = found
    victims = [code, *code.children(recursive=True)]  # the run worker and its Spark driver with it
    (process,) = [p for p in victims if p.pid == worker.pid]
    with contextlib.suppress(psutil.NoSuchProcess):
        process.suspend()
    time.sleep(1)  # a status write sent just before the stop commits
    if daemon.instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED:  # type: ignore[union-attr]
        return run, worker, victims
    with contextlib.suppress(psutil.NoSuchProcess):
        process.resume()
    return None


def _run_and_worker(instance: dg.DagsterInstance, run_id: str, worker: RunWorker) -> str:
    """The run's status and what holds its worker's pid now (for a failed wait's message)."""
    run = instance.get_run_by_id(run_id)
    try:
        process = psutil.Process(worker.pid)
        held = f"{process.status()} {process.name()} {' '.join(process.cmdline())[:200]!r}"
    except psutil.Error as error:
        held = type(error).__name__
    status = run.status if run else None
    return f"run {run_id} {status}; pid {worker.pid}: {held}; alive={worker_alive(worker)}"


def test_the_platform_recovers_when_its_code_server_is_killed(daemon: Daemon) -> None:
    instance = daemon.instance
    run, worker, victims = wait_for("a lake run in flight", lambda: _frozen_lake_run(daemon), 600, daemon)
    code = victims[0]
    killed_at = time.time()
    for proc in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()

    # The code location is loaded again, by the webserver and the daemon, without a person.
    def reloaded() -> bool:
        back = _code_process(daemon)
        if back is None or back.pid == code.pid:
            return False
        with contextlib.suppress(requests.RequestException, KeyError, TypeError, ValueError):
            kind, loaded_at, last_tick = _ui_state(daemon)
            return kind == "RepositoryLocation" and loaded_at > killed_at and last_tick > loaded_at
        return False

    wait_for("the location reloaded and lake_refresh_sensor ticking again", reloaded, 120, daemon)
    recovered_s = time.time() - killed_at

    # The run whose worker was killed is failed by dead_run_reaper (a sensor, so it ticks again too).
    wait_for(
        "the killed run failed",
        lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE,  # type: ignore[union-attr]
        300,
        daemon,
        explain=lambda: _run_and_worker(instance, run.run_id, worker),
    )
    failed_s = time.time() - killed_at
    (failure,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "dead_run_reaper" in (failure.dagster_event.message or "")  # type: ignore[union-attr]

    # It is re-executed (run_retries), and what it was carrying lands.
    retry = wait_for(
        "the retry of the killed run to succeed",
        lambda: _succeeded(
            list(instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run.run_id})))
        ),
        600,
        daemon,
    )[0]
    # Every asset the run was to rebuild holds the run's data: landed by it before the kill, or since.
    partition = run.tags.get("dagster/partition")
    redone = set()
    for key in run.asset_selection or ():
        # The run's day for the daily layers; bronze is not partitioned (it lands whole topics).
        records = []
        if partition:
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
        if not records:  # a range run, or an asset the day does not partition (bronze): its latest
            records = [
                r
                for r in instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key), limit=1
                ).records
            ]
        assert records, f"{key.to_user_string()} never materialised"
        latest = records[0]
        assert latest.run_id == run.run_id or latest.timestamp > killed_at, key.to_user_string()
        if latest.run_id == retry.run_id:
            redone.add(key)
    assert redone, "the retry re-materialised nothing the killed run left undone"
    print(
        f"code server killed mid run {run.run_id}: location back in {recovered_s:.0f} s, run failed in "
        f"{failed_s:.0f} s, retry {retry.run_id} done {time.time() - killed_at:.0f} s after the kill"
    )
