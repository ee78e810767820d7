"""Simulator throughput: requests/s a keep-alive client gets, vs an unbuffered stdlib handler.

The Steam client reuses one `requests.Session` (HTTP/1.1 keep-alive). A stdlib handler that writes
headers and body separately makes every keep-alive request wait for the client's delayed ACK
(~40 ms, Nagle's algorithm); the simulator sends each reply in one buffered write with
TCP_NODELAY. Measured in the same run, on the same seeded data:

- baseline: the simulator with the stdlib defaults (`wbufsize = 0`, Nagle on);
- simulator: as shipped.

Prints requests/s per endpoint (median of `--repeat` runs) and the ratio to the baseline.

    .venv/bin/python benchmarks/simulator_throughput.py [--calls 300] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import requests

from steam_simulator.server import SimulatorServer

KEY = "bench-key"


def _rate(server: SimulatorServer, path: str, params: list[dict[str, object]]) -> float:
    """Requests per second for `params` sent one after another over one keep-alive session."""
    with requests.Session() as session:
        session.get(f"{server.base_url}/__sim/health", timeout=10)
        start = time.perf_counter()
        for p in params:
            resp = session.get(server.base_url + path, params=p, timeout=30)
            resp.raise_for_status()
        return len(params) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shipped = SimulatorServer(port=0, seed=7, api_keys=(KEY,), store_rate_limit=0).start()
    baseline = SimulatorServer(port=0, seed=7, api_keys=(KEY,), store_rate_limit=0)
    handler = baseline._httpd.RequestHandlerClass  # this server's own handler class
    handler.wbufsize = 0  # type: ignore[attr-defined]
    handler.disable_nagle_algorithm = False  # type: ignore[attr-defined]
    baseline.start()
    try:
        apps = [a.appid for a in shipped.sim.world.catalog.apps.values() if a.kind == "game"][: args.calls]
        cases = {
            "GetNumberOfCurrentPlayers": (
                "/ISteamUserStats/GetNumberOfCurrentPlayers/v1/",
                [{"appid": a} for a in apps],
            ),
            "GetNewsForApp (count 20)": (
                "/ISteamNews/GetNewsForApp/v2/",
                [{"appid": a, "count": 20} for a in apps],
            ),
            "store appdetails": ("/api/appdetails", [{"appids": a} for a in apps]),
        }
        print(f"{'endpoint':<28}{'baseline req/s':>16}{'simulator req/s':>17}{'ratio':>8}")
        for name, (path, params) in cases.items():
            base = statistics.median(_rate(baseline, path, params) for _ in range(args.repeat))
            ours = statistics.median(_rate(shipped, path, params) for _ in range(args.repeat))
            print(f"{name:<28}{base:>16.0f}{ours:>17.0f}{ours / base:>7.1f}x")
    finally:
        shipped.close()
        baseline.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
