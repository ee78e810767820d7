"""`steam-platform history` without servers: shapes and counts per day, determinism, the bronze
batch id, and resuming (a lake on the local filesystem, Kafka faked by a recording producer)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from steam_devstack.history.bronze_files import (
    BRONZE_FILE_SCHEMA,
    HISTORY_BATCH_ID,
    day_file,
    manifest_file,
    read_manifest,
)
from steam_devstack.history.curves import day_counts
from steam_devstack.history.generate import (
    DETAILS_SOURCE,
    PLAYERS_SOURCE,
    app_details_day,
    news_day,
    player_count_event_id,
    player_counts_day,
)
from steam_devstack.history.layers import build_layers, plan_runs
from steam_devstack.history.plan import HistoryPlan, HistoryWorld
from steam_devstack.history.run import HistoryTargets, run_history
from steam_platform.assets.lake.refresh_events import RANGE_END_TAG, RANGE_START_TAG
from steam_platform.core import sources
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.spark_steps import WHOLE_TABLE
from steam_platform.events.envelope import make_event_id
from steam_platform.events.payloads import validation_error
from steam_platform.resources.kafka import DeliverySummary, OutgoingMessage, TopicSpec
from streaming.envelope_schema import BRONZE_COLUMNS

PLAN = HistoryPlan(days=2, apps=5, end_date=date(2026, 6, 29))  # a Saturday and Sunday of the summer sale
NOW = datetime(2026, 12, 4, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> HistoryWorld:
    return HistoryWorld(PLAN)


class RecordingProducer:
    """Kafka stand-in: records what would be produced; `fail_on` makes one day's send fail."""

    def __init__(self, fail_on: date | None = None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.fail_on = fail_on

    def ensure_topics(self, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> object:
        return list(specs)

    def produce_all(
        self, messages: Iterable[OutgoingMessage], flush_timeout_s: float = 120.0
    ) -> DeliverySummary:
        batch = list(messages)
        days = {json.loads(m.value)["observed_at"][:10] for m in batch}
        if self.fail_on is not None and self.fail_on.isoformat() in days:
            raise RuntimeError("broker gone")
        self.sent += batch
        return DeliverySummary()


def test_a_day_of_player_counts_is_every_app_at_every_poll_slot(world: HistoryWorld) -> None:
    day = PLAN.first_day
    table = player_counts_day(world, day, NOW)
    assert table.schema == BRONZE_FILE_SCHEMA
    assert table.column_names == [c for c in BRONZE_COLUMNS if c not in ("dt", "batch_id")]
    assert table.num_rows == 5 * 144
    rows = table.to_pylist()
    assert len({r["event_id"] for r in rows}) == table.num_rows
    assert {r["observed_at"].date() for r in rows} == {day}
    assert {r["kafka_offset"] for r in rows} == {None} and {r["kafka_partition"] for r in rows} == {None}
    assert {r["kafka_topic"] for r in rows} == {sources.PLAYER_COUNTS.topic}
    first = rows[0]
    payload = json.loads(first["payload"])
    assert validation_error(sources.PLAYER_COUNTS.topic, payload) is None
    assert payload["appid"] == world.apps[0].appid == int(first["kafka_key"])
    assert first["partition_key"] == f"{day.isoformat()}-00:00"
    slot = datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()
    assert first["event_id"] == make_event_id(PLAYERS_SOURCE, payload["appid"], slot)  # as the ingest asset


def test_the_fast_event_id_is_the_envelopes() -> None:
    for appid, slot in [(730, "2026-06-27T00:10:00+00:00"), (3_900_010, "2025-12-31T23:50:00+00:00")]:
        assert player_count_event_id(appid, slot) == make_event_id(PLAYERS_SOURCE, appid, slot)


def test_history_counts_follow_the_simulators_curve(world: HistoryWorld) -> None:
    app = world.apps[0]
    counts = day_counts(world.world.news, app, PLAN.first_day, 10)
    start = datetime(*PLAN.first_day.timetuple()[:3], tzinfo=UTC).timestamp()
    for slot in (0, 37, 90, 143):
        simulated = world.world.counts.count(app.appid, start + slot * 600)
        assert simulated is not None and counts[slot] is not None
        assert abs(counts[slot] / simulated - 1) < 0.07  # both within ±3 % noise of one curve


def test_news_and_details_are_what_ingest_sends(world: HistoryWorld) -> None:
    news = [m for day in PLAN.day_list() for m in news_day(world, day)]
    details = app_details_day(world, PLAN.first_day)
    assert news, "the five most popular apps post news every few days"
    assert 1 <= len(details) <= 5 and all(m.topic == sources.APPS.topic for m in details)
    for message in [*news, *details]:
        envelope = json.loads(message.value)
        assert validation_error(message.topic, envelope["payload"]) is None
        assert message.key == str(envelope["payload"]["appid"])
    envelope = json.loads(details[0].value)
    assert envelope["source"] == DETAILS_SOURCE and envelope["partition_key"] == PLAN.first_day.isoformat()
    for message in news:
        envelope = json.loads(message.value)
        published = datetime.fromtimestamp(envelope["payload"]["date"], UTC)
        assert envelope["event_id"] == make_event_id(envelope["source"], envelope["payload"]["gid"])
        assert published.date().isoformat() == envelope["partition_key"] == envelope["observed_at"][:10]


def test_generation_is_deterministic(world: HistoryWorld) -> None:
    again = HistoryWorld(PLAN)
    day = PLAN.last_day
    assert player_counts_day(again, day, NOW).equals(player_counts_day(world, day, NOW))
    assert app_details_day(again, day) == app_details_day(world, day)
    assert news_day(again, day) == news_day(world, day)
    other_seed = HistoryWorld(HistoryPlan(days=2, apps=5, end_date=PLAN.end_date, seed=8))
    assert player_counts_day(other_seed, day, NOW)["payload"] != player_counts_day(world, day, NOW)["payload"]


def test_prices_change_over_a_year_so_the_app_dimension_has_versions() -> None:
    year = HistoryWorld(HistoryPlan(days=365, apps=30, end_date=date(2026, 12, 1)))
    prices: dict[int, set[int | None]] = {}
    for day in year.plan.day_list()[::7]:
        for message in app_details_day(year, day):
            payload = json.loads(message.value)["payload"]
            prices.setdefault(payload["appid"], set()).add(payload.get("price_overview", {}).get("final"))
    changed = [appid for appid, seen in prices.items() if len(seen) > 1]
    assert len(changed) >= len(prices) // 2, prices  # every priced app is on sale in Steam's sales


def test_history_files_sit_below_every_streaming_batch() -> None:
    assert HISTORY_BATCH_ID < 0  # micro-batch ids start at 0: no landing overwrites history
    topic = sources.PLAYER_COUNTS.topic
    path = day_file("bucket/lake", topic, date(2026, 1, 2))
    assert path == f"bucket/lake/bronze/{topic}/dt=2026-01-02/batch_id=-1/part-00000-history.parquet"


def _targets(tmp_path: Path, producer: RecordingProducer) -> HistoryTargets:
    return HistoryTargets(pafs.LocalFileSystem(), str(tmp_path / "lake"), producer)


def test_a_rerun_skips_finished_days_and_finishes_the_interrupted_one(tmp_path: Path) -> None:
    for day in PLAN.day_list():  # the local filesystem needs the folders S3 does not
        (tmp_path / "lake" / "bronze" / sources.PLAYER_COUNTS.topic / f"dt={day}" / "batch_id=-1").mkdir(
            parents=True
        )
    for topic in sources.DATA_TOPICS:
        (tmp_path / "lake" / "_history" / topic).mkdir(parents=True)
    broken = RecordingProducer(fail_on=PLAN.last_day)
    with pytest.raises(RuntimeError, match="broker gone"):
        run_history(PLAN, _targets(tmp_path, broken))
    fs, root = pafs.LocalFileSystem(), str(tmp_path / "lake")
    first, last = PLAN.first_day, PLAN.last_day
    assert read_manifest(fs, root, sources.NEWS.topic, first) is not None
    assert read_manifest(fs, root, sources.NEWS.topic, last) is None  # its send failed: not finished

    producer = RecordingProducer()
    report = run_history(PLAN, _targets(tmp_path, producer))
    counts = report.tallies[sources.PLAYER_COUNTS.topic]
    assert (counts.days_skipped, counts.days_written) == (2, 0)
    news, apps = report.tallies[sources.NEWS.topic], report.tallies[sources.APPS.topic]
    assert (news.days_skipped, news.days_written) == (1, 1)
    assert (apps.days_skipped, apps.days_written) == (1, 1)
    assert {json.loads(m.value)["observed_at"][:10] for m in producer.sent} == {last.isoformat()}
    assert pq.read_table(day_file(root, sources.PLAYER_COUNTS.topic, last)).num_rows == 5 * 144

    Path(manifest_file(root, sources.PLAYER_COUNTS.topic, first)).write_text(
        json.dumps(
            {
                "topic": sources.PLAYER_COUNTS.topic,
                "day": str(first),
                "via": "bronze",
                "rows": 1,
                "identity": {},
            }
        )
    )  # written by a plan with another identity: written again
    Path(day_file(root, sources.PLAYER_COUNTS.topic, last)).unlink()  # a file lost after its manifest
    again = run_history(PLAN, _targets(tmp_path, RecordingProducer()))
    assert again.tallies[sources.PLAYER_COUNTS.topic].days_written == 2
    manifest = read_manifest(fs, root, sources.PLAYER_COUNTS.topic, first)
    assert manifest is not None and manifest.rows == 5 * 144 and manifest.identity == PLAN.identity()


def test_the_command_needs_a_running_stack_and_partitions_covering_the_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from steam_devstack.cli import app

    monkeypatch.setenv("STEAM_STACK_DIR", str(tmp_path))  # the command points the settings at its stack
    runner = CliRunner()
    missing = runner.invoke(app, ["history", "--days", "2", "--apps", "5", "--state-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "stack up" in missing.output
    (tmp_path / "env").write_text("")  # a stack was brought up here
    early = [
        "history",
        "--days",
        "2",
        "--end-date",
        "2025-06-01",
        "--state-dir",
        str(tmp_path),
        "--build-layers",
    ]
    refused = runner.invoke(app, early)  # refused before anything is written
    assert refused.exit_code == 2 and "STEAM_PARTITIONS_START=2025-05-30" in refused.output


def test_build_layers_runs_each_layer_a_chunk_of_days_at_a_time_and_a_rerun_skips_what_it_built() -> None:
    """Bronze once, whole tables once over the range, then the Spark layers chunk by chunk in
    data-flow order, search in one run (stand-in assets, an ephemeral instance); the same range
    again makes no run."""

    def stand_in(
        name: str, group: str | None = None, whole: bool = False, kinds: set[str] | None = None
    ) -> dg.AssetsDefinition:
        @dg.asset(
            name=name,
            group_name=group,
            partitions_def=daily_partitions if group else None,
            metadata={"partitioned_by": WHOLE_TABLE if whole else "dt"},
            kinds=kinds or {"spark"},
        )
        def _a() -> None:
            return None

        return _a

    defs = dg.Definitions(
        assets=[
            stand_in(sources.NEWS.bronze_asset),
            stand_in(sources.APPS.bronze_asset),
            stand_in("fact", "warehouse"),
            stand_in("dim", "warehouse", whole=True),
            stand_in("mart", "marts"),
            stand_in("search", "search", kinds={"elasticsearch"}),
        ]
    )
    first, last = date(2026, 11, 1), date(2026, 11, 5)
    labels = [run.label for run in plan_runs(defs, first, last, chunk_days=2)]
    assert labels == [
        "bronze (news, apps from Kafka)",
        "warehouse (whole tables) 2026-11-01..2026-11-05",
        *(
            f"{layer} {span}"
            for layer in ("warehouse", "marts")
            for span in ("2026-11-01..2026-11-02 (1/3)", "2026-11-03..2026-11-04 (2/3)", "2026-11-05 (3/3)")
        ),
        "search 2026-11-01..2026-11-05",
    ]
    with dg.DagsterInstance.ephemeral() as instance:
        runs = build_layers(defs, instance, first, last, chunk_days=2)
        assert [r.label for r in runs] == labels and all(r.success and not r.skipped for r in runs)
        tags = [instance.get_run_by_id(r.run_id).tags for r in runs]  # type: ignore[union-attr]
        assert [(t.get(RANGE_START_TAG), t.get(RANGE_END_TAG)) for t in tags[1:6]] == [
            ("2026-11-01", "2026-11-05"),
            ("2026-11-01", "2026-11-02"),
            ("2026-11-03", "2026-11-04"),
            (None, None),  # one day: the run's partition key
            ("2026-11-01", "2026-11-02"),
        ]
        assert instance.get_materialized_partitions(dg.AssetKey("search")) == {
            f"2026-11-0{d}" for d in range(1, 6)
        }
        again = build_layers(defs, instance, first, last, chunk_days=2)
    assert [r.skipped for r in again] == [False] + [True] * (len(labels) - 1)  # bronze always lands
