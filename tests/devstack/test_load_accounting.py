"""`steam-platform load`'s verdicts without servers: lost and doubled events, partition spread, JVM
caps and dead servers, and the events' shapes against the platform's payload contracts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from steam_devstack.load.accounting import Comparison, IdCount, IdTally, check_ids, spread
from steam_devstack.load.command import stack_problem
from steam_devstack.load.events import EventSource
from steam_devstack.load.memory import MIB, JvmLimits, MemoryWatch, jvm_limits, parse_size
from steam_devstack.load.plan import LoadPlan
from steam_devstack.load.produce import produce
from steam_devstack.load.result import LoadResult
from steam_devstack.process import ProcInfo
from steam_platform.events.envelope import Envelope
from steam_platform.events.payloads import NewsPayload, PlayerCountPayload
from steam_platform.resources.kafka import DeliverySummary, OutgoingMessage

IDS = [f"{n:032x}" for n in (0xABC << 100, 0xDEF << 100, 0x123 << 100)]


def _produced(ids: list[str]) -> IdTally:
    tally = IdTally()
    for event_id in ids:
        tally.add(event_id)
    return tally


def _found(rows: list[str]) -> IdCount:
    """What Spark would count for these stored ids (`counts.id_count`)."""
    distinct = set(rows)
    return IdCount(len(rows), len(distinct), _produced(sorted(distinct)).fingerprint)


def _result(**checks: object) -> LoadResult:
    result = LoadResult(LoadPlan("unit", events=3, apps=1), brokers=1)
    for name, value in checks.items():
        getattr(result, name).extend(value)  # type: ignore[arg-type]
    return result


def test_every_event_once_passes_and_exits_zero() -> None:
    check = check_ids("bronze", _produced(IDS), _found(IDS))
    result = _result(id_checks=[check], comparisons=[Comparison("mart samples", 5, 5)])
    assert (check.ok, check.lost, check.doubled) == (True, 0, 0)
    assert (result.ok, result.exit_code, result.problems) == (True, 0, [])


def test_a_lost_event_fails_the_run() -> None:
    check = check_ids("fact_player_counts", _produced(IDS), _found(IDS[:2]))
    result = _result(id_checks=[check])
    assert (check.lost, check.doubled, check.ok) == (1, 0, False)
    assert result.exit_code == 1 and result.lost == 1
    assert "fact_player_counts: 1 lost, 0 doubled of 3 events" in result.problems[0]


def test_a_doubled_event_fails_the_run() -> None:
    check = check_ids("bronze", _produced(IDS), _found([*IDS, IDS[0]]))
    assert (check.lost, check.doubled, check.ok) == (0, 1, False)
    assert _result(id_checks=[check]).exit_code == 1


def test_a_swapped_id_is_a_loss_even_when_the_counts_agree() -> None:
    """As many distinct ids as produced, but one is not ours: the fingerprint tells."""
    stranger = f"{0x777 << 100:032x}"
    check = check_ids("bronze", _produced(IDS), _found([*IDS[:2], stranger]))
    assert (check.ids_match, check.lost, check.ok) == (False, 1, False)
    assert "not the ids produced" in _result(id_checks=[check]).problems[0]


def test_an_aggregate_that_differs_fails_the_run() -> None:
    result = _result(comparisons=[Comparison("search steam_news documents", 10, 9)])
    assert (result.lost, result.exit_code) == (1, 1)
    assert result.problems == ["search steam_news documents: expected 10, found 9"]


def test_spread_is_max_over_mean_with_empty_partitions_counted() -> None:
    acked = {("t", 0): 10, ("t", 1): 30, ("other", 2): 99}
    s = spread(acked, "t", partitions=3)
    assert s.per_partition == {0: 10, 1: 30, 2: 0}
    assert (s.max, round(s.mean, 2), s.ratio) == (30, 13.33, 2.25)
    assert spread({("t", p): 5 for p in range(6)}, "t", 6).ratio == 1.0


def test_jvm_limits_come_from_the_command_line() -> None:
    es = ["/usr/bin/java", "-Xms512m", "-Xmx512m", "-XX:MaxDirectMemorySize=256m", "Launcher"]
    kafka = ["java", "-Xmx1g", "-Xmx512m", "-cp", "x", "kafka.Kafka"]  # the last flag wins, as in Java
    assert jvm_limits(es) == JvmLimits(512 * MIB, 256 * MIB)
    assert jvm_limits(kafka) == JvmLimits(512 * MIB)
    assert jvm_limits(["postgres", "-D", "data"]) is None
    assert jvm_limits(["java", "-version"]) is None
    assert JvmLimits(512 * MIB, 256 * MIB).cap(384 * MIB) == (512 + 256 + 384) * MIB
    assert JvmLimits(512 * MIB).cap(384 * MIB) == (512 + 512 + 384) * MIB  # direct defaults to the heap
    assert parse_size("262144k") == 256 * MIB and parse_size("2G") == 2 * 2**30
    with pytest.raises(ValueError, match="not a JVM size"):
        parse_size("lots")


def _proc(ppid: int, rss_mib: int, start: int = 1, pgid: int = 0) -> ProcInfo:
    return ProcInfo(ppid=ppid, state="sleeping", pgid=pgid, start_ticks=start, rss_bytes=rss_mib * MIB)


def test_memory_watch_flags_a_jvm_over_its_cap_and_a_server_that_died() -> None:
    """Fake process tables: Kafka (a JVM, heap 512m) grows past 512+512+384 MiB, then dies; the
    driver JVM (a child of this process) stays within its cap."""
    cmdlines = {
        1: [".venv/bin/steam-platform", "load"],
        10: ["java", "-Xmx512m", "kafka.Kafka"],
        20: ["java", "-Xmx1g", "org.apache.spark.deploy.SparkSubmit", "pyspark-shell"],
        21: ["python3", "-m", "pyspark.daemon"],
    }
    watch = MemoryWatch({"kafka-1": 10}, own_pid=1, cmdline=lambda pid: cmdlines[pid])
    first = {1: _proc(0, 100), 10: _proc(1, 900, pgid=10), 20: _proc(1, 1500), 21: _proc(20, 80)}
    watch._started = {"kafka-1": 1}
    watch.sample(first)
    watch.sample({**first, 10: _proc(1, 1500, pgid=10)})
    watch.sample({1: _proc(0, 100), 20: _proc(1, 1400), 21: _proc(20, 60)})  # kafka gone
    report = watch.report
    assert report.died == ["kafka-1"]
    assert report.peak_rss == {
        "kafka-1": 1500 * MIB,
        "load-python": 100 * MIB,
        "spark-driver": 1500 * MIB,
        "spark-python-workers": 80 * MIB,
    }
    assert [(j.label, j.pid) for j in report.over_cap(384 * MIB)] == [("kafka-1", 10)]
    result = _result()
    result.memory = report
    assert result.exit_code == 1
    assert any(
        "kafka-1 (pid 10) peaked at 1,500 MiB RSS, above its cap of 1,408 MiB" in p for p in result.problems
    )
    assert "server kafka-1 died during the load (OOM-killed or crashed)" in result.problems


def test_events_meet_the_platform_contracts_and_are_tallied() -> None:
    """A small plan's events: the shapes ingest sends, every id distinct, the tallies exact."""
    plan = LoadPlan("unit", events=250, apps=10, news_every=50)
    source = EventSource(plan)
    messages = [m for batch in source.batches() for m in batch]
    envelopes = [Envelope.model_validate_json(m.value) for m in messages]
    players = [e for e, m in zip(envelopes, messages, strict=True) if m.topic == plan.players_topic]
    news = [e for e, m in zip(envelopes, messages, strict=True) if m.topic == plan.news_topic]
    assert (len(players), len(news)) == (plan.player_counts, plan.news) == (245, 5)
    assert len({e.event_id for e in envelopes}) == 250
    for event in players:
        PlayerCountPayload.model_validate(event.payload)
    for event in news:
        NewsPayload.model_validate(event.payload)
    expected = source.expected
    assert (expected.players.count, expected.news.count) == (245, 5)
    assert expected.players.fingerprint == _produced([e.event_id for e in players]).fingerprint
    assert expected.live == sum("player_count" in e.payload for e in players)
    assert expected.app_days == {(e.payload["appid"], e.observed_at.date()) for e in envelopes}
    assert plan.days == sorted({e.observed_at.date() for e in envelopes})
    assert all(m.key == str(e.payload["appid"]) for m, e in zip(messages, envelopes, strict=True))


def test_load_refuses_a_folder_without_a_running_stack(tmp_path: Path) -> None:
    assert stack_problem(tmp_path) == f"no stack in {tmp_path}: run `steam-platform stack up` first"
    assert not (tmp_path / "stack.json").exists()


class _FakeKafka:
    """`produce_all` acknowledging every record on partition `len(key) % 3`."""

    def produce_all(self, messages: list[OutgoingMessage]) -> DeliverySummary:
        summary = DeliverySummary()
        for m in messages:
            summary.acked[(m.topic, len(m.key) % 3)] += 1
            summary.bytes_acked += len(m.value)
        return summary


def test_produce_paces_to_the_target_rate_and_sums_what_was_acked() -> None:
    batches = [[OutgoingMessage("t", key="k" * (i % 4 + 1), value=b"x" * 10) for i in range(100)]] * 10
    started = time.perf_counter()
    produced = produce(_FakeKafka(), batches, rate=2000)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert elapsed >= 0.45  # the tenth batch may start at 900 / 2000 s
    assert (produced.run.sent, produced.run.acked, produced.run.bytes_acked) == (1000, 1000, 10_000)
    assert produced.acked == {("t", 1): 250 + 250, ("t", 2): 250, ("t", 0): 250}
    flat_out = produce(_FakeKafka(), batches)  # type: ignore[arg-type]
    assert flat_out.run.seconds < 0.45
