"""What one load run is: how many events over how many apps, when they were observed, and where they go.

A load run never mixes with the platform's data: it has its own Kafka topics
(`load.<run_id>.player_counts`, `load.<run_id>.news`), its own lake root (`<bucket>/load/<run_id>/`,
holding bronze, warehouse and marts as the platform lays them out) and its own Elasticsearch aliases
(`load-<run_id>-mart_game_daily`, `load-<run_id>-steam_news`), all removed at the end unless kept.
Its events are observed in a synthetic window of their own: 10-minute polls of every app from
`START`, so every count is exact and the days the lake must build follow from the plan alone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from steam_platform.assets.search.templates import GAME_DAILY, NEWS, IndexSpec

#: The first poll of the load window (a Monday, 00:00 UTC).
START = datetime(2026, 3, 2, tzinfo=UTC)
#: Where load runs keep their lake under the lake's bucket.
LAKE_PREFIX = "load"


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id, valid in topic, object and index names: `20261204-174501-3fa2`."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class LoadPlan:
    """N events keyed over M apps: player counts of every app every poll, and one news post in
    `news_every` events (0: none)."""

    run_id: str
    events: int = 1_000_000
    apps: int = 1000
    poll_minutes: int = 10
    news_every: int = 100
    partitions: int = 6
    #: Events per second (None: flat out).
    rate: float | None = None
    #: Events per `produce_all` call.
    batch: int = 20_000
    #: Kafka records per bronze micro-batch (`maxOffsetsPerTrigger`): bounded memory, live progress.
    bronze_batch: int = 500_000
    start: datetime = field(default=START)

    def __post_init__(self) -> None:
        if self.events < 1 or self.apps < 1:
            raise ValueError("a load needs at least one event and one app")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("--rate must be positive")

    @property
    def news(self) -> int:
        """How many of the events are news posts."""
        return self.events // self.news_every if self.news_every else 0

    @property
    def player_counts(self) -> int:
        """How many of the events are player-count snapshots."""
        return self.events - self.news

    @property
    def produce_batch(self) -> int:
        """Events per produce call: at a target rate one second's worth (each `produce_all` call
        starts a producer, a few hundred ms against three brokers: smaller calls could not keep up)."""
        if self.rate is None:
            return self.batch
        return max(1, min(self.batch, int(self.rate)))

    def slot_time(self, slot: int) -> datetime:
        """When poll `slot` (0, 1, ...) observed the apps."""
        return self.start + timedelta(minutes=self.poll_minutes * slot)

    @property
    def last_slot(self) -> int:
        return max(0, self.player_counts - 1) // self.apps

    @property
    def days(self) -> list[date]:
        """Every day the window's observations fall on: the partitions each layer must build."""
        first, last = self.start.date(), self.slot_time(self.last_slot).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    @property
    def players_topic(self) -> str:
        return f"load.{self.run_id}.player_counts"

    @property
    def news_topic(self) -> str:
        return f"load.{self.run_id}.news"

    @property
    def topics(self) -> tuple[str, str]:
        return (self.players_topic, self.news_topic)

    def lake_root(self, bucket: str) -> str:
        """The run's own lake root on the lake's bucket (Spark's `s3a://` form)."""
        return f"s3a://{bucket}/{LAKE_PREFIX}/{self.run_id}"

    @property
    def game_daily_index(self) -> IndexSpec:
        """`mart_game_daily`'s index spec under the run's own alias."""
        return replace(GAME_DAILY, alias=f"load-{self.run_id}-{GAME_DAILY.alias}")

    @property
    def news_index(self) -> IndexSpec:
        """`steam_news`'s index spec under the run's own alias."""
        return replace(NEWS, alias=f"load-{self.run_id}-{NEWS.alias}")
