"""Contracts of the mart (gold) tables: one row per app and day, or per news post, for dashboards.

The Spark jobs write exactly these columns, the checks compare written schemas with them, and the
search layer indexes them with mappings derived from these types.
"""

from __future__ import annotations

from typing import Final

from steam_platform.core.contracts import DT, Table, col

MART_GAME_DAILY: Final = Table(
    name="mart_game_daily",
    layer="marts",
    description="Per app and day: peak, average and minimum concurrent players, samples, news posts.",
    key=("appid", "dt"),
    columns=(
        col("appid", "long", "Steam application id", nullable=False),
        col("app_name", "string", "Current app name from dim_app (null when unknown)"),
        DT,
        col("peak_players", "long", "Highest concurrent players sampled that day"),
        col("avg_players", "double", "Mean of the day's samples"),
        col("min_players", "long", "Lowest concurrent players sampled that day"),
        col("samples", "long", "Number of player-count samples that day", nullable=False),
        col("news_posts", "long", "News posts published that day", nullable=False),
    ),
)

MART_NEWS_IMPACT: Final = Table(
    name="mart_news_impact",
    layer="marts",
    description="Per news post: average players in the hours before vs after publication.",
    key=("gid",),
    columns=(
        col("gid", "string", "Steam's news id", nullable=False),
        col("appid", "long", "Steam application id", nullable=False),
        col("app_name", "string", "Current app name from dim_app"),
        col("title", "string", "Post title"),
        col("url", "string", "Link to the post"),
        col("published_at", "timestamp", "UTC publication time", nullable=False),
        DT,
        col("window_hours", "int", "Hours on each side of published_at that were averaged", nullable=False),
        col("players_before_avg", "double", "Mean players in [published_at - window, published_at)"),
        col("players_after_avg", "double", "Mean players in [published_at, published_at + window)"),
        col("samples_before", "long", "Samples in the before window", nullable=False),
        col("samples_after", "long", "Samples in the after window", nullable=False),
        col("change_abs", "double", "players_after_avg - players_before_avg"),
        col("change_pct", "double", "Relative change in percent (null when before is 0 or missing)"),
    ),
)

MART_TOP_GAMES: Final = Table(
    name="mart_top_games",
    layer="marts",
    description="Daily ranking of apps by peak concurrent players, with the change vs the previous day.",
    key=("dt", "appid"),
    columns=(
        DT,
        col("rank", "int", "1 = most played that day (by peak players)", nullable=False),
        col("appid", "long", "Steam application id", nullable=False),
        col("app_name", "string", "Current app name from dim_app"),
        col("peak_players", "long", "Highest concurrent players sampled that day", nullable=False),
        col("avg_players", "double", "Mean of the day's samples"),
        col("prev_rank", "int", "Rank the previous day (null when unranked)"),
        col("rank_change", "int", "prev_rank - rank (positive = climbed); null when unranked before"),
    ),
)

MART_PLAYER_COUNT_GAPS: Final = Table(
    name="mart_player_count_gaps",
    layer="marts",
    description="Per app and UTC hour with missed player-count polls: expected, observed and missing "
    "poll slots (a missed point-in-time poll cannot be made later, so it is recorded here).",
    key=("appid", "hour_start"),
    columns=(
        col("appid", "long", "Steam application id", nullable=False),
        col("app_name", "string", "Current app name from dim_app (null when unknown)"),
        DT,
        col("hour_start", "timestamp", "UTC start of the hour the missed slots belong to", nullable=False),
        col("poll_interval_minutes", "int", "Poll interval the slots were judged at", nullable=False),
        col(
            "expected_slots",
            "int",
            "Closed poll slots of the hour (all of them once the hour is over)",
            nullable=False,
        ),
        col(
            "observed_slots",
            "int",
            "Expected slots with a snapshot of the app (a 'no match' answer counts)",
            nullable=False,
        ),
        col(
            "missing_slots",
            "int",
            "expected_slots - observed_slots (always > 0: hours without a gap have no row)",
            nullable=False,
        ),
        col("missing_slot_times", "string", "Start of each missing slot, UTC HH:MM, comma-separated"),
        col("is_tracked", "boolean", "True when the app is in the tracked set", nullable=False),
    ),
)


MART_TABLES: Final = (MART_GAME_DAILY, MART_NEWS_IMPACT, MART_TOP_GAMES, MART_PLAYER_COUNT_GAPS)
