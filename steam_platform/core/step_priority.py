"""Which steps of a lake run go first: the path from a player-count poll to Elasticsearch.

A lake run started for a poll lands the snapshots, rebuilds today's fact and all four marts, and
indexes every mart. Only one chain decides when the poll is searchable: bronze -> fact ->
`mart_game_daily` -> `search_game_daily`. Dagster runs a run's ready steps in priority order
(the `dagster/priority` op tag, default 0), so tagging that chain lets `search_game_daily` follow
`mart_game_daily` at once instead of after the three other marts (~4 s of a ~40 s poll ->
searchable, measured in the soak). The other steps still run in the same run, right after.
"""

from __future__ import annotations

from steam_platform.core import sources

#: Dagster's op tag that orders a run's ready steps (higher first).
PRIORITY_TAG = "dagster/priority"
#: The steps between a player-count poll and its samples being searchable.
POLL_TO_SEARCH_PATH: frozenset[str] = frozenset(
    {
        sources.PLAYER_COUNTS.bronze_asset,
        *sources.PLAYER_COUNTS.silver_tables,
        "mart_game_daily",
        "search_game_daily",
    }
)
PATH_PRIORITY = 10


def step_priority_tags(asset_name: str) -> dict[str, str]:
    """The op tags of `asset_name`'s step: a raised priority on the poll -> search path, else none."""
    return {PRIORITY_TAG: str(PATH_PRIORITY)} if asset_name in POLL_TO_SEARCH_PATH else {}
