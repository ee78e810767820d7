"""Contracts of the warehouse (silver) tables: typed, deduplicated facts and the app dimension.

The Spark jobs write exactly these columns, the checks compare written schemas with them, and the
search layer derives Elasticsearch mappings and Kibana field types from them.
"""

from __future__ import annotations

from typing import Final

from steam_platform.core.contracts import DT, Table, col

FACT_PLAYER_COUNTS: Final = Table(
    name="fact_player_counts",
    layer="warehouse",
    description="One concurrent-player snapshot per app per poll (GetNumberOfCurrentPlayers).",
    key=("event_id",),
    columns=(
        col("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        col("appid", "long", "Steam application id", nullable=False),
        col("player_count", "long", "Concurrent players at observed_at; null when the app is not live"),
        col("is_live", "boolean", "False when Steam answered 'no match' (unknown/unreleased app)"),
        col("observed_at", "timestamp", "UTC time of the poll", nullable=False),
        DT,
    ),
)

FACT_NEWS: Final = Table(
    name="fact_news",
    layer="warehouse",
    description="One row per news post (GetNewsForApp), raw contents kept plus derived plain text.",
    key=("event_id",),
    columns=(
        col("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        col("gid", "string", "Steam's 64-bit news id, kept as a string", nullable=False),
        col("appid", "long", "Steam application id", nullable=False),
        col("title", "string", "Post title, any language"),
        col("url", "string", "Link to the post"),
        col("author", "string", "Author as Steam reports it"),
        col("feedlabel", "string", "Human-readable feed name"),
        col("feed_type", "int", "0 = external site (HTML), 1 = Steam announcement (BBCode); null if absent"),
        col("contents_raw", "string", "Contents exactly as Steam sent them (HTML or BBCode)"),
        col("contents_text", "string", "Plain text derived from contents_raw (markup and entities removed)"),
        col("word_count", "int", "Words in contents_text"),
        col("published_at", "timestamp", "UTC publication time (Steam's `date`)", nullable=False),
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
        col("appid", "long", "Steam application id", nullable=False),
        col("name", "string", "App name"),
        col("type", "string", "Store type (game, dlc, ...) when details are known"),
        col("is_free", "boolean", "Free to play"),
        col("developers", "string", "Comma-separated developers"),
        col("publishers", "string", "Comma-separated publishers"),
        col("genres", "string", "Comma-separated genre descriptions"),
        col("release_date", "string", "Release date as the store shows it"),
        col("price_cents", "long", "Current price in minor units (null when free/unknown)"),
        col("valid_from", "timestamp", "First observation of this version", nullable=False),
        col("valid_to", "timestamp", "When a newer version was observed; null for the current one"),
        col("is_current", "boolean", "True for the latest version of the app", nullable=False),
    ),
)

FACT_PLAYTIME: Final = Table(
    name="fact_playtime",
    layer="warehouse",
    description="Playtime per tracked player and game per poll (recently played / owned games).",
    key=("event_id",),
    columns=(
        col("event_id", "string", "Deterministic id of the observation (dedupe key)", nullable=False),
        col("steamid", "string", "Tracked player's 64-bit id, kept as a string", nullable=False),
        col("appid", "long", "Steam application id", nullable=False),
        col("playtime_2weeks", "long", "Minutes played in the last two weeks"),
        col("playtime_forever", "long", "Minutes played in total", nullable=False),
        col("source", "string", "Endpoint: GetRecentlyPlayedGames or GetOwnedGames"),
        col("observed_at", "timestamp", "UTC time of the poll", nullable=False),
        DT,
    ),
)


WAREHOUSE_TABLES: Final = (FACT_PLAYER_COUNTS, FACT_NEWS, DIM_APP, FACT_PLAYTIME)
