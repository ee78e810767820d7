"""The simulator as a local-stack service: started, healthy, and reachable only through its env vars.

Run alone with `STEAM_TEST_SERVICES=simulator pytest tests/steam/test_simulator_stack.py`.
"""

from __future__ import annotations

import pytest
import requests

from steam_devstack.stack import LocalStack

pytestmark = pytest.mark.integration
TIMEOUT = 10


def test_stack_exports_both_base_urls_and_a_working_local_key(
    local_stack: LocalStack, stack_env: dict[str, str]
) -> None:
    api, store, key = (
        stack_env["STEAM_API_BASE_URL"],
        stack_env["STEAM_STORE_BASE_URL"],
        stack_env["STEAM_API_KEY"],
    )
    assert api == store and api.startswith("http://127.0.0.1:")
    assert requests.get(f"{api}/__sim/health", timeout=TIMEOUT).json() == {"ok": True}
    row = next(r for r in local_stack.status() if r.name == "simulator")
    assert row.running and row.healthy and row.pids

    requests.post(f"{api}/__sim/reset", timeout=TIMEOUT)
    players = requests.get(
        f"{api}/ISteamUserStats/GetNumberOfCurrentPlayers/v1/", params={"appid": 730}, timeout=TIMEOUT
    )
    assert players.status_code == 200 and players.json()["response"]["player_count"] > 0
    apps = requests.get(
        f"{api}/IStoreService/GetAppList/v1/", params={"key": key, "max_results": 10}, timeout=TIMEOUT
    )
    assert apps.status_code == 200 and len(apps.json()["response"]["apps"]) == 10
    wrong = requests.get(f"{api}/IStoreService/GetAppList/v1/", params={"key": key + "x"}, timeout=TIMEOUT)
    assert wrong.status_code == 403
    details = requests.get(f"{store}/api/appdetails", params={"appids": 730}, timeout=TIMEOUT)
    assert details.json()["730"]["data"]["name"] == "Counter-Strike 2"
    calls = requests.get(f"{api}/__sim/calls", timeout=TIMEOUT).json()
    assert calls["total"] == 4 and calls["by_endpoint"]["IStoreService/GetAppList"] == 2
