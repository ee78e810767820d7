"""The simulator's seeded data: deterministic, plausible, and full of Steam's quirks.

These tests call the data layer directly (no HTTP); `tests/steam/test_simulator_http.py`
checks the same behaviour over real HTTP.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from steam_platform.core.tracked import load_tracked
from steam_simulator.activity import daily_factor, launch_factor, weekly_factor
from steam_simulator.catalog import tracked_names
from steam_simulator.faults import FaultBook, FaultRuleError, parse_rules
from steam_simulator.news import NEWS_EPOCH, old_shape
from steam_simulator.ratelimit import SlidingWindowLimit, retry_after_header
from steam_simulator.reviews import decode_cursor, encode_cursor
from steam_simulator.store import delisted
from steam_simulator.world import World

NOW = calendar.timegm((2026, 11, 25, 18, 30, 0))  # a Wednesday evening (UTC)
DAY = 86_400
SEED = 7


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(SEED)


def _tracked_apps(world: World) -> Iterator[int]:
    return (a.appid for a in world.catalog.apps.values() if a.tracked)


# -- determinism ------------------------------------------------------------------------------------
def test_same_seed_same_data_in_a_fresh_world(world: World) -> None:
    again = World.build(SEED)
    assert again.catalog.apps == world.catalog.apps
    for appid in (730, 570, 1623730, *list(world.catalog.apps)[::500]):
        assert again.counts.count(appid, NOW) == world.counts.count(appid, NOW)
        assert [again.news.render(p) for p in again.news.latest(appid, NOW, 5)] == [
            world.news.render(p) for p in world.news.latest(appid, NOW, 5)
        ]
    sid = world.catalog.tracked_players[0]
    assert again.players.owned(sid, NOW, appinfo=True, free_games=True, only=None) == world.players.owned(
        sid, NOW, appinfo=True, free_games=True, only=None
    )
    assert again.store.details(again.catalog.apps[730], "us", NOW) == world.store.details(
        world.catalog.apps[730], "us", NOW
    )


def test_other_seed_other_data(world: World) -> None:
    other = World.build(SEED + 1)
    assert set(other.catalog.apps) != set(world.catalog.apps)
    assert other.counts.count(730, NOW) != world.counts.count(730, NOW)


def test_two_polls_in_the_same_minute_agree_and_the_next_minute_moves(world: World) -> None:
    minute = NOW - NOW % 60
    assert world.counts.count(730, minute) == world.counts.count(730, minute + 59.9)
    later = [world.counts.count(730, minute + 60 * k) for k in range(1, 6)]
    assert len(set(later)) > 1


# -- catalogue ----------------------------------------------------------------------------------------
def test_catalogue_holds_thousands_of_apps_including_every_tracked_one_by_name(world: World) -> None:
    tracked = load_tracked()
    names = tracked_names()
    assert len(world.catalog.apps) == 5_000
    for appid in tracked.apps:
        app = world.catalog.apps[appid]
        assert app.tracked and app.name == names[appid]
        assert app.released(NOW)
    assert world.catalog.apps[730].name == "Counter-Strike 2"
    kinds = {a.kind for a in world.catalog.apps.values()}
    assert kinds == {"game", "dlc", "application"}
    assert world.catalog.unreleased(NOW), "some announced apps launch later"
    assert world.catalog.get(1) is None


def test_tracked_apps_and_players_follow_the_configured_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tracked.yaml"
    config.write_text('apps:\n  - 4242420  # Мой 🎮 Game\nplayers:\n  - "76561198999999999"\n')
    monkeypatch.setenv("STEAM_TRACKED_CONFIG", str(config))
    custom = World.build(SEED, app_count=50)
    assert custom.catalog.apps[4242420].name == "Мой 🎮 Game" and custom.catalog.apps[4242420].tracked
    assert custom.catalog.tracked_players == ("76561198999999999",)
    assert custom.players.summary("76561198999999999", NOW) is not None


def test_catalogue_size_is_configurable_but_never_drops_tracked_apps() -> None:
    small = World.build(SEED, app_count=10)
    assert len(small.catalog.apps) == len(load_tracked().apps)


# -- player counts --------------------------------------------------------------------------------------
def test_unknown_and_unreleased_apps_have_no_count_and_dlc_has_zero(world: World) -> None:
    assert world.counts.count(1, NOW) is None
    unreleased = world.catalog.unreleased(NOW)[0]
    assert world.counts.count(unreleased.appid, NOW) is None
    assert world.counts.count(unreleased.appid, unreleased.release_time + 3600) is not None
    dlc = next(a for a in world.catalog.apps.values() if a.kind == "dlc" and a.released(NOW))
    assert world.counts.count(dlc.appid, NOW) == 0


def test_top_tracked_apps_have_plausible_magnitudes(world: World) -> None:
    cs2 = world.counts.count(730, NOW)
    assert cs2 is not None and 300_000 < cs2 < 3_000_000
    counts = [world.counts.count(appid, NOW) or 0 for appid in _tracked_apps(world)]
    assert all(c > 1_000 for c in counts)
    generated = [world.counts.count(a.appid, NOW) for a in world.catalog.apps.values() if not a.tracked]
    assert 0 in generated, "tiny games with nobody online exist"
    assert max(c for c in generated if c is not None) < max(counts)


def test_daily_cycle_has_one_peak_and_a_trough_half_a_day_later(world: World) -> None:
    app = world.catalog.apps[570]
    day = NOW - NOW % DAY
    factors = [daily_factor(SEED, app, day + h * 3600) for h in range(24)]
    peak_hour = max(range(24), key=lambda h: factors[h])
    trough_hour = min(range(24), key=lambda h: factors[h])
    assert abs((trough_hour - peak_hour) % 24 - 12) <= 1
    assert 0.4 < min(factors) < 0.7 and max(factors) == pytest.approx(1.0, abs=0.01)
    # The real counts follow the cycle: the peak hour beats the trough hour on the same day.
    peak = world.counts.count(570, day + peak_hour * 3600)
    trough = world.counts.count(570, day + trough_hour * 3600)
    assert peak is not None and trough is not None and peak > 1.3 * trough


def test_weekends_are_busier() -> None:
    saturday = calendar.timegm((2026, 11, 28, 12, 0, 0))
    assert weekly_factor(saturday) > weekly_factor(NOW)


def test_launch_spikes_then_decays_over_weeks(world: World) -> None:
    app = world.catalog.unreleased(NOW)[0]
    assert world.counts.count(app.appid, app.release_time - 1) is None
    first_hour = launch_factor(SEED, app, 0)
    day_one = launch_factor(SEED, app, DAY)
    week = launch_factor(SEED, app, 7 * DAY)
    half_year = launch_factor(SEED, app, 180 * DAY)
    assert first_hour < day_one, "players arrive over the first hours"
    assert day_one > week > half_year >= 1.0
    assert day_one > 2.0 * half_year


def test_major_updates_lift_the_player_count(world: World) -> None:
    for appid in _tracked_apps(world):
        majors = [p for p in world.news.posts(appid, NOW) if p.major and p.date > NEWS_EPOCH + 30 * DAY]
        if majors:
            break
    else:
        pytest.fail("no tracked app has a major update")
    app = world.catalog.apps[appid]
    post = majors[0]
    before = world.counts.update_factor(app, post.date - 1)
    after = world.counts.update_factor(app, post.date + 60)
    assert after >= before + post.major * 0.9
    assert world.counts.update_factor(app, post.date + 20 * DAY) < after


# -- news ---------------------------------------------------------------------------------------------
def test_news_pages_back_in_time_with_enddate_without_gaps_or_overlaps(world: World) -> None:
    everything = world.news.posts(730, NOW)
    assert len(everything) > 100
    seen: list[int] = []
    enddate: int | None = None
    while True:
        page = world.news.latest(730, NOW, 20, before=enddate)
        if not page:
            break
        assert all(enddate is None or p.date < enddate for p in page)
        assert [p.date for p in page] == sorted((p.date for p in page), reverse=True)
        seen += [p.gid for p in page]
        enddate = page[-1].date
    assert seen == [p.gid for p in everything]
    assert len(set(seen)) == len(seen)


def test_news_only_shows_what_was_published_by_the_clock(world: World) -> None:
    earlier = world.news.posts(730, NOW - 30 * DAY)
    now = world.news.posts(730, NOW)
    assert 0 < len(earlier) < len(now)
    assert all(p.date <= NOW - 30 * DAY for p in earlier)
    assert {p.gid for p in earlier} <= {p.gid for p in now}


def test_news_items_have_steams_fields_quirks_and_languages(world: World) -> None:
    items = [
        world.news.render(p) for appid in _tracked_apps(world) for p in world.news.latest(appid, NOW, 10)
    ]
    new_shape = [i for i in items if "feed_type" in i]
    old = [i for i in items if "feed_type" not in i]
    assert new_shape and old, "both the current and the old item shape occur"
    assert all("appid" not in i for i in old)
    for item in items:
        assert isinstance(item["gid"], str) and int(item["gid"]) > 2**53
        assert isinstance(item["date"], int) and isinstance(item["is_external_url"], bool)
    bbcode = [i for i in new_shape if i["feed_type"] == 1]
    html = [i for i in new_shape if i["feed_type"] == 0]
    assert bbcode and all("[h1]" in i["contents"] and "[list]" in i["contents"] for i in bbcode)
    assert html and all(i["contents"].startswith("<h2>") and "<p>" in i["contents"] for i in html)
    assert any("patchnotes" in i.get("tags", []) for i in items)
    assert any(len(i["contents"]) > 2_000 for i in items), "some contents are long"
    titles = " ".join(i["title"] for i in items)
    for script in (r"[\uac00-\ud7a3]", r"[\u4e00-\u9fff]", r"[\u0400-\u04ff]", r"[\U0001F300-\U0001FAFF]"):
        assert re.search(script, titles), script


def test_maxlength_truncates_contents(world: World) -> None:
    post = world.news.latest(730, NOW, 1)[0]
    item = world.news.render(post, maxlength=50)
    assert len(item["contents"]) == 53 and item["contents"].endswith("...")


def test_old_shape_is_a_stable_per_app_property(world: World) -> None:
    shares = [old_shape(SEED, a) for a in world.catalog.apps]
    assert 0.05 < sum(shares) / len(shares) < 0.15


# -- store ----------------------------------------------------------------------------------------------
def test_store_details_have_the_documented_quirks(world: World) -> None:
    listed = [a for a in world.catalog.apps.values() if world.store.listed(a.appid)]
    details = [world.store.details(a, "us", NOW) for a in listed[:400]]
    ages = {type(d["required_age"]) for d in details}
    assert ages == {int, str}
    assert any(d["pc_requirements"] == [] for d in details)
    assert any(isinstance(d["pc_requirements"], dict) for d in details)
    for d in details:
        assert all(isinstance(g["id"], str) for g in d["genres"])
        assert all(isinstance(c["id"], int) for c in d["categories"])
        if "price_overview" in d:
            price = d["price_overview"]
            assert isinstance(price["final"], int) and price["final"] <= price["initial"]
        else:
            assert d["is_free"] is True
    assert any(delisted(SEED, a) for a in world.catalog.apps.values())
    assert not any(delisted(SEED, a) for a in world.catalog.apps.values() if a.tracked)


def test_unreleased_apps_are_coming_soon_on_the_store(world: World) -> None:
    app = next(a for a in world.catalog.unreleased(NOW) if world.store.listed(a.appid))
    assert world.store.details(app, "us", NOW)["release_date"]["coming_soon"] is True
    assert world.store.details(world.catalog.apps[730], "us", NOW)["release_date"]["coming_soon"] is False


def test_reviews_cursor_needs_url_encoding_and_round_trips() -> None:
    cursor = encode_cursor(730, 12345)
    assert "+" in cursor and "/" in cursor
    assert decode_cursor(cursor, 730) == 12345
    assert decode_cursor(cursor.replace("+", " "), 730) is None
    assert decode_cursor(cursor, 570) is None


# -- players --------------------------------------------------------------------------------------------
def test_players_public_private_and_idle(world: World) -> None:
    sids = world.catalog.tracked_players
    private = [s for s in sids if world.players.recently_played(s, NOW, None) == {}]
    idle = [s for s in sids if world.players.recently_played(s, NOW, None) == {"total_count": 0}]
    active = [s for s in sids if world.players.recently_played(s, NOW, None).get("games")]
    assert private and idle and active
    assert len(private) + len(idle) + len(active) == len(sids)
    for sid in private:
        assert world.players.owned(sid, NOW, appinfo=True, free_games=True, only=None) == {}
        assert world.players.summary(sid, NOW)["communityvisibilitystate"] == 1  # type: ignore[index]
    assert world.players.summary("76561190000000000", NOW) is None


def test_playtime_grows_with_the_clock_and_platform_split_adds_up(world: World) -> None:
    sid = next(
        s for s in world.catalog.tracked_players if world.players.recently_played(s, NOW, None).get("games")
    )
    before = world.players.recently_played(sid, NOW, None)
    after = world.players.recently_played(sid, NOW + DAY, None)
    assert before["total_count"] == after["total_count"] >= len(before["games"])
    first_before = {g["appid"]: g for g in before["games"]}
    for game in after["games"]:
        assert game["playtime_forever"] > first_before[game["appid"]]["playtime_forever"]
        parts = ("windows", "mac", "linux", "deck")
        assert sum(game[f"playtime_{p}_forever"] for p in parts) == game["playtime_forever"]
    assert len(world.players.recently_played(sid, NOW, 1)["games"]) == 1
    owned = world.players.owned(sid, NOW, appinfo=False, free_games=True, only=None)
    assert owned["game_count"] == len(owned["games"]) >= 30
    assert "name" not in owned["games"][0]
    some = {owned["games"][0]["appid"]}
    assert [
        g["appid"] for g in world.players.owned(sid, NOW, appinfo=True, free_games=True, only=some)["games"]
    ] == [*some]


# -- faults and rate limit --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "418"}, "kind"),
        ({"kind": "500", "endpoint": "ISteamUserStats/GetNumberOfCurrentPlayers/v1"}, "unknown endpoint"),
        ({"kind": "500", "colour": "red"}, "colour"),
        ({"kind": "500", "retry_after": 3}, "retry_after only applies"),
        ({"kind": "500", "probability": 1.5}, "probability"),
        ({"kind": "slow", "count": -1}, "count"),
    ],
)
def test_bad_fault_rules_are_refused_with_a_clear_reason(rule: dict[str, object], message: str) -> None:
    with pytest.raises(FaultRuleError, match=message):
        parse_rules({"rules": [rule]}, ["ISteamUserStats/GetNumberOfCurrentPlayers"])


def test_fault_count_appids_and_probability() -> None:
    book = FaultBook(SEED, ["store/appdetails", "ISteamNews/GetNewsForApp"])
    book.set_rules([{"endpoint": "store/appdetails", "kind": "500", "count": 2, "appids": [730]}])
    assert book.pick("store/appdetails", [570]) is None
    assert book.pick("ISteamNews/GetNewsForApp", [730]) is None
    fired = [book.pick("store/appdetails", [570, 730]) for _ in range(3)]
    assert [r.kind if r else None for r in fired] == ["500", "500", None]
    assert book.rules()[0]["fired"] == 2
    book.set_rules(
        [
            {"endpoint": "store/appdetails", "kind": "500", "count": 0},
            {"endpoint": "*", "kind": "503", "probability": 0.5},
        ]
    )
    rolls = [book.pick("ISteamNews/GetNewsForApp", [730]) for _ in range(400)]
    hits = sum(r is not None for r in rolls)
    assert 150 < hits < 250
    with pytest.raises(FaultRuleError):
        book.set_rules([{"kind": "nope"}])
    assert len(book.rules()) == 2, "a refused update keeps the current rules"
    book.record("store/appdetails")
    assert book.calls() == {"total": 1, "by_endpoint": {"store/appdetails": 1}}
    book.reset()
    assert book.calls() == {"total": 0, "by_endpoint": {}} and book.rules() == []


def test_sliding_window_limit_and_retry_after() -> None:
    clock = [1000.0]
    limit = SlidingWindowLimit(3, 60, clock=lambda: clock[0])
    assert [limit.admit("a") for _ in range(3)] == [None, None, None]
    wait = limit.admit("a")
    assert wait == pytest.approx(60.0)
    assert limit.admit("b") is None, "the limit is per client"
    clock[0] += 30
    assert limit.admit("a") == pytest.approx(30.0)
    clock[0] += 30.5
    assert limit.admit("a") is None
    assert retry_after_header(0.2) == "1" and retry_after_header(29.01) == "30"
    assert SlidingWindowLimit(0, 60).admit("a") is None
