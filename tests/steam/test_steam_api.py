"""Every Steam endpoint the client reads, parsed from the simulator's real HTTP answers, quirks included.

The simulator's `/__sim/info` names example ids for each quirk (old news shape, string
`required_age`, private/idle players, unknown apps), so nothing here guesses.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_support import SimAdmin, clean_sim, sim

from steam_platform.core.tracked import load_tracked
from steam_platform.resources.steam import SteamClient, SteamKeyMissing
from steam_platform.resources.steam_api import SteamApiResource

pytestmark = pytest.mark.integration
__all__ = ["clean_sim", "sim"]


@pytest.fixture
def steam(sim: SimAdmin, tmp_path: Path) -> Iterator[SteamApiResource]:
    resource = sim.steam(tmp_path)
    yield resource
    resource.close()


@pytest.fixture(scope="module")
def examples(sim: SimAdmin) -> dict[str, Any]:
    return sim.info()["examples"]


def test_current_players_live_unknown_and_unreleased(
    steam: SteamApiResource, examples: dict[str, Any]
) -> None:
    client = steam.client()
    live = [client.current_players(a) for a in load_tracked().apps[:20]]
    assert all(p.live and p.player_count is not None and p.player_count >= 0 for p in live)
    assert sum(p.player_count or 0 for p in live) > 0
    unknown = client.current_players(examples["unknown_appid"])
    assert (unknown.live, unknown.player_count, unknown.result) == (False, None, 42)
    for appid in examples["unreleased_appids"][:3]:
        unreleased = client.current_players(appid)
        assert unreleased.player_count in (None, 0)  # 404/42 today, 200 with 0 on old servers


def test_news_old_and_new_shapes_non_latin_titles_string_gids(
    steam: SteamApiResource, examples: dict[str, Any]
) -> None:
    client = steam.client()
    now = int(datetime.now(UTC).timestamp())
    old_app = examples["old_news_shape_appids"][0]
    old_items = client.news_between(old_app, now - 60 * 86400, now)
    assert old_items and all("feed_type" not in i and i["appid"] == old_app for i in old_items)
    new_app = next(a for a in load_tracked().apps if a not in examples["old_news_shape_appids"])
    new_items = client.news_between(new_app, now - 60 * 86400, now)
    assert new_items and all(i["feed_type"] in (0, 1) for i in new_items)
    items = old_items + new_items
    assert all(isinstance(i["gid"], str) and i["gid"].isdigit() for i in items)
    assert any(int(i["gid"]) > 2**53 for i in items)
    assert any(any(ord(ch) > 127 for ch in i["title"]) for i in items)
    # Paging with a small page size finds exactly what one large page holds.
    paged = client.news_between(new_app, now - 60 * 86400, now, page_size=3)
    assert [i["gid"] for i in paged] == [i["gid"] for i in new_items]


def test_app_list_pages_to_the_end(sim: SimAdmin, steam: SteamApiResource) -> None:
    pages = list(steam.client().app_list(max_results=500, include_dlc=True, include_software=True))
    assert len(pages) > 2
    assert all(p.have_more_results and p.last_appid for p in pages[:-1])
    assert (pages[-1].have_more_results, pages[-1].last_appid) == (False, None)
    appids = [a["appid"] for p in pages for a in p.apps]
    assert appids == sorted(set(appids)) and len(appids) > 1000
    assert sim.calls()["by_endpoint"]["IStoreService/GetAppList"] == len(pages)


def test_app_details_quirks(steam: SteamApiResource, examples: dict[str, Any]) -> None:
    client: SteamClient = steam.client()
    as_text = [client.app_details(a) for a in examples["string_required_age_appids"][:3]]
    assert any(isinstance(d.data and d.data.get("required_age"), str) for d in as_text if d.success)
    assert all(isinstance(d.required_age, int) for d in as_text)
    free = [client.app_details(a) for a in examples["free_appids"][:2]]
    assert all(d.success and d.price_cents is None for d in free)
    assert client.app_details(examples["unknown_appid"]).success is False
    tracked = [client.app_details(a) for a in load_tracked().apps[:10]]
    assert all(d.success and d.data and d.data["name"] for d in tracked)
    assert all(isinstance(d.pc_requirements, dict) for d in tracked)
    assert all(all(isinstance(g, str) for g in d.genre_ids) for d in tracked)
    assert all(all(isinstance(c, int) for c in d.category_ids) for d in tracked)
    assert any(d.price_cents for d in tracked)


def test_players_private_idle_public_and_summaries(steam: SteamApiResource, examples: dict[str, Any]) -> None:
    client = steam.client()
    private = client.recently_played(examples["private_steamids"][0])
    assert private.visible is False and client.owned_games(examples["private_steamids"][0]).visible is False
    if examples["idle_steamids"]:
        idle = client.recently_played(examples["idle_steamids"][0])
        assert (idle.visible, idle.total_count, idle.games) == (True, 0, [])
    public = examples["public_steamids"][0]
    recent = client.recently_played(public)
    owned = client.owned_games(public)
    assert recent.visible and recent.games and all(g["playtime_2weeks"] >= 0 for g in recent.games)
    assert owned.total_count == len(owned.games) > 0
    assert all(isinstance(g["playtime_forever"], int) for g in owned.games)
    players = list(load_tracked().players)
    found = client.player_summaries([*players, "76561190000000000"])
    assert set(found) == set(players)
    assert all(isinstance(p["steamid"], str) for p in found.values())


def test_keyed_endpoints_need_a_key(sim: SimAdmin, tmp_path: Path) -> None:
    keyless = sim.steam(tmp_path, api_key=None)
    with pytest.raises(SteamKeyMissing, match="STEAM_API_KEY"):
        keyless.client().owned_games(load_tracked().players[0])
    assert keyless.client().current_players(730).live  # keyless endpoints still work
    keyless.close()
    assert sim.calls()["total"] == 1
