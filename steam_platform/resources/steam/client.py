"""The Steam endpoints the platform reads, on top of the transport (budget, pace, retries)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from steam_platform.resources.steam.errors import (
    SteamKeyMissing,
    SteamMalformedResponse,
    SteamNotFound,
    SteamRequestRejected,
)
from steam_platform.resources.steam.parsing import (
    AppDetails,
    AppListPage,
    NewsPage,
    PlayerCount,
    PlayerGames,
    read_app_details,
    read_app_list,
    read_news,
    read_player_count,
    read_player_games,
    read_player_summaries,
)
from steam_platform.resources.steam.transport import RawResponse, SteamTransport

EP_PLAYERS = "ISteamUserStats/GetNumberOfCurrentPlayers"
EP_NEWS = "ISteamNews/GetNewsForApp"
EP_APP_LIST = "IStoreService/GetAppList"
EP_RECENT = "IPlayerService/GetRecentlyPlayedGames"
EP_OWNED = "IPlayerService/GetOwnedGames"
EP_SUMMARIES = "ISteamUser/GetPlayerSummaries"
EP_APPDETAILS = "store/appdetails"

#: The versioned paths, as Steam serves them (also the `source` of events).
PATHS = {
    EP_PLAYERS: "ISteamUserStats/GetNumberOfCurrentPlayers/v1/",
    EP_NEWS: "ISteamNews/GetNewsForApp/v2/",
    EP_APP_LIST: "IStoreService/GetAppList/v1/",
    EP_RECENT: "IPlayerService/GetRecentlyPlayedGames/v1/",
    EP_OWNED: "IPlayerService/GetOwnedGames/v1/",
    EP_SUMMARIES: "ISteamUser/GetPlayerSummaries/v2/",
    EP_APPDETAILS: "api/appdetails",
}


def _expect(raw: RawResponse, what: str, allowed: Iterable[int] = (200,)) -> RawResponse:
    """Map unexpected statuses to per-item errors (404 -> not found, other 4xx -> rejected)."""
    if raw.status in allowed:
        return raw
    if raw.status == 404:
        raise SteamNotFound(f"{what}: HTTP 404")
    if 400 <= raw.status < 500:
        raise SteamRequestRejected(f"{what}: HTTP {raw.status}")
    raise SteamMalformedResponse(f"{what}: unexpected HTTP {raw.status}", raw.body)


class SteamClient:
    """Typed calls to Steam; every method may raise the errors in `steam.errors`."""

    def __init__(self, transport: SteamTransport, api_base_url: str, store_base_url: str, has_key: bool):
        self.transport = transport
        self.api_base_url = api_base_url
        self.store_base_url = store_base_url
        self.has_key = has_key

    def _api(self, endpoint: str, params: dict[str, Any], *, keyed: bool = False) -> RawResponse:
        if keyed and not self.has_key:
            raise SteamKeyMissing(f"{endpoint} needs a Steam Web API key: set STEAM_API_KEY")
        return self.transport.get(
            self.api_base_url,
            PATHS[endpoint],
            {**params, "format": "json"},
            endpoint,
            store=False,
            keyed=keyed,
        )

    def current_players(self, appid: int) -> PlayerCount:
        """Players in-game now; an unknown/unreleased app comes back `live=False`, not an error."""
        raw = self._api(EP_PLAYERS, {"appid": appid})
        return read_player_count(appid, _expect(raw, f"current players of app {appid}", (200, 404)))

    def news_page(self, appid: int, *, enddate: int | None = None, count: int = 20) -> NewsPage:
        """Up to `count` news items older than `enddate` (unix seconds), newest first, full contents."""
        params: dict[str, Any] = {"appid": appid, "count": count, "maxlength": 0}
        if enddate is not None:
            params["enddate"] = enddate
        return read_news(appid, _expect(self._api(EP_NEWS, params), f"news of app {appid}"))

    def news_between(
        self, appid: int, start: int, end: int, *, page_size: int = 50, max_pages: int = 50
    ) -> list[dict[str, Any]]:
        """Every news item with `start <= date < end`, paging back in time with `enddate`.

        A page ends at its oldest item's date; the next page asks for `enddate = oldest + 1` so
        posts sharing that second are not skipped (duplicates are dropped by `gid`).
        """
        found: dict[str, dict[str, Any]] = {}
        enddate = end
        for _ in range(max_pages):
            page = self.news_page(appid, enddate=enddate, count=page_size)
            new = [i for i in page.items if i["gid"] not in found]
            for item in new:
                if start <= int(item["date"]) < end:
                    found[item["gid"]] = item
            if len(page.items) < page_size:
                break
            oldest = min(int(i["date"]) for i in page.items)
            if oldest < start:
                break
            # No progress (a full page of one second): step past that second.
            enddate = oldest + 1 if new and oldest + 1 < enddate else oldest
        return sorted(found.values(), key=lambda i: (-int(i["date"]), i["gid"]))

    def app_list(
        self,
        *,
        max_results: int = 50_000,
        if_modified_since: int | None = None,
        include_dlc: bool = False,
        include_software: bool = False,
        max_pages: int = 1_000,
    ) -> Iterator[AppListPage]:
        """The store catalogue page by page (IStoreService cursor `last_appid`); needs the key."""
        params: dict[str, Any] = {
            "max_results": max_results,
            "include_games": "true",
            "include_dlc": str(include_dlc).lower(),
            "include_software": str(include_software).lower(),
        }
        if if_modified_since is not None:
            params["if_modified_since"] = if_modified_since
        cursor: int | None = None
        for _ in range(max_pages):
            query = {**params, **({"last_appid": cursor} if cursor is not None else {})}
            page = read_app_list(_expect(self._api(EP_APP_LIST, query, keyed=True), "app list"))
            yield page
            if not page.have_more_results or page.last_appid is None:
                return
            if cursor is not None and page.last_appid <= cursor:
                raise SteamMalformedResponse(
                    f"app list cursor did not advance ({cursor} -> {page.last_appid})"
                )
            cursor = page.last_appid

    def app_details(self, appid: int, *, cc: str = "us", language: str = "english") -> AppDetails:
        """Store details of one app; unknown apps come back with `success=False`."""
        raw = self.transport.get(
            self.store_base_url,
            PATHS[EP_APPDETAILS],
            {"appids": appid, "cc": cc, "l": language},
            EP_APPDETAILS,
            store=True,
            keyed=False,
        )
        return read_app_details([appid], _expect(raw, f"app details of {appid}"))[appid]

    def recently_played(self, steamid: str, *, count: int | None = None) -> PlayerGames:
        """Games played in the last two weeks (minutes); private profiles are `visible=False`."""
        params: dict[str, Any] = {"steamid": steamid, **({"count": count} if count else {})}
        raw = _expect(self._api(EP_RECENT, params, keyed=True), f"recent games of {steamid}")
        return read_player_games(steamid, raw, "total_count")

    def owned_games(self, steamid: str, *, include_appinfo: bool = True) -> PlayerGames:
        """Every owned game with lifetime playtime (minutes); private profiles are `visible=False`."""
        params = {
            "steamid": steamid,
            "include_appinfo": str(include_appinfo).lower(),
            "include_played_free_games": "true",
        }
        raw = _expect(self._api(EP_OWNED, params, keyed=True), f"owned games of {steamid}")
        return read_player_games(steamid, raw, "game_count")

    def player_summaries(self, steamids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Public profile summaries by steamid, 100 ids per call; unknown ids are absent."""
        ids = list(dict.fromkeys(str(s) for s in steamids))
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 100):
            batch = ids[i : i + 100]
            raw = self._api(EP_SUMMARIES, {"steamids": ",".join(batch)}, keyed=True)
            found.update(read_player_summaries(_expect(raw, "player summaries")))
        return found
