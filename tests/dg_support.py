"""What a code location holds, by name, as its `Definitions`, `dg list defs --json` and the UI show it.

Used by the tests that open the code location through Dagster's tools (`dg check defs`,
`dg list defs`, `dg dev`, `dagster dev -w workspace.yaml`), from the checkout and from the wheel:
each one's listing is compared with the `Definitions` object itself, never with a list of names.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import requests

from steam_devstack.health import free_port


@dataclass(frozen=True)
class Listing:
    """The definitions of a code location by name: assets, (asset, check), jobs, schedules, sensors."""

    assets: frozenset[str]
    checks: frozenset[tuple[str, str]]
    jobs: frozenset[str]
    schedules: frozenset[str]
    sensors: frozenset[str]

    def has_every_kind(self) -> bool:
        return all((self.assets, self.checks, self.jobs, self.schedules, self.sensors))

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[Any]]) -> Listing:
        return cls(
            assets=frozenset(data["assets"]),
            checks=frozenset((a, c) for a, c in data["checks"]),
            jobs=frozenset(data["jobs"]),
            schedules=frozenset(data["schedules"]),
            sensors=frozenset(data["sensors"]),
        )


def listing_json(definitions: dg.Definitions) -> dict[str, list[Any]]:
    """What the `Definitions` object holds (asset graph resolved as Dagster resolves it), as JSON.

    Self-contained (its source runs as is in the wheel's virtualenv, see `inspect.getsource`).
    """
    graph = definitions.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "checks": sorted([k.asset_key.to_user_string(), k.name] for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in definitions.jobs or ()),
        "schedules": sorted(s.name for s in definitions.schedules or ()),
        "sensors": sorted(s.name for s in definitions.sensors or ()),
    }


def listing_of(definitions: dg.Definitions) -> Listing:
    """The listing of a `Definitions` object loaded in this process."""
    return Listing.from_json(listing_json(definitions))


def listing_from_dg(listed: Mapping[str, Any]) -> Listing:
    """The listing in `dg list defs --json`'s output."""
    return Listing(
        assets=frozenset(a["asset_key"] for a in listed["assets"]),
        checks=frozenset((c["asset_key"], c["name"]) for c in listed["asset_checks"]),
        jobs=frozenset(j["name"] for j in listed["jobs"]),
        schedules=frozenset(s["name"] for s in listed["schedules"]),
        sensors=frozenset(s["name"] for s in listed["sensors"]),
    )


#: Everything the UI's navigation shows for the loaded code locations.
UI_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              assetNodes {
                assetKey { path }
                assetChecksOrError { ... on AssetChecks { checks { name } } }
              }
              jobs { name }
              schedules { name }
              sensors { name }
            }
          }
        }
      }
    }
  }
}
"""


@dataclass
class DevServer:
    """A running `dg dev` / `dagster dev` and the URL of its GraphQL endpoint."""

    proc: subprocess.Popen[bytes]
    graphql: str
    log: Path


@contextlib.contextmanager
def dev_server(argv: Sequence[str], cwd: Path, env: Mapping[str, str], tmp: Path) -> Iterator[DevServer]:
    """`argv` (a `dev` command) on a free port of 127.0.0.1, with a throw-away instance under `tmp`.

    The instance's run queue launches nothing: sensors that are on by default may tick, no run
    starts. The command runs in its own process group, stopped (SIGTERM, then SIGKILL) on exit.
    """
    home = tmp / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 0\n")
    port = free_port()
    log = tmp / "dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*argv, "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd,
            env={**env, "DAGSTER_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield DevServer(proc, f"http://127.0.0.1:{port}/graphql", log)
    finally:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (webserver, daemon, code servers), SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)


def served_listing(server: DevServer, timeout: float) -> tuple[str, Listing]:
    """The one code location the UI serves, once loaded (bounded wait): its name and listing."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        exited = server.proc.poll()
        assert exited is None, f"{server.proc.args!r} exited {exited}:\n{server.log.read_text()}"
        try:
            last = requests.post(server.graphql, json={"query": UI_QUERY}, timeout=10).json()
            entries = last["data"]["workspaceOrError"]["locationEntries"]  # type: ignore[index]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                (entry,) = entries
                return entry["name"], _listing_from_ui(entry["locationOrLoadError"])
        except (requests.ConnectionError, requests.Timeout, ValueError, KeyError, TypeError):
            pass
        time.sleep(1)
    raise AssertionError(f"no code location loaded in {timeout} s: {last}\n{server.log.read_text()}")


def _listing_from_ui(location: Mapping[str, Any]) -> Listing:
    assert location["__typename"] == "RepositoryLocation", location
    (repo,) = location["repositories"]
    return Listing(
        assets=frozenset("/".join(a["assetKey"]["path"]) for a in repo["assetNodes"]),
        checks=frozenset(
            ("/".join(a["assetKey"]["path"]), c["name"])
            for a in repo["assetNodes"]
            for c in a["assetChecksOrError"].get("checks", ())
        ),
        # `__ASSET_JOB` is Dagster's implicit job of all assets, not one the code location declares
        jobs=frozenset(j["name"] for j in repo["jobs"] if not j["name"].startswith("__")),
        schedules=frozenset(s["name"] for s in repo["schedules"]),
        sensors=frozenset(s["name"] for s in repo["sensors"]),
    )
