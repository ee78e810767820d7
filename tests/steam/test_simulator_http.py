"""The Steam simulator over real HTTP: every endpoint's shape and status, faults, counters, limits.

Each test talks to a `SimulatorServer` on a free port through `requests` (or `http.client` where
the raw bytes matter), exactly as the Steam client does. The clock is frozen so answers are stable.
"""

from __future__ import annotations

import calendar
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from steam_devstack.health import free_port, http_ok
from steam_simulator.replies import ACCESS_DENIED
from steam_simulator.server import SimulatorServer

pytestmark = pytest.mark.integration

KEY = "test-key"
NOW = calendar.timegm((2026, 11, 25, 18, 30, 0))
PLAYERS = "/ISteamUserStats/GetNumberOfCurrentPlayers/v1/"
NEWS = "/ISteamNews/GetNewsForApp/v2/"
RECENT = "/IPlayerService/GetRecentlyPlayedGames/v1/"
OWNED = "/IPlayerService/GetOwnedGames/v1/"
SUMMARIES = "/ISteamUser/GetPlayerSummaries/v2/"
APPLIST = "/IStoreService/GetAppList/v1/"
ACHIEVEMENTS = "/ISteamUserStats/GetGlobalAchievementPercentagesForApp/v2/"
DETAILS = "/api/appdetails"
TIMEOUT = 10


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(port=0, seed=7, api_keys=(KEY,), now=NOW, store_rate_limit=100_000) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(sim: SimulatorServer) -> None:
    sim.reset()


@pytest.fixture(scope="module")
def examples(sim: SimulatorServer) -> dict[str, Any]:
    info = requests.get(f"{sim.base_url}/__sim/info", timeout=TIMEOUT).json()
    return dict(info["examples"])


def get(sim: SimulatorServer, path: str, **params: Any) -> requests.Response:
    return requests.get(sim.base_url + path, params=params, timeout=TIMEOUT)


# -- admin ----------------------------------------------------------------------------------------------
def test_admin_health_calls_reset_over_http(sim: SimulatorServer) -> None:
    base = sim.base_url
    assert requests.get(f"{base}/__sim/health", timeout=TIMEOUT).json() == {"ok": True}
    get(sim, PLAYERS, appid=730)
    get(sim, PLAYERS, appid=570)
    get(sim, DETAILS, appids=730)
    calls = requests.get(f"{base}/__sim/calls", timeout=TIMEOUT).json()
    assert calls == {
        "total": 3,
        "by_endpoint": {"ISteamUserStats/GetNumberOfCurrentPlayers": 2, "store/appdetails": 1},
    }
    assert sim.calls() == calls, "admin calls are not counted"
    rules = {"rules": [{"endpoint": "store/appdetails", "kind": "500"}]}
    assert requests.post(f"{base}/__sim/faults", json=rules, timeout=TIMEOUT).json()["ok"] is True
    assert get(sim, DETAILS, appids=730).status_code == 500
    assert requests.post(f"{base}/__sim/reset", timeout=TIMEOUT).json() == {"ok": True}
    assert sim.calls() == {"total": 0, "by_endpoint": {}}
    assert get(sim, DETAILS, appids=730).status_code == 200, "reset clears the faults"


def test_invalid_fault_rules_get_400_and_keep_the_current_rules(sim: SimulatorServer) -> None:
    base = sim.base_url
    sim.set_faults([{"endpoint": "ISteamNews/GetNewsForApp", "kind": "503"}])
    bad = {"rules": [{"endpoint": "ISteamNews/GetNewsForApp/v2", "kind": "503"}]}
    resp = requests.post(f"{base}/__sim/faults", json=bad, timeout=TIMEOUT)
    assert resp.status_code == 400 and "unknown endpoint" in resp.json()["error"]
    resp = requests.post(f"{base}/__sim/faults", data=b"{not json", timeout=TIMEOUT)
    assert resp.status_code == 400
    current = requests.get(f"{base}/__sim/faults", timeout=TIMEOUT).json()["rules"]
    assert [r["kind"] for r in current] == ["503"]
    assert get(sim, NEWS, appid=730).status_code == 503


def test_clock_can_be_moved_and_counts_follow(sim: SimulatorServer) -> None:
    before = get(sim, PLAYERS, appid=730).json()["response"]["player_count"]
    moved = requests.post(f"{sim.base_url}/__sim/clock", json={"now": NOW + 6 * 3600}, timeout=TIMEOUT)
    assert moved.json() == {"ok": True, "now": NOW + 6 * 3600}
    after = get(sim, PLAYERS, appid=730).json()["response"]["player_count"]
    assert after != before
    sim.reset()
    assert get(sim, PLAYERS, appid=730).json()["response"]["player_count"] == before


# -- Web API --------------------------------------------------------------------------------------------
def test_current_players_shape_status_and_eresult(sim: SimulatorServer, examples: dict[str, Any]) -> None:
    resp = get(sim, PLAYERS, appid=730)
    assert resp.status_code == 200 and resp.headers["x-eresult"] == "1"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body["response"]) == {"player_count", "result"} and body["response"]["result"] == 1
    assert get(sim, PLAYERS.rstrip("/"), appid=730).json() == body, "with and without trailing slash"
    assert get(sim, "/ISteamUserStats/GetNumberOfCurrentPlayers/v0001/", appid=730).json() == body
    for appid in (examples["unknown_appid"], examples["unreleased_appids"][0]):
        missing = get(sim, PLAYERS, appid=appid)
        assert missing.status_code == 404 and missing.json() == {"response": {"result": 42}}
        assert missing.headers["x-eresult"] == "42"
    no_appid = get(sim, PLAYERS)
    assert no_appid.status_code == 400 and "appid" in no_appid.text
    assert get(sim, "/ISteamUserStats/GetNumberOfCurrentPlayers/v2/", appid=730).status_code == 404


def test_news_shape_and_enddate_paging(sim: SimulatorServer, examples: dict[str, Any]) -> None:
    first = get(sim, NEWS, appid=730, count=5, maxlength=0, format="json").json()["appnews"]
    assert first["appid"] == 730 and first["count"] > 100 and len(first["newsitems"]) == 5
    for item in first["newsitems"]:
        assert {
            "gid",
            "title",
            "url",
            "is_external_url",
            "author",
            "contents",
            "feedlabel",
            "date",
            "feedname",
        } <= set(item)
        assert isinstance(item["gid"], str) and item["appid"] == 730 and item["feed_type"] in (0, 1)
    gids: list[str] = []
    enddate = None
    while len(gids) < 60:
        params = {"appid": 730, "count": 20} | ({"enddate": enddate} if enddate else {})
        page = get(sim, NEWS, **params).json()["appnews"]["newsitems"]
        assert page and all(enddate is None or i["date"] < enddate for i in page)
        gids += [i["gid"] for i in page]
        enddate = page[-1]["date"]
    assert len(set(gids)) == len(gids)
    old_app = examples["old_news_shape_appids"][0]
    old_items = get(sim, NEWS, appid=old_app, count=3).json()["appnews"]["newsitems"]
    assert old_items and all("feed_type" not in i and "appid" not in i for i in old_items)
    short = get(sim, NEWS, appid=730, count=1, maxlength=40).json()["appnews"]["newsitems"][0]
    assert len(short["contents"]) <= 43
    only = get(sim, NEWS, appid=730, count=10, feeds="steam_community_announcements").json()
    assert {i["feedname"] for i in only["appnews"]["newsitems"]} == {"steam_community_announcements"}


def test_keys_missing_bad_and_good(sim: SimulatorServer) -> None:
    sid = "76561198000000001"
    for path, params, status in (
        (RECENT, {"steamid": sid}, 403),
        (OWNED, {"steamid": sid}, 403),
        (APPLIST, {}, 403),
        (SUMMARIES, {"steamids": sid}, 400),
    ):
        assert get(sim, path, **params).status_code == status, path
        bad = get(sim, path, key="wrong", **params)
        assert bad.status_code == 403 and bad.headers["Content-Type"].startswith("text/html")
        assert ACCESS_DENIED in bad.text
        assert "Access is denied. Retrying will not help." in bad.text
        assert get(sim, path, key=KEY, **params).status_code == 200
    assert get(sim, PLAYERS, appid=730).status_code == 200, "keyless methods need no key"
    assert get(sim, PLAYERS, appid=730, key="wrong").status_code == 403, "a sent key is always checked"
    assert get(sim, DETAILS, appids=730, key="wrong").status_code == 200, "the store ignores keys"


def test_players_private_idle_public(sim: SimulatorServer, examples: dict[str, Any]) -> None:
    private, idle, public = (
        examples["private_steamids"][0],
        examples["idle_steamids"][0],
        examples["public_steamids"][0],
    )
    assert get(sim, RECENT, key=KEY, steamid=private).json() == {"response": {}}
    assert get(sim, OWNED, key=KEY, steamid=private).json() == {"response": {}}
    assert get(sim, RECENT, key=KEY, steamid=idle).json() == {"response": {"total_count": 0}}
    recent = get(sim, RECENT, key=KEY, steamid=public, count=2).json()["response"]
    assert recent["total_count"] >= len(recent["games"]) == 2
    assert {
        "appid",
        "name",
        "playtime_2weeks",
        "playtime_forever",
        "img_icon_url",
        "playtime_deck_forever",
    } <= set(recent["games"][0])
    owned = get(sim, OWNED, key=KEY, steamid=public, include_appinfo=1, include_played_free_games=1).json()
    games = owned["response"]["games"]
    assert owned["response"]["game_count"] == len(games) >= 30 and "name" in games[0]
    assert {"rtime_last_played", "playtime_disconnected", "playtime_windows_forever"} <= set(games[0])
    pick = games[3]["appid"]
    filtered = get(sim, OWNED, key=KEY, steamid=public, **{"appids_filter[0]": pick}).json()["response"]
    assert [g["appid"] for g in filtered["games"]] == [pick] and "name" not in filtered["games"][0]
    summaries = get(sim, SUMMARIES, key=KEY, steamids=f"{public},{private},76561190000000000").json()
    players = {p["steamid"]: p for p in summaries["response"]["players"]}
    assert set(players) == {public, private}, "unknown steamids are absent"
    assert players[private]["communityvisibilitystate"] == 1 and "timecreated" not in players[private]
    assert players[public]["communityvisibilitystate"] == 3 and isinstance(players[public]["steamid"], str)
    too_many = ",".join(str(76561198000000000 + i) for i in range(101))
    assert get(sim, SUMMARIES, key=KEY, steamids=too_many).status_code == 400


def test_app_list_cursor_pages_to_the_end(sim: SimulatorServer) -> None:
    apps: list[dict[str, Any]] = []
    last_appid = 0
    pages = 0
    while True:
        body = get(sim, APPLIST, key=KEY, last_appid=last_appid, max_results=1000).json()["response"]
        pages += 1
        apps += body["apps"]
        if "have_more_results" not in body:
            assert "last_appid" not in body, "the last page omits both cursor keys"
            break
        assert body["have_more_results"] is True and body["last_appid"] == body["apps"][-1]["appid"]
        last_appid = body["last_appid"]
    ids = [a["appid"] for a in apps]
    assert pages >= 3 and ids == sorted(set(ids))
    assert set(apps[0]) == {"appid", "name", "last_modified", "price_change_number"}
    one_page = get(sim, APPLIST, key=KEY, max_results=50_000).json()["response"]
    assert [a["appid"] for a in one_page["apps"]] == ids and "have_more_results" not in one_page
    with_dlc = get(sim, APPLIST, key=KEY, max_results=50_000, include_dlc="true").json()["response"]["apps"]
    assert len(with_dlc) > len(ids)
    assert get(sim, "/ISteamApps/GetAppList/v2/").status_code == 404, "removed in November 2025"
    assert get(sim, "/ISteamApps/GetAppList/v2").status_code == 404
    assert get(sim, "/no/such/path").status_code == 404


def test_achievement_percentages_are_strings(sim: SimulatorServer, examples: dict[str, Any]) -> None:
    resp = get(sim, ACHIEVEMENTS, gameid=730)
    achievements = resp.json()["achievementpercentages"]["achievements"]
    assert achievements and all(
        isinstance(a["percent"], str) and float(a["percent"]) > 0 for a in achievements
    )
    for gameid in (examples["no_achievement_appids"][0], examples["unknown_appid"]):
        none = get(sim, ACHIEVEMENTS, gameid=gameid)
        assert none.status_code == 403 and none.json() == {}


# -- store ----------------------------------------------------------------------------------------------
def test_appdetails_shapes_and_quirks(sim: SimulatorServer, examples: dict[str, Any]) -> None:
    body = get(sim, DETAILS, appids=730, cc="us", l="english").json()
    data = body["730"]["data"]
    assert (
        body["730"]["success"] is True and data["steam_appid"] == 730 and data["name"] == "Counter-Strike 2"
    )
    assert {
        "type",
        "required_age",
        "is_free",
        "short_description",
        "developers",
        "publishers",
        "platforms",
    } <= set(data)
    assert "x-eresult" not in get(sim, DETAILS, appids=730).headers
    for appid in (examples["unknown_appid"], examples["delisted_appids"][0]):
        assert get(sim, DETAILS, appids=appid).json() == {str(appid): {"success": False}}
    age_app = examples["string_required_age_appids"][0]
    age = get(sim, DETAILS, appids=age_app).json()[str(age_app)]
    assert age["success"] is False or isinstance(age["data"]["required_age"], str)
    free = examples["free_appids"][0]
    prices = get(sim, DETAILS, appids=f"730,{free}", filters="price_overview").json()
    assert prices[str(free)] == {"success": True, "data": []}
    assert set(prices["730"]["data"]) == {"price_overview"}
    assert isinstance(prices["730"]["data"]["price_overview"]["final"], int)
    several = get(sim, DETAILS, appids=f"730,{free}")
    assert several.status_code == 400 and several.json() is None
    coming = get(sim, DETAILS, appids=examples["unreleased_appids"][0]).json()
    entry = next(iter(coming.values()))
    assert entry["success"] is False or entry["data"]["release_date"]["coming_soon"] is True


def test_appreviews_cursor_pages_need_url_encoding(sim: SimulatorServer) -> None:
    first = get(sim, "/appreviews/730", json=1, cursor="*", num_per_page=10, filter="recent").json()
    assert first["success"] == 1 and first["query_summary"]["total_reviews"] > 10
    assert len(first["reviews"]) == 10 and isinstance(first["reviews"][0]["recommendationid"], str)
    assert "+" in first["cursor"]
    second = get(sim, "/appreviews/730/", json=1, cursor=first["cursor"], num_per_page=10).json()
    assert second["success"] == 1 and set(second["query_summary"]) == {"num_reviews"}
    assert not {r["recommendationid"] for r in first["reviews"]} & {
        r["recommendationid"] for r in second["reviews"]
    }
    raw = requests.get(f"{sim.base_url}/appreviews/730?json=1&cursor={first['cursor']}", timeout=TIMEOUT)
    assert raw.json() == {"success": 2}, "an unencoded cursor turns + into spaces"


# -- faults ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503)])
def test_server_error_faults(sim: SimulatorServer, kind: str, status: int) -> None:
    sim.set_faults([{"endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers", "kind": kind, "count": 2}])
    answers = [get(sim, PLAYERS, appid=730) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].headers["Content-Type"].startswith("text/html")
    assert sim.calls()["by_endpoint"]["ISteamUserStats/GetNumberOfCurrentPlayers"] == 3


def test_429_fault_with_and_without_retry_after(sim: SimulatorServer) -> None:
    sim.set_faults(
        [
            {"endpoint": "store/appdetails", "kind": "429", "count": 1, "retry_after": 2},
            {"endpoint": "store/appdetails", "kind": "429", "count": 1},
        ]
    )
    with_header = get(sim, DETAILS, appids=730)
    without = get(sim, DETAILS, appids=730)
    assert with_header.status_code == 429 and with_header.headers["Retry-After"] == "2"
    assert without.status_code == 429 and "Retry-After" not in without.headers
    assert get(sim, DETAILS, appids=730).status_code == 200


def test_slow_fault_delays_a_normal_answer(sim: SimulatorServer) -> None:
    sim.set_faults([{"endpoint": "*", "kind": "slow", "delay_ms": 400, "count": 1}])
    start = time.monotonic()
    resp = get(sim, PLAYERS, appid=730)
    assert (
        time.monotonic() - start >= 0.4 and resp.status_code == 200 and resp.json()["response"]["result"] == 1
    )
    start = time.monotonic()
    get(sim, PLAYERS, appid=730)
    assert time.monotonic() - start < 0.4


def test_truncated_fault_promises_more_bytes_than_it_sends(sim: SimulatorServer) -> None:
    sim.set_faults([{"endpoint": "ISteamNews/GetNewsForApp", "kind": "truncated", "count": 1}])
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=TIMEOUT)
    conn.request("GET", f"{NEWS}?appid=730&count=3")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as caught:
        resp.read()
    conn.close()
    assert 0 < len(caught.value.partial) < int(resp.headers["Content-Length"])
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sim.set_faults([{"endpoint": "ISteamNews/GetNewsForApp", "kind": "truncated", "count": 1}])
        get(sim, NEWS, appid=730, count=3)
    assert get(sim, NEWS, appid=730, count=3).json()["appnews"]["appid"] == 730


@pytest.mark.parametrize(("kind", "content_type"), [("html", "text/html"), ("bad_json", "application/json")])
def test_unparseable_body_faults(sim: SimulatorServer, kind: str, content_type: str) -> None:
    sim.set_faults([{"endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers", "kind": kind, "appids": [570]}])
    resp = get(sim, PLAYERS, appid=570)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith(content_type)
    with pytest.raises(ValueError):
        json.loads(resp.text)
    assert get(sim, PLAYERS, appid=730).json()["response"]["result"] == 1, "other appids are not hit"


def test_revoked_key_fault_answers_like_a_bad_key(sim: SimulatorServer) -> None:
    sim.set_faults([{"endpoint": "IStoreService/GetAppList", "kind": "403", "count": 1}])
    revoked = get(sim, APPLIST, key=KEY)
    assert revoked.status_code == 403 and ACCESS_DENIED in revoked.text
    assert get(sim, APPLIST, key=KEY).status_code == 200


def test_wildcard_and_probability_rules(sim: SimulatorServer) -> None:
    sim.set_faults([{"endpoint": "*", "kind": "503", "probability": 0.0}])
    assert get(sim, DETAILS, appids=730).status_code == 200
    sim.set_faults([{"endpoint": "*", "kind": "503"}])
    assert get(sim, DETAILS, appids=730).status_code == 503
    assert get(sim, NEWS, appid=730).status_code == 503
    assert requests.get(f"{sim.base_url}/__sim/health", timeout=TIMEOUT).status_code == 200, (
        "admin is never faulted"
    )


def test_parallel_clients_get_consistent_answers_exact_counts_and_fault_budgets(sim: SimulatorServer) -> None:
    apps = [730, 570, 440, 578080, 1172470, 271590, 252490, 1085660]
    expected = {a: get(sim, PLAYERS, appid=a).json() for a in apps}
    sim.reset()
    sim.set_faults([{"endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers", "kind": "503", "count": 10}])

    def poll(appid: int) -> list[tuple[int, Any]]:
        with requests.Session() as session:
            out = []
            for _ in range(25):
                resp = session.get(sim.base_url + PLAYERS, params={"appid": appid}, timeout=TIMEOUT)
                out.append((resp.status_code, resp.json() if resp.status_code == 200 else None))
            return out

    with ThreadPoolExecutor(max_workers=len(apps)) as pool:
        results = dict(zip(apps, pool.map(poll, apps), strict=True))
    statuses = [status for answers in results.values() for status, _ in answers]
    assert statuses.count(503) == 10 and statuses.count(200) == len(statuses) - 10
    for appid, answers in results.items():
        assert all(body == expected[appid] for status, body in answers if status == 200)
    assert sim.calls() == {"total": 200, "by_endpoint": {"ISteamUserStats/GetNumberOfCurrentPlayers": 200}}


# -- store rate limit -------------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [True, False])
def test_store_rate_limit_answers_429(retry_after: bool) -> None:
    with SimulatorServer(
        port=0,
        seed=7,
        api_keys=(KEY,),
        store_rate_limit=5,
        store_rate_window_s=60,
        store_retry_after=retry_after,
    ) as server:
        answers = [get(server, DETAILS, appids=730).status_code for _ in range(5)]
        limited = get(server, "/appreviews/730", json=1)
        assert answers == [200] * 5 and limited.status_code == 429
        if retry_after:
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
        else:
            assert "Retry-After" not in limited.headers
        assert get(server, PLAYERS, appid=730).status_code == 200, "the Web API is not store-limited"
        assert server.calls()["by_endpoint"] == {
            "store/appdetails": 5,
            "store/appreviews": 1,
            "ISteamUserStats/GetNumberOfCurrentPlayers": 1,
        }
        server.reset()
        assert get(server, DETAILS, appids=730).status_code == 200


# -- the command line -------------------------------------------------------------------------------------
def test_command_line_serves_with_faults_from_a_file_and_never_logs_the_key(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rules": [{"endpoint": "store/appdetails", "kind": "503", "count": 1}]}))
    port = free_port()
    secret = "cli-secret-key-123"
    argv = [sys.executable, "-m", "steam_simulator", "--port", str(port), "--seed", "7"]
    argv += ["--api-key", secret, "--faults", str(faults), "--verbose"]
    log = tmp_path / "sim.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not http_ok(f"http://127.0.0.1:{port}/__sim/health"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}{DETAILS}", params={"appids": 730}, timeout=TIMEOUT).status_code == 503
        assert requests.get(f"{base}{DETAILS}", params={"appids": 730}, timeout=TIMEOUT).status_code == 200
        owned = requests.get(
            f"{base}{OWNED}", params={"key": secret, "steamid": "76561198000000001"}, timeout=TIMEOUT
        )
        assert owned.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "GetOwnedGames" in text and "key=***" in text
    assert secret not in text


def test_command_line_refuses_bad_fault_files(tmp_path: Path) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"rules": [{"endpoint": "*", "kind": "teapot"}]}))
    argv = [
        sys.executable,
        "-m",
        "steam_simulator",
        "--port",
        str(free_port()),
        "--faults",
        str(faults),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "teapot" in done.stderr
