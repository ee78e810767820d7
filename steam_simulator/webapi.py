"""The Web API methods (api.steampowered.com) with Steam's shapes, status codes and quirks.

Handlers get a parsed `Call` after the server has checked the key and injected faults; they only
turn the seeded data into Steam's JSON. Missing or non-numeric required parameters answer 400 with
Steam's HTML page, like the real servers.
"""

from __future__ import annotations

from typing import Any

from steam_simulator.endpoints import Call, Endpoint
from steam_simulator.news import Post
from steam_simulator.replies import Reply, html_page, json_reply, missing_param, not_found
from steam_simulator.seeding import rng, unit

MAX_SUMMARY_IDS = 100
DEFAULT_APPLIST_PAGE = 10_000
MAX_APPLIST_PAGE = 50_000


def _required_int(call: Call, name: str) -> int | Reply:
    """The integer parameter `name`, or the 400 reply Steam sends when it is missing or malformed."""
    try:
        value = call.int_param(name)
    except ValueError:
        return html_page(400, "Bad Request", f"Parameter '{name}' is not an integer")
    return missing_param(name) if value is None else value


def current_players(call: Call) -> Reply:
    """ISteamUserStats/GetNumberOfCurrentPlayers/v1: 404 + result 42 for unknown or unreleased apps."""
    appid = _required_int(call, "appid")
    if isinstance(appid, Reply):
        return appid
    count = call.world.counts.count(appid, call.now)
    if count is None:
        return json_reply({"response": {"result": 42}}, 404, eresult=42)
    return json_reply({"response": {"player_count": count, "result": 1}}, eresult=1)


def news_for_app(call: Call) -> Reply:
    """ISteamNews/GetNewsForApp/v2: newest first, `enddate` = only posts older than it."""
    appid = _required_int(call, "appid")
    if isinstance(appid, Reply):
        return appid
    try:
        count = call.int_param("count", 20) or 0
        maxlength = call.int_param("maxlength", 0) or 0
        enddate = call.int_param("enddate")
    except ValueError:
        return html_page(400, "Bad Request", "count, maxlength and enddate must be integers")
    feeds = {f for f in (call.params.get("feeds") or "").split(",") if f}
    tags = {t for t in (call.params.get("tags") or "").split(",") if t}

    def keep(post: Post) -> bool:
        return (not feeds or post.feedname in feeds) and (not tags or bool(tags & set(post.tags)))

    news = call.world.news
    posts = news.latest(appid, call.now, max(count, 0), before=enddate, keep=keep)
    total = len(news.posts(appid, call.now))
    items = [news.render(p, maxlength) for p in posts]
    return json_reply({"appnews": {"appid": appid, "newsitems": items, "count": total}}, eresult=1)


def recently_played(call: Call) -> Reply:
    """IPlayerService/GetRecentlyPlayedGames/v1: `{}` for private profiles, `total_count: 0` alone if idle."""
    steamid = call.params.get("steamid")
    if not steamid:
        return missing_param("steamid")
    try:
        count = call.int_param("count")
    except ValueError:
        return html_page(400, "Bad Request", "count must be an integer")
    response = call.world.players.recently_played(steamid, call.now, count)
    return json_reply({"response": response}, eresult=1)


def owned_games(call: Call) -> Reply:
    """IPlayerService/GetOwnedGames/v1 with include_appinfo, include_played_free_games, appids_filter[N]."""
    steamid = call.params.get("steamid")
    if not steamid:
        return missing_param("steamid")
    only: set[int] = set()
    for name, values in call.all_params.items():
        if name.startswith("appids_filter["):
            only.update(int(v) for v in values if v.isdigit())
    response = call.world.players.owned(
        steamid,
        call.now,
        appinfo=call.flag("include_appinfo"),
        free_games=call.flag("include_played_free_games"),
        only=only or None,
    )
    return json_reply({"response": response}, eresult=1)


def player_summaries(call: Call) -> Reply:
    """ISteamUser/GetPlayerSummaries/v2: unknown steamids are simply absent; at most 100 per call."""
    raw = call.params.get("steamids")
    if not raw:
        return missing_param("steamids")
    steamids = [s.strip() for s in raw.split(",") if s.strip()]
    if len(steamids) > MAX_SUMMARY_IDS:
        return html_page(400, "Bad Request", f"Too many steamids (at most {MAX_SUMMARY_IDS})")
    players = [p for p in (call.world.players.summary(s, call.now) for s in steamids) if p is not None]
    return json_reply({"response": {"players": players}}, eresult=1)


def app_list(call: Call) -> Reply:
    """IStoreService/GetAppList/v1: cursor paging by appid; the last page has no cursor keys."""
    try:
        last_appid = call.int_param("last_appid", 0) or 0
        max_results = call.int_param("max_results", DEFAULT_APPLIST_PAGE) or DEFAULT_APPLIST_PAGE
        since = call.int_param("if_modified_since", 0) or 0
    except ValueError:
        return html_page(400, "Bad Request", "last_appid, max_results and if_modified_since must be integers")
    max_results = min(max(max_results, 1), MAX_APPLIST_PAGE)
    kinds = {
        "game": call.flag("include_games", True),
        "dlc": call.flag("include_dlc"),
        "application": call.flag("include_software"),
    }
    store, seed = call.world.store, call.world.catalog.seed
    apps: list[dict[str, Any]] = []
    more = False
    for app in call.world.catalog.after(last_appid):
        if not kinds.get(app.kind) or store.listed(app.appid) is None:
            continue
        last_modified = max(app.release_time - 60 * 86_400, 0) + int(
            unit(seed, "modified", app.appid) * 86_400 * 30
        )
        if last_modified <= since:
            continue
        if len(apps) == max_results:
            more = True
            break
        apps.append(
            {
                "appid": app.appid,
                "name": app.name,
                "last_modified": last_modified,
                "price_change_number": rng(seed, "pcn", app.appid).randrange(10**6, 3 * 10**7),
            }
        )
    response: dict[str, Any] = {"apps": apps}
    if more:
        response["have_more_results"] = True
        response["last_appid"] = apps[-1]["appid"]
    return json_reply({"response": response}, eresult=1)


def achievement_percentages(call: Call) -> Reply:
    """ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2 (`gameid`); percents are strings."""
    gameid = _required_int(call, "gameid")
    if isinstance(gameid, Reply):
        return gameid
    app = call.world.catalog.get(gameid)
    seed = call.world.catalog.seed
    if (
        app is None
        or app.kind != "game"
        or not app.released(call.now)
        or unit(seed, "achievements", gameid) >= 0.8
    ):
        return json_reply({}, 403)
    gen = rng(seed, "achievement-list", gameid)
    percents = sorted((gen.uniform(0.1, 99.9) for _ in range(gen.randint(5, 60))), reverse=True)
    achievements = [{"name": f"ACH_{i:03d}", "percent": f"{p:.1f}"} for i, p in enumerate(percents)]
    return json_reply({"achievementpercentages": {"achievements": achievements}}, eresult=1)


def removed(call: Call) -> Reply:
    """Methods Valve removed (ISteamApps/GetAppList, November 2025): 404 like an unknown path."""
    return not_found()


WEB_API_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("ISteamNews/GetNewsForApp", news_for_app, frozenset({2})),
    Endpoint("ISteamUserStats/GetNumberOfCurrentPlayers", current_players, frozenset({1})),
    Endpoint(
        "IPlayerService/GetRecentlyPlayedGames",
        recently_played,
        frozenset({1}),
        keyed=True,
        missing_key_status=403,
    ),
    Endpoint("IPlayerService/GetOwnedGames", owned_games, frozenset({1}), keyed=True, missing_key_status=403),
    Endpoint(
        "ISteamUser/GetPlayerSummaries", player_summaries, frozenset({2}), keyed=True, missing_key_status=400
    ),
    Endpoint("IStoreService/GetAppList", app_list, frozenset({1}), keyed=True, missing_key_status=403),
    Endpoint(
        "ISteamUserStats/GetGlobalAchievementPercentagesForApp", achievement_percentages, frozenset({2})
    ),
    Endpoint("ISteamApps/GetAppList", removed, frozenset({1, 2})),
)
