"""The daily call budget and the store pace persist across clients (runs) and are enforced."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from steam_fake import Canned, FakeSteam

from steam_platform.resources.steam import SteamBudgetExhausted
from steam_platform.resources.steam.budget import CallBudget
from steam_platform.resources.steam.pacing import StorePace, StorePaceExceeded
from steam_platform.resources.steam_api import SteamApiResource


def test_budget_is_shared_by_runs_and_stops_at_the_limit(tmp_path: Path) -> None:
    fake = FakeSteam()
    fake.add("ISteamUserStats/GetNumberOfCurrentPlayers/v1", Canned(200, {"response": {"player_count": 1}}))
    with fake.serve() as url:
        first = SteamApiResource(
            api_base_url=url, store_base_url=url, budget_state_dir=str(tmp_path), daily_call_budget=7
        )
        for appid in range(4):
            first.client().current_players(appid + 1)
        first.close()  # unused leased calls go back
        second = SteamApiResource(
            api_base_url=url, store_base_url=url, budget_state_dir=str(tmp_path), daily_call_budget=7
        )
        assert second.usage()["budget_used_today"] == 4
        for appid in range(3):
            second.client().current_players(appid + 1)
        with pytest.raises(SteamBudgetExhausted, match="7 calls is used up"):
            second.client().current_players(99)
        assert second.usage()["budget_remaining_today"] == 0
        second.close()
    assert len(fake.requests) == 7  # the refused call was never sent


def test_budget_resets_on_a_new_utc_day_and_is_per_key(tmp_path: Path) -> None:
    day = ["2026-11-25"]
    budget = CallBudget(tmp_path / "b.sqlite", "scope-a", daily_limit=2, lease_size=5, today=lambda: day[0])
    budget.acquire()
    budget.acquire()
    with pytest.raises(SteamBudgetExhausted):
        budget.acquire()
    other_key = CallBudget(tmp_path / "b.sqlite", "scope-b", daily_limit=2, today=lambda: day[0])
    other_key.acquire()
    day[0] = "2026-11-26"
    budget.acquire()
    assert budget.used_today() == 1


def test_store_pace_waits_across_clients_and_refuses_long_waits(tmp_path: Path) -> None:
    db = tmp_path / "pace.sqlite"
    first = StorePace(db, "http://store", limit=3, window_s=1.0, max_wait_s=5)
    for _ in range(3):
        first.wait_turn()
    first.close()
    second = StorePace(db, "http://store", limit=3, window_s=1.0, max_wait_s=5)
    started = time.monotonic()
    second.wait_turn()  # the window is full from the first client's requests
    assert time.monotonic() - started >= 0.5
    second.close()
    impatient = StorePace(db, "http://store", limit=3, window_s=60.0, max_wait_s=0.1)
    for _ in range(2):
        impatient.wait_turn()
    with pytest.raises(StorePaceExceeded, match="3 requests per 60s"):
        impatient.wait_turn()
    impatient.close()
