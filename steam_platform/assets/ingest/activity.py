"""`player_activity`: recently played and owned games of the tracked players, every hour.

Keyed by steamid (so one player's history stays ordered on one partition). A private profile is
not an error: it is reported as "not visible" and produces nothing. Needs the Web API key.
"""

import dagster as dg

from steam_platform.assets.ingest.common import IngestRun, ingest_asset, skipped_without_key
from steam_platform.core import sources
from steam_platform.core.partitions import hourly_partitions
from steam_platform.core.tracked import load_tracked
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import (
    EP_OWNED,
    EP_RECENT,
    PATHS,
    PlayerGames,
)
from steam_platform.resources.steam_api import SteamApiResource


@ingest_asset(hourly_partitions)
def player_activity(
    context: dg.AssetExecutionContext, steam: SteamApiResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    """Playtime per game of each tracked player (last two weeks and lifetime), to `steam.playtime`.

    Feeds the engagement marts (who plays what, how long). Private profiles are counted, not
    failed; without an API key the run succeeds with nothing produced and says so.
    """
    skipped = skipped_without_key(context, steam, "IPlayerService")
    if skipped is not None:
        return skipped
    players = load_tracked().players
    run = IngestRun(context, steam, kafka)
    recent = run.batch(sources.PLAYTIME.topic, PATHS[EP_RECENT].rstrip("/"))
    owned = run.batch(sources.PLAYTIME.topic, PATHS[EP_OWNED].rstrip("/"))
    not_visible: list[str] = []
    summaries: dict[str, dict] = {}

    def fetch(steamid: str) -> tuple[PlayerGames, PlayerGames]:
        return run.client.recently_played(steamid), run.client.owned_games(steamid)

    with run.collecting():
        summaries = run.client.player_summaries(players)
        for steamid, result in run.fetch_each(players, fetch, skipped=recent):
            for batch, games in zip((recent, owned), result, strict=True):
                if not games.visible:
                    continue
                for game in games.games:
                    payload = {**game, "steamid": steamid}
                    batch.add(steamid, (steamid, game["appid"], context.partition_key), payload, run.now)
            if not result[0].visible and not result[1].visible:
                not_visible.append(steamid)  # private profile: data ("not visible"), not a failure
    return run.publish(
        [recent, owned],
        extra={
            "players_tracked": len(players),
            "players_not_visible": len(not_visible),
            "profiles_found": len(summaries),
        },
    )
