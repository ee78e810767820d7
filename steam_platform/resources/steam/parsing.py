"""Lenient readers of Steam's JSON: old and new shapes, quirks from STEAM_API.md, 64-bit ids as strings.

Each reader returns Steam's objects (so events can carry them untouched) plus the few typed fields
the platform relies on. Anything that is not the expected shape raises `SteamMalformedResponse`
for that one app or player, never a bare KeyError/TypeError.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from steam_platform.resources.steam.errors import SteamMalformedResponse
from steam_platform.resources.steam.transport import RawResponse

RESULT_OK = 1
RESULT_NO_MATCH = 42

P = ParamSpec("P")
R = TypeVar("R")


def _keeps_body(reader: Callable[P, R]) -> Callable[P, R]:
    """A reader whose `SteamMalformedResponse` carries the start of the body it could not read."""

    @functools.wraps(reader)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return reader(*args, **kwargs)
        except SteamMalformedResponse as exc:
            raw = next((a for a in (*args, *kwargs.values()) if isinstance(a, RawResponse)), None)
            if raw is not None:
                exc.keep_body(raw.body)
            raise

    return read


def decode_json(raw: RawResponse, what: str) -> Any:
    """The JSON body, or `SteamMalformedResponse` (truncated, HTML error page, garbage)."""
    content_type = raw.headers.get("Content-Type", raw.headers.get("content-type", "?"))
    try:
        return json.loads(raw.body)
    except (ValueError, UnicodeDecodeError) as exc:
        problem = f"{type(exc).__name__} at char {getattr(exc, 'pos', '?')}"
    raise SteamMalformedResponse(
        f"{what}: HTTP {raw.status} body is not JSON ({content_type}, {len(raw.body)} bytes, {problem})",
        raw.body,
    )


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SteamMalformedResponse(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _as_int(value: Any, default: int = 0) -> int:
    """Ints that Steam sometimes sends as strings ("17") or omits."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class PlayerCount:
    """Current players of one app; `live` is False for unknown/unreleased apps (404, result 42)."""

    appid: int
    player_count: int | None
    result: int
    live: bool
    response: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        """Steam's `response` object plus the requested appid (Steam does not echo it)."""
        return {**self.response, "appid": self.appid}


@_keeps_body
def read_player_count(appid: int, raw: RawResponse) -> PlayerCount:
    """GetNumberOfCurrentPlayers: 200 with a count, 404 `result: 42`, or old 200 with count 0."""
    what = f"current players of app {appid}"
    body = _object(decode_json(raw, what), what)
    response = _object(body.get("response", {}), what)
    result = _as_int(response.get("result"), RESULT_OK if raw.status == 200 else RESULT_NO_MATCH)
    if raw.status == 404 or result == RESULT_NO_MATCH:
        return PlayerCount(appid, None, result, False, {**response, "result": result})
    if raw.status != 200:
        raise SteamMalformedResponse(f"{what}: unexpected HTTP {raw.status}")
    if "player_count" not in response:
        raise SteamMalformedResponse(f"{what}: no player_count in response")
    count = _as_int(response["player_count"], -1)
    if count < 0:
        raise SteamMalformedResponse(f"{what}: player_count {response['player_count']!r} is not a count")
    return PlayerCount(appid, count, result, True, {**response, "player_count": count, "result": result})


@dataclass(frozen=True)
class NewsPage:
    """One GetNewsForApp answer: items newest first, and Steam's total count for the app."""

    appid: int
    items: list[dict[str, Any]]
    total: int


@_keeps_body
def read_news(appid: int, raw: RawResponse) -> NewsPage:
    """GetNewsForApp v2; old items lack `feed_type`/`appid` (the appid is filled in), gid kept a string."""
    what = f"news of app {appid}"
    body = _object(decode_json(raw, what), what)
    appnews = _object(body.get("appnews", {}), what)
    items: list[dict[str, Any]] = []
    for item in appnews.get("newsitems") or []:
        item = _object(item, what)
        if "gid" not in item or "date" not in item:
            raise SteamMalformedResponse(f"{what}: news item without gid/date")
        items.append({**item, "gid": str(item["gid"]), "appid": _as_int(item.get("appid"), appid) or appid})
    return NewsPage(appid, items, _as_int(appnews.get("count"), len(items)))


@dataclass(frozen=True)
class AppListPage:
    """One IStoreService/GetAppList page; the last page omits both cursor keys."""

    apps: list[dict[str, Any]]
    have_more_results: bool
    last_appid: int | None


@_keeps_body
def read_app_list(raw: RawResponse) -> AppListPage:
    """GetAppList v1: `apps`, and `have_more_results` + `last_appid` except on the last page."""
    what = "app list page"
    body = _object(decode_json(raw, what), what)
    response = _object(body.get("response", {}), what)
    apps = [_object(a, what) for a in response.get("apps") or []]
    apps = [{**a, "appid": _as_int(a.get("appid"))} for a in apps]
    more = bool(response.get("have_more_results", False))
    last = response.get("last_appid")
    return AppListPage(apps, more, _as_int(last) if last is not None else None)


@dataclass(frozen=True)
class AppDetails:
    """Store appdetails of one app; `data` is Steam's object (None when `success` is false)."""

    appid: int
    success: bool
    data: dict[str, Any] | None

    @property
    def required_age(self) -> int:
        """An int, whether Steam sent 17 or "17"."""
        return _as_int((self.data or {}).get("required_age"), 0)

    @property
    def price_cents(self) -> int | None:
        """Final price in minor units; None for free apps or no price."""
        price = (self.data or {}).get("price_overview")
        return _as_int(price.get("final")) if isinstance(price, dict) and "final" in price else None

    @property
    def genre_ids(self) -> list[str]:
        """Genre ids (strings in Steam's answer; kept strings)."""
        return [str(g.get("id")) for g in (self.data or {}).get("genres") or [] if isinstance(g, dict)]

    @property
    def category_ids(self) -> list[int]:
        """Category ids (ints in Steam's answer)."""
        categories = (self.data or {}).get("categories") or []
        return [_as_int(c.get("id")) for c in categories if isinstance(c, dict)]

    @property
    def pc_requirements(self) -> dict[str, Any]:
        """A dict, also when Steam sends `[]`."""
        value = (self.data or {}).get("pc_requirements")
        return value if isinstance(value, dict) else {}

    def payload(self) -> dict[str, Any]:
        """Steam's `data` untouched plus `appid` (for the apps topic)."""
        return {**(self.data or {}), "appid": self.appid}


@_keeps_body
def read_app_details(appids: list[int], raw: RawResponse) -> dict[int, AppDetails]:
    """Store appdetails for one or several appids; `"data": []` (free app, price filter) -> empty data."""
    what = f"app details of {','.join(map(str, appids))}"
    body = _object(decode_json(raw, what), what)
    found: dict[int, AppDetails] = {}
    for appid in appids:
        entry = body.get(str(appid))
        if entry is None:
            raise SteamMalformedResponse(f"{what}: no entry for app {appid}")
        entry = _object(entry, what)
        data = entry.get("data")
        success = bool(entry.get("success"))
        if not isinstance(data, dict):
            data = {} if success else None
        found[appid] = AppDetails(appid, success, data)
    return found


@dataclass(frozen=True)
class PlayerGames:
    """Recently played or owned games of one player; a private profile is `visible=False`, no error."""

    steamid: str
    visible: bool
    total_count: int
    games: list[dict[str, Any]] = field(default_factory=list)


@_keeps_body
def read_player_games(steamid: str, raw: RawResponse, count_key: str) -> PlayerGames:
    """GetRecentlyPlayedGames (`total_count`) / GetOwnedGames (`game_count`); `{}` = private profile."""
    what = f"games of player {steamid}"
    body = _object(decode_json(raw, what), what)
    response = _object(body.get("response", {}), what)
    if not response:
        return PlayerGames(steamid, False, 0, [])
    games = [_object(g, what) for g in response.get("games") or []]
    games = [{**g, "appid": _as_int(g.get("appid"))} for g in games]
    return PlayerGames(steamid, True, _as_int(response.get(count_key), len(games)), games)


@_keeps_body
def read_player_summaries(raw: RawResponse) -> dict[str, dict[str, Any]]:
    """GetPlayerSummaries v2 by steamid (string); unknown ids are simply absent."""
    what = "player summaries"
    body = _object(decode_json(raw, what), what)
    response = _object(body.get("response", {}), what)
    players = [_object(p, what) for p in response.get("players") or []]
    return {str(p.get("steamid")): {**p, "steamid": str(p.get("steamid"))} for p in players}
