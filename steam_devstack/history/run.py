"""Generate the plan's days in order, each source of a day written the way it is sized for.

Player counts go straight to bronze (`bronze_files`), news and app details through Kafka (see the
package docstring for why). Per source and day the manifest is written last: a day whose manifest
exists with the plan's identity is skipped, so a killed run resumes where it stopped. One day is in
memory at a time (144,000 player-count rows for 1,000 apps at 10-minute polls).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

import pyarrow.fs as pafs

from steam_devstack.history.bronze_files import (
    DayManifest,
    file_rows,
    read_manifest,
    write_day,
    write_manifest,
)
from steam_devstack.history.generate import app_details_day, news_day, player_counts_day
from steam_devstack.history.plan import HistoryPlan, HistoryWorld
from steam_platform.assets.bus.topics import topic_specs
from steam_platform.core import sources
from steam_platform.resources.kafka import DeliverySummary, OutgoingMessage, TopicSpec

VIA_BRONZE = "bronze"
VIA_KAFKA = "kafka"


@dataclass
class SourceTally:
    """What one source got: days written and skipped (finished before), rows, bytes, seconds."""

    via: str
    days_written: int = 0
    days_skipped: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class HistoryReport:
    """Per topic, what the run did."""

    tallies: dict[str, SourceTally] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = []
        for topic, t in self.tallies.items():
            size = f", {t.bytes / 1e6:.1f} MB" if t.bytes else ""
            out.append(
                f"{topic} via {t.via}: {t.days_written} days written, {t.days_skipped} already there, "
                f"{t.rows:,} rows{size} in {t.seconds:.0f}s"
            )
        return out


class Producer(Protocol):
    """What history needs of Kafka (`KafkaResource` has it): topics created, records acknowledged."""

    def ensure_topics(self, specs: Iterable[TopicSpec], timeout_s: float = ...) -> object: ...

    def produce_all(
        self, messages: Iterable[OutgoingMessage], flush_timeout_s: float = ...
    ) -> DeliverySummary: ...


@dataclass(frozen=True)
class HistoryTargets:
    """Where history goes: the lake (pyarrow filesystem and its root path) and Kafka (None: skip the
    Kafka sources, e.g. in a test of the bronze part alone)."""

    fs: pafs.FileSystem
    lake_path: str
    kafka: Producer | None


def _kafka_sources(world: HistoryWorld) -> list[tuple[str, Callable[[date], list[OutgoingMessage]]]]:
    return [
        (sources.NEWS.topic, lambda day: news_day(world, day)),
        (sources.APPS.topic, lambda day: app_details_day(world, day)),
    ]


def _finished(targets: HistoryTargets, topic: str, day: date, plan: HistoryPlan, via: str) -> bool:
    """The day's manifest says it was written by this plan and, for a bronze day, its file holds
    the rows the manifest counts (history's own reconciliation: no Kafka offsets to check)."""
    manifest = read_manifest(targets.fs, targets.lake_path, topic, day)
    if manifest is None or manifest.via != via or manifest.identity != plan.identity():
        return False
    return via != VIA_BRONZE or file_rows(targets.fs, targets.lake_path, topic, day) == manifest.rows


def run_history(
    plan: HistoryPlan,
    targets: HistoryTargets,
    on_day: Callable[[date], None] | None = None,
    days: Sequence[date] | None = None,
) -> HistoryReport:
    """Write every unfinished day of the plan (or of `days`); `on_day(day)` after each day."""
    world = HistoryWorld(plan)
    report = HistoryReport()
    counts_topic = sources.PLAYER_COUNTS.topic
    report.tallies[counts_topic] = SourceTally(VIA_BRONZE)
    kafka_sources = _kafka_sources(world) if targets.kafka is not None else []
    for topic, _ in kafka_sources:
        report.tallies[topic] = SourceTally(VIA_KAFKA)
    if targets.kafka is not None:
        wanted = {topic for topic, _ in kafka_sources}
        targets.kafka.ensure_topics([spec for spec in topic_specs() if spec.name in wanted])
    for day in days if days is not None else plan.day_list():
        _player_counts(plan, world, targets, day, report.tallies[counts_topic])
        for topic, build in kafka_sources:
            _through_kafka(plan, targets, topic, day, build, report.tallies[topic])
        if on_day is not None:
            on_day(day)
    return report


def _player_counts(
    plan: HistoryPlan, world: HistoryWorld, targets: HistoryTargets, day: date, tally: SourceTally
) -> None:
    topic = sources.PLAYER_COUNTS.topic
    if _finished(targets, topic, day, plan, VIA_BRONZE):
        tally.days_skipped += 1
        return
    started = time.monotonic()
    table = player_counts_day(world, day, ingested_at=datetime.now(UTC))
    tally.bytes += write_day(targets.fs, targets.lake_path, topic, day, table)
    write_manifest(
        targets.fs, targets.lake_path, DayManifest(topic, day, VIA_BRONZE, table.num_rows, plan.identity())
    )
    tally.rows += table.num_rows
    tally.days_written += 1
    tally.seconds += time.monotonic() - started


def _through_kafka(
    plan: HistoryPlan,
    targets: HistoryTargets,
    topic: str,
    day: date,
    build: Callable[[date], list[OutgoingMessage]],
    tally: SourceTally,
) -> None:
    assert targets.kafka is not None
    if _finished(targets, topic, day, plan, VIA_KAFKA):
        tally.days_skipped += 1
        return
    started = time.monotonic()
    messages = build(day)
    if messages:
        summary = targets.kafka.produce_all(messages)  # raises unless every record is acknowledged
        tally.bytes += summary.bytes_acked
    write_manifest(
        targets.fs, targets.lake_path, DayManifest(topic, day, VIA_KAFKA, len(messages), plan.identity())
    )
    tally.rows += len(messages)
    tally.days_written += 1
    tally.seconds += time.monotonic() - started
