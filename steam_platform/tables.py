"""Contracts of the warehouse (silver) and mart (gold) tables: columns, types, descriptions.

One declaration serves every consumer: the Spark jobs write exactly these columns (`streaming/`
converts the type names to a Spark schema), the asset checks compare written schemas with them, the
column descriptions become Dagster metadata, and the search layer derives Elasticsearch mappings and
Kibana field types from them. Changing a table means changing it here first.

Type names are portable: `string`, `long`, `int`, `double`, `date`, `timestamp`, `boolean`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

ColumnType = Literal["string", "long", "int", "double", "date", "timestamp", "boolean"]


@dataclass(frozen=True)
class Column:
    """One column of a table: its name, portable type, nullability and business meaning."""

    name: str
    type: ColumnType
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """A silver or gold table: where it lives under the lake root, how it is partitioned and keyed."""

    name: str
    layer: Literal["warehouse", "marts"]
    description: str
    columns: tuple[Column, ...]
    #: Columns whose values identify one row (the deterministic Elasticsearch `_id` for marts).
    key: tuple[str, ...]
    #: Partition column on the object store (`dt=YYYY-MM-DD` folders), None when unpartitioned.
    partition_column: str | None = "dt"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name` (KeyError when the table has none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    def path(self, lake_root: str) -> str:
        """The table's folder, e.g. `s3a://steam-lake/lake/marts/mart_game_daily`."""
        return f"{lake_root.rstrip('/')}/{self.layer}/{self.name}"


def _c(name: str, type_: ColumnType, description: str, nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable)


DT = _c("dt", "date", "UTC calendar day the row belongs to (partition)", nullable=False)

# ---- silver ---------------------------------------------------------------------------------------
FACT_PLAYER_COUNTS: Final = Table(
    name="fact_player_counts",
    layer="warehouse",
    description="One concurrent-player snapshot per app per poll (GetNumberOfCurrentPlayers).",
    key=("event_id",),
    columns=(
        _c("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        _c("appid", "long", "Steam application id", nullable=False),
        _c("player_count", "long", "Concurrent players at observed_at; null when the app is not live"),
        _c("is_live", "boolean", "False when Steam answered 'no match' (unknown/unreleased app)"),
        _c("observed_at", "timestamp", "UTC time of the poll", nullable=False),
        DT,
    ),
)

FACT_NEWS: Final = Table(
    name="fact_news",
    layer="warehouse",
    description="One row per news post (GetNewsForApp), raw contents kept plus derived plain text.",
    key=("event_id",),
    columns=(
        _c("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        _c("gid", "string", "Steam's 64-bit news id, kept as a string", nullable=False),
        _c("appid", "long", "Steam application id", nullable=False),
        _c("title", "string", "Post title, any language"),
        _c("url", "string", "Link to the post"),
        _c("author", "string", "Author as Steam reports it"),
        _c("feedlabel", "string", "Human-readable feed name"),
        _c("feed_type", "int", "0 = external site (HTML), 1 = Steam announcement (BBCode); null if absent"),
        _c("contents_raw", "string", "Contents exactly as Steam sent them (HTML or BBCode)"),
        _c("contents_text", "string", "Plain text derived from contents_raw (markup and entities removed)"),
        _c("word_count", "int", "Words in contents_text"),
        _c("published_at", "timestamp", "UTC publication time (Steam's `date`)", nullable=False),
        DT,
    ),
)

DIM_APP: Final = Table(
    name="dim_app",
    layer="warehouse",
    description="App attributes with history: one row per app per version (valid_from/valid_to).",
    key=("appid", "valid_from"),
    partition_column=None,
    columns=(
        _c("appid", "long", "Steam application id", nullable=False),
        _c("name", "string", "App name"),
        _c("type", "string", "Store type (game, dlc, ...) when details are known"),
        _c("is_free", "boolean", "Free to play"),
        _c("developers", "string", "Comma-separated developers"),
        _c("publishers", "string", "Comma-separated publishers"),
        _c("genres", "string", "Comma-separated genre descriptions"),
        _c("release_date", "string", "Release date as the store shows it"),
        _c("price_cents", "long", "Current price in minor units (null when free/unknown)"),
        _c("valid_from", "timestamp", "First observation of this version", nullable=False),
        _c("valid_to", "timestamp", "When a newer version was observed; null for the current one"),
        _c("is_current", "boolean", "True for the latest version of the app", nullable=False),
    ),
)

FACT_PLAYTIME: Final = Table(
    name="fact_playtime",
    layer="warehouse",
    description="Playtime per tracked player and game per poll (recently played / owned games).",
    key=("event_id",),
    columns=(
        _c("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        _c("steamid", "string", "Tracked player's 64-bit id, kept as a string", nullable=False),
        _c("appid", "long", "Steam application id", nullable=False),
        _c("playtime_2weeks", "long", "Minutes played in the last two weeks"),
        _c("playtime_forever", "long", "Minutes played in total", nullable=False),
        _c("source", "string", "Endpoint: GetRecentlyPlayedGames or GetOwnedGames"),
        _c("observed_at", "timestamp", "UTC time of the poll", nullable=False),
        DT,
    ),
)

# ---- gold -----------------------------------------------------------------------------------------
MART_GAME_DAILY: Final = Table(
    name="mart_game_daily",
    layer="marts",
    description="Per app and day: peak, average and minimum concurrent players, samples, news posts.",
    key=("appid", "dt"),
    columns=(
        _c("appid", "long", "Steam application id", nullable=False),
        _c("app_name", "string", "Current app name from dim_app (null when unknown)"),
        DT,
        _c("peak_players", "long", "Highest concurrent players sampled that day"),
        _c("avg_players", "double", "Mean of the day's samples"),
        _c("min_players", "long", "Lowest concurrent players sampled that day"),
        _c("samples", "long", "Number of player-count samples that day", nullable=False),
        _c("news_posts", "long", "News posts published that day", nullable=False),
    ),
)

MART_NEWS_IMPACT: Final = Table(
    name="mart_news_impact",
    layer="marts",
    description="Per news post: average players in the hours before vs after publication.",
    key=("gid",),
    columns=(
        _c("gid", "string", "Steam's news id", nullable=False),
        _c("appid", "long", "Steam application id", nullable=False),
        _c("app_name", "string", "Current app name from dim_app"),
        _c("title", "string", "Post title"),
        _c("url", "string", "Link to the post"),
        _c("published_at", "timestamp", "UTC publication time", nullable=False),
        DT,
        _c("window_hours", "int", "Hours on each side of published_at that were averaged", nullable=False),
        _c("players_before_avg", "double", "Mean players in [published_at - window, published_at)"),
        _c("players_after_avg", "double", "Mean players in [published_at, published_at + window)"),
        _c("samples_before", "long", "Samples in the before window", nullable=False),
        _c("samples_after", "long", "Samples in the after window", nullable=False),
        _c("change_abs", "double", "players_after_avg - players_before_avg"),
        _c("change_pct", "double", "Relative change in percent (null when before is 0 or missing)"),
    ),
)

MART_TOP_GAMES: Final = Table(
    name="mart_top_games",
    layer="marts",
    description="Daily ranking of apps by peak concurrent players, with the change vs the previous day.",
    key=("dt", "appid"),
    columns=(
        DT,
        _c("rank", "int", "1 = most played that day (by peak players)", nullable=False),
        _c("appid", "long", "Steam application id", nullable=False),
        _c("app_name", "string", "Current app name from dim_app"),
        _c("peak_players", "long", "Highest concurrent players sampled that day", nullable=False),
        _c("avg_players", "double", "Mean of the day's samples"),
        _c("prev_rank", "int", "Rank the previous day (null when unranked)"),
        _c("rank_change", "int", "prev_rank - rank (positive = climbed); null when unranked before"),
    ),
)

WAREHOUSE_TABLES: Final = (FACT_PLAYER_COUNTS, FACT_NEWS, DIM_APP, FACT_PLAYTIME)
MART_TABLES: Final = (MART_GAME_DAILY, MART_NEWS_IMPACT, MART_TOP_GAMES)
