"""`player_activity`: recently played and owned games of the tracked players, every hour.

Keyed by steamid (so one player's history stays ordered on one partition). A private profile is
not an error: it is reported as "not visible" and produces nothing. Needs the Web API key.
"""

import time
from datetime import UTC, datetime

import dagster as dg

from steam_platform.assets.ingest_apps import NO_KEY_MESSAGE
from steam_platform.assets.ingest_common import (
    INGEST_RETRY_POLICY,
    POOL_STEAM_API,
    EventBatch,
    fetch_each,
    publish,
)
from steam_platform.constants import GROUP_INGEST, TOPIC_PLAYTIME
from steam_platform.partitions import hourly_partitions
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import (
    EP_OWNED,
    EP_RECENT,
    PATHS,
    PlayerGames,
    SteamAppError,
    SteamSourceError,
)
from steam_platform.resources.steam_api import SteamApiResource
from steam_platform.tracked import load_tracked


@dg.asset(
    group_name=GROUP_INGEST,
    kinds={"steam", "kafka"},
    partitions_def=hourly_partitions,
    deps=["kafka_topics"],
    retry_policy=INGEST_RETRY_POLICY,
    pool=POOL_STEAM_API,
)
def player_activity(
    context: dg.AssetExecutionContext, steam: SteamApiResource, kafka: KafkaResource
) -> dg.MaterializeResult:
    """Playtime per game of each tracked player (last two weeks and lifetime), to `steam.playtime`.

    Feeds the engagement marts (who plays what, how long). Private profiles are counted, not
    failed; without an API key the run succeeds with nothing produced and says so.
    """
    started = time.monotonic()
    if not steam.has_key:
        message = NO_KEY_MESSAGE.format(endpoint="IPlayerService")
        context.log.warning(message)
        return dg.MaterializeResult(metadata={"skipped_reason": message, "events_total": 0})
    players = load_tracked().players
    client = steam.client()
    before = steam.stats().snapshot()
    recent = EventBatch(TOPIC_PLAYTIME, PATHS[EP_RECENT].rstrip("/"), context.partition_key)
    owned = EventBatch(TOPIC_PLAYTIME, PATHS[EP_OWNED].rstrip("/"), context.partition_key)
    now = datetime.now(UTC)
    source_error: SteamSourceError | None = None
    not_visible: list[str] = []
    summaries: dict[str, dict] = {}

    def fetch(steamid: str) -> tuple[PlayerGames, PlayerGames]:
        return client.recently_played(steamid), client.owned_games(steamid)

    try:
        summaries = client.player_summaries(players)
        for steamid, result in fetch_each(players, fetch, steam.max_concurrency):
            if isinstance(result, SteamAppError):
                recent.skip(steamid, f"{result.reason}: {result}")
                continue
            for batch, games in zip((recent, owned), result, strict=True):
                if not games.visible:
                    continue
                for game in games.games:
                    payload = {**game, "steamid": steamid}
                    batch.add(steamid, (steamid, game["appid"], context.partition_key), payload, now)
            if not result[0].visible and not result[1].visible:
                not_visible.append(steamid)  # private profile: data ("not visible"), not a failure
    except SteamSourceError as exc:
        source_error = exc
    return publish(
        context,
        kafka,
        steam,
        [recent, owned],
        before,
        started,
        source_error,
        extra={
            "players_tracked": len(players),
            "players_not_visible": len(not_visible),
            "profiles_found": len(summaries),
        },
    )
