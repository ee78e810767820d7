"""Every kind of Steam data the platform collects, declared once: what each layer knows about it.

A source is one kind of Steam data flowing through one Kafka topic: player counts, news, apps and
playtime. Each layer derives what it needs from these entries and keeps no copy of its own:

- the bus creates `ALL_TOPICS` (the sources' topics and `DEAD_LETTER_TOPIC`);
- the ingest assets named in `ingest_assets` produce to `topic`; every payload is checked against
  the model `payload_contract` names (`steam_platform/events/payloads.py`), and one that fails
  goes to `DEAD_LETTER_TOPIC`;
- the lake lands the topic as `bronze_asset` and promises freshness from `cadence`; a landing
  reports the silver days it changed (publication days when `days_by_publication`);
- the lake refresh sensor maps an ingest run to its topic and a landing to its `silver_tables`;
- the warehouse builds `silver_tables` from the bronze rows (`assets/warehouse/facts.py`), with
  the source's freshness;
- search indexes the source's own table as `search_asset`, when there is one.

Adding a source (say, reviews) takes one `SteamSource` entry here, listed in `SOURCES`, plus that
source's own code:

1. its ingest asset(s) (`steam_platform/assets/ingest/`, listed in that layer's definitions),
   named as in `ingest_assets` and producing to the entry's `topic`;
2. its payload contract: a model in `steam_platform/events/payloads.py` with the class name given
   in `payload_contract`;
3. for each of `silver_tables`: its table contract (`assets/warehouse/tables.py`), its Spark
   builder (`streaming/warehouse.py`) and a `FactSpec` joining them (`assets/warehouse/facts.py`);
4. if it is searchable: its index spec and asset (`steam_platform/assets/search/`), named as in
   `search_asset`.

The topic, the bronze asset and its checks, the sensor's scheduling and every freshness policy
follow from the entry. `tests/code_location/test_source_registry.py` proves each layer matches the
registry, and that no topic name is written as a string anywhere but here (documentation may
mention topics).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from steam_platform.core.cadence import Cadence


@dataclass(frozen=True)
class SteamSource:
    """One kind of Steam data, from the Steam call that fetches it to the tables built from it."""

    #: The Kafka topic its events flow through.
    topic: str
    #: Ingest assets producing to the topic (a source may be fetched by several Steam calls).
    ingest_assets: tuple[str, ...]
    #: The lake asset landing the topic as Parquet.
    bronze_asset: str
    #: How often the source receives events: the freshness every layer built from it promises.
    cadence: Cadence
    #: Class name of the pydantic model in `steam_platform/events/payloads.py` each payload meets.
    payload_contract: str
    #: Warehouse (silver) tables built from the source's bronze rows.
    silver_tables: tuple[str, ...]
    #: True when an event's silver day is the day its item was published, not the day it was
    #: observed (news: a backfill of last month's posts lands today but changes last month's days).
    days_by_publication: bool = False
    #: The search asset indexing the source's own silver table, if the source is searchable.
    search_asset: str | None = None


PLAYER_COUNTS: Final = SteamSource(
    topic="steam.player_counts",
    ingest_assets=("player_counts",),
    bronze_asset="bronze_player_counts",
    cadence=Cadence.POLL,
    payload_contract="PlayerCountPayload",
    silver_tables=("fact_player_counts",),
)
NEWS: Final = SteamSource(
    topic="steam.news",
    ingest_assets=("news",),
    bronze_asset="bronze_news",
    cadence=Cadence.DAILY,
    payload_contract="NewsPayload",
    silver_tables=("fact_news",),
    days_by_publication=True,
    search_asset="search_news",
)
APPS: Final = SteamSource(
    topic="steam.apps",
    ingest_assets=("app_catalog", "app_details"),
    bronze_asset="bronze_apps",
    cadence=Cadence.DAILY,
    payload_contract="AppPayload",
    silver_tables=("dim_app",),
)
PLAYTIME: Final = SteamSource(
    topic="steam.playtime",
    ingest_assets=("player_activity",),
    bronze_asset="bronze_playtime",
    cadence=Cadence.HOURLY,
    payload_contract="PlaytimePayload",
    silver_tables=("fact_playtime",),
)

#: Every source, in the order the platform lists them (topics, bronze assets).
SOURCES: Final = (PLAYER_COUNTS, NEWS, APPS, PLAYTIME)

#: Where a payload that fails its contract goes, with the reason in its headers.
DEAD_LETTER_TOPIC: Final = "steam.dlq"

DATA_TOPICS: Final = tuple(s.topic for s in SOURCES)
#: The topics the bus creates.
ALL_TOPICS: Final = (*DATA_TOPICS, DEAD_LETTER_TOPIC)


def source_of_topic(topic: str) -> SteamSource:
    """The source whose events flow through `topic` (KeyError naming the known topics otherwise)."""
    for source in SOURCES:
        if source.topic == topic:
            return source
    raise KeyError(f"no source flows through topic {topic!r} (known: {', '.join(DATA_TOPICS)})")
