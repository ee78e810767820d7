"""The Steam client against a scripted local HTTP server: shapes, quirks, retries, key secrecy."""

from __future__ import annotations

import logging
import socket
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from steam_fake import Canned, FakeSteam

from steam_platform.resources.steam import (
    SteamAuthError,
    SteamKeyMissing,
    SteamMalformedResponse,
    SteamUnavailable,
)
from steam_platform.resources.steam_api import SteamApiResource

KEY = "ABCDEF0123456789SECRETKEY0000000"
PLAYERS = "ISteamUserStats/GetNumberOfCurrentPlayers/v1"
NEWS = "ISteamNews/GetNewsForApp/v2"


@pytest.fixture
def fake() -> FakeSteam:
    return FakeSteam()


@pytest.fixture
def steam(fake: FakeSteam, tmp_path: Path) -> Iterator[SteamApiResource]:
    with fake.serve() as url:
        resource = SteamApiResource(
            api_base_url=url,
            store_base_url=url,
            api_key=KEY,
            budget_state_dir=str(tmp_path),
            backoff_initial_s=0.01,
            backoff_max_s=0.05,
            max_attempts=4,
            read_timeout_s=5,
        )
        yield resource
        resource.close()


def test_current_players_live_unknown_and_old_shapes(fake: FakeSteam, steam: SteamApiResource) -> None:
    answers = {
        "730": Canned(200, {"response": {"player_count": 812345, "result": 1}}),
        "999": Canned(404, {"response": {"result": 42}}),
        "10": Canned(200, {"response": {"player_count": 0, "result": 1}}),
        "20": Canned(200, {"response": {"player_count": "17", "result": 1}}),
    }
    fake.add_handler(PLAYERS, lambda q: answers[q["appid"]])
    client = steam.client()
    live = client.current_players(730)
    assert (live.player_count, live.live) == (812345, True)
    assert live.payload() == {"player_count": 812345, "result": 1, "appid": 730}
    unknown = client.current_players(999)
    assert (unknown.player_count, unknown.live, unknown.result) == (None, False, 42)
    assert client.current_players(10).player_count == 0  # old servers: 200 with zero, still data
    assert client.current_players(20).player_count == 17
    assert all(q.get("format") == "json" and "key" not in q for q in fake.calls(PLAYERS))


def _news_item(gid: int, date: int, *, old: bool = False) -> dict:
    item = {
        "gid": str(gid),
        "title": f"Патч {gid} 패치 🎮",
        "url": "https://x",
        "is_external_url": False,
        "author": "dev",
        "contents": "<p>hi</p>",
        "feedlabel": "Community Announcements",
        "date": date,
        "feedname": "steam_community_announcements",
    }
    if not old:
        item.update(feed_type=1, appid=570, tags=["patchnotes"])
    return item


def test_news_pages_back_in_time_with_enddate_and_keeps_gids_as_strings(
    fake: FakeSteam, steam: SteamApiResource
) -> None:
    big = 18446744073709551000  # > 2**53: must survive as a string
    # 30 posts, one per hour, three sharing one second (page boundaries must not drop any).
    dates = [1_000_000 + 3600 * i for i in range(27)] + [1_000_000 + 3600 * 10] * 3
    posts = [_news_item(big - i, d, old=(i % 2 == 0)) for i, d in enumerate(dates)]

    def handler(q: dict[str, str]) -> Canned:
        enddate = int(q.get("enddate", 2**40))
        older = sorted((p for p in posts if p["date"] < enddate), key=lambda p: -p["date"])
        page = older[: int(q["count"])]
        return Canned(200, {"appnews": {"appid": 570, "newsitems": page, "count": len(posts)}})

    fake.add_handler(NEWS, handler)
    start, end = 1_000_000 + 3600 * 5, 1_000_000 + 3600 * 20
    items = steam.client().news_between(570, start, end, page_size=4)
    expected = {p["gid"] for p in posts if start <= p["date"] < end}
    assert {i["gid"] for i in items} == expected
    assert len(items) == len(expected) == 18
    assert all(isinstance(i["gid"], str) and i["appid"] == 570 for i in items)
    assert str(big) in {i["gid"] for i in posts}
    assert [int(i["date"]) for i in items] == sorted((int(i["date"]) for i in items), reverse=True)
    assert all(q["maxlength"] == "0" for q in fake.calls(NEWS))


def test_app_list_follows_the_cursor_and_needs_the_key(fake: FakeSteam, steam: SteamApiResource) -> None:
    pages = [
        {
            "response": {
                "apps": [{"appid": 10, "name": "A", "last_modified": 1, "price_change_number": 5}],
                "have_more_results": True,
                "last_appid": 10,
            }
        },
        {
            "response": {
                "apps": [{"appid": 20, "name": "B", "last_modified": 2, "price_change_number": 6}],
                "have_more_results": True,
                "last_appid": 20,
            }
        },
        {"response": {"apps": [{"appid": 30, "name": "C", "last_modified": 3, "price_change_number": 7}]}},
    ]
    fake.add("IStoreService/GetAppList/v1", *(Canned(200, p) for p in pages))
    got = list(steam.client().app_list(max_results=1))
    assert [a["appid"] for p in got for a in p.apps] == [10, 20, 30]
    assert (got[-1].have_more_results, got[-1].last_appid) == (False, None)
    sent = fake.calls("IStoreService/GetAppList/v1")
    assert [q.get("last_appid") for q in sent] == [None, "10", "20"]
    assert all(q["key"] == KEY for q in sent)

    keyless = SteamApiResource(
        api_base_url=steam.api_base_url,
        store_base_url=steam.store_base_url,
        budget_state_dir=steam.budget_state_dir,
    )
    with pytest.raises(SteamKeyMissing, match="STEAM_API_KEY"):
        list(keyless.client().app_list())
    assert len(fake.calls("IStoreService/GetAppList/v1")) == 3  # nothing sent without a key
    keyless.close()


def test_app_details_quirks(fake: FakeSteam, steam: SteamApiResource) -> None:
    details = {
        "type": "game",
        "name": "Dota 2",
        "steam_appid": 570,
        "required_age": "17",
        "is_free": False,
        "pc_requirements": [],
        "price_overview": {"currency": "USD", "initial": 1999, "final": 999},
        "genres": [{"id": "1", "description": "Action"}],
        "categories": [{"id": 2, "description": "MP"}],
        "release_date": {"coming_soon": False, "date": "9 Jul, 2013"},
    }
    answers = {
        "570": Canned(200, {"570": {"success": True, "data": details}}),
        "1": Canned(200, {"1": {"success": False}}),
        "2": Canned(200, {"2": {"success": True, "data": []}}),
    }
    fake.add_handler("api/appdetails", lambda q: answers[q["appids"]])
    client = steam.client()
    dota = client.app_details(570)
    assert (dota.required_age, dota.price_cents, dota.genre_ids, dota.category_ids) == (17, 999, ["1"], [2])
    assert dota.pc_requirements == {}
    assert dota.payload()["required_age"] == "17"  # the event carries Steam's object untouched
    assert client.app_details(1).success is False
    free = client.app_details(2)
    assert (free.success, free.data, free.price_cents) == (True, {}, None)
    assert fake.calls("api/appdetails")[0] == {"appids": "570", "cc": "us", "l": "english"}


def test_player_games_private_empty_and_summaries(fake: FakeSteam, steam: SteamApiResource) -> None:
    game = {"appid": 570, "name": "Dota 2", "playtime_2weeks": 30, "playtime_forever": 900}
    recent = {
        "76561198000000001": Canned(200, {"response": {"total_count": 3, "games": [game]}}),
        "76561198000000002": Canned(200, {"response": {"total_count": 0}}),
        "76561198000000003": Canned(200, {"response": {}}),
    }
    fake.add_handler("IPlayerService/GetRecentlyPlayedGames/v1", lambda q: recent[q["steamid"]])
    fake.add("IPlayerService/GetOwnedGames/v1", Canned(200, {"response": {"game_count": 1, "games": [game]}}))
    ids = [str(76561198000000000 + i) for i in range(150)]

    def summaries(q: dict[str, str]) -> Canned:
        asked = q["steamids"].split(",")
        assert len(asked) <= 100
        return Canned(
            200, {"response": {"players": [{"steamid": s, "personaname": "p"} for s in asked[:-1]]}}
        )

    fake.add_handler("ISteamUser/GetPlayerSummaries/v2", summaries)
    client = steam.client()
    played = client.recently_played("76561198000000001")
    assert (played.visible, played.total_count, len(played.games)) == (True, 3, 1)
    nothing = client.recently_played("76561198000000002")
    assert (nothing.visible, nothing.total_count, nothing.games) == (True, 0, [])
    private = client.recently_played("76561198000000003")
    assert private.visible is False
    owned = client.owned_games("76561198000000001")
    assert (owned.total_count, owned.games[0]["playtime_forever"]) == (1, 900)
    found = client.player_summaries(ids)
    assert len(fake.calls("ISteamUser/GetPlayerSummaries/v2")) == 2
    assert len(found) == 148 and all(isinstance(k, str) and len(k) == 17 for k in found)


def test_429_and_5xx_are_retried_with_and_without_retry_after(
    fake: FakeSteam, steam: SteamApiResource
) -> None:
    ok = Canned(200, {"response": {"player_count": 5, "result": 1}})
    fake.add(
        PLAYERS, Canned(429, {}), Canned(503, "<html>busy</html>"), Canned(429, {}, {"Retry-After": "1"}), ok
    )
    started = time.monotonic()
    assert steam.client().current_players(730).player_count == 5
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    stats = steam.stats()
    assert (stats.total_calls, stats.retries, stats.throttled, stats.server_errors) == (4, 3, 2, 1)
    assert steam.usage()["budget_used_today"] == 4  # every attempt is a call against the quota


def test_persistent_5xx_gives_up_as_unavailable(fake: FakeSteam, steam: SteamApiResource) -> None:
    fake.add(PLAYERS, Canned(500, {}))
    with pytest.raises(SteamUnavailable, match="HTTP 500"):
        steam.client().current_players(730)
    assert len(fake.calls(PLAYERS)) == 4


def test_malformed_json_is_a_typed_error_not_retried(fake: FakeSteam, steam: SteamApiResource) -> None:
    fake.add(PLAYERS, Canned(200, b'{"response": {"player_co'))
    with pytest.raises(SteamMalformedResponse, match="not JSON"):
        steam.client().current_players(730)
    fake.add(NEWS, Canned(200, "<html><body>Error</body></html>"))
    with pytest.raises(SteamMalformedResponse):
        steam.client().news_page(570)
    assert len(fake.calls(PLAYERS)) == 1


def _all_output(exc: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        [str(exc), repr(exc), "".join(traceback.format_exception(exc)), caplog.text]
        + [r.getMessage() for r in caplog.records]
    )


def test_bad_key_fails_clearly_once_and_never_shows_the_key(
    fake: FakeSteam, steam: SteamApiResource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.add(
        "IPlayerService/GetOwnedGames/v1",
        Canned(
            403,
            "<html><head><title>Forbidden</title></head><body>Access is denied. "
            "Retrying will not help. Please verify your <pre>key=</pre> parameter.</body></html>",
        ),
    )
    with pytest.raises(SteamAuthError) as info:
        steam.client().owned_games("76561198000000001")
    assert "refused the API key" in str(info.value) and "STEAM_API_KEY" in str(info.value)
    assert len(fake.calls("IPlayerService/GetOwnedGames/v1")) == 1  # no retry
    assert fake.calls("IPlayerService/GetOwnedGames/v1")[0]["key"] == KEY  # it was sent...
    assert KEY not in _all_output(info.value, caplog)  # ...and appears nowhere
    assert "key=***" in caplog.text  # urllib3 logged the request URL, redacted


def test_connection_errors_never_show_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there
    steam = SteamApiResource(
        api_base_url=f"http://127.0.0.1:{port}",
        store_base_url=f"http://127.0.0.1:{port}",
        api_key=KEY,
        budget_state_dir=str(tmp_path),
        backoff_initial_s=0.01,
        backoff_max_s=0.02,
        max_attempts=2,
    )
    with pytest.raises(SteamUnavailable) as info:
        steam.client().recently_played("76561198000000001")
    steam.close()
    assert "ConnectionError" in str(info.value)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert KEY not in _all_output(info.value, caplog)
