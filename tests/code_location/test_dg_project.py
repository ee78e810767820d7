"""The checkout is a Dagster `dg` project: `dg check defs`, `dg list defs` and `dg dev` see the code location.

`dagster dev -w workspace.yaml` serves the same code location under the same name.

`[tool.dg]` in pyproject.toml names the module that holds the `Definitions` (the same one
`workspace.yaml` loads). What `dg` reports and what `dg dev` serves is compared with that
`Definitions` object loaded here, in-process: every asset, asset check, job, schedule and sensor,
so a definition that `dg` cannot see (a layer left out, a wrong target module) fails here.

`dg dev` runs on free ports bound to 127.0.0.1, in its own process group and a throw-away
`DAGSTER_HOME` whose run queue launches nothing (the default-on sensors may tick, no run starts).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests

from steam_devstack.health import free_port
from steam_platform.definitions import defs

REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"


@dataclass(frozen=True)
class Listing:
    """The definitions of a code location by name, as `dg list defs` and the UI name them."""

    assets: frozenset[str]
    checks: frozenset[tuple[str, str]]
    jobs: frozenset[str]
    schedules: frozenset[str]
    sensors: frozenset[str]


def listing_of(definitions: dg.Definitions) -> Listing:
    """What the `Definitions` object itself holds (asset graph resolved as Dagster resolves it)."""
    graph = definitions.resolve_asset_graph()
    return Listing(
        assets=frozenset(k.to_user_string() for k in graph.get_all_asset_keys()),
        checks=frozenset((k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys),
        jobs=frozenset(j.name for j in definitions.jobs or ()),
        schedules=frozenset(s.name for s in definitions.schedules or ()),
        sensors=frozenset(s.name for s in definitions.sensors or ()),
    )


EXPECTED = listing_of(defs)


def dg_env(**extra: str) -> dict[str, str]:
    """The environment `make validate` uses: the local resources, nothing read from a running stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "STEAM_"))}
    return {**env, "STEAM_PLATFORM_ENV": "local", "VIRTUAL_ENV": sys.prefix, **extra}


def run_dg(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"dg {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_the_listing_covers_every_kind_of_definition() -> None:
    """The comparison below is only meaningful if the code location has each kind."""
    assert all((EXPECTED.assets, EXPECTED.checks, EXPECTED.jobs, EXPECTED.schedules, EXPECTED.sensors))


def test_dg_check_defs_and_list_defs_see_the_whole_code_location(tmp_path: Path) -> None:
    env = dg_env(DAGSTER_HOME="", STEAM_STACK_DIR=str(tmp_path))

    check = run_dg(["check", "defs"], env)
    assert "All definitions loaded successfully." in check.stdout

    listed = json.loads(run_dg(["list", "defs", "--json"], env).stdout)
    assert (
        Listing(
            assets=frozenset(a["asset_key"] for a in listed["assets"]),
            checks=frozenset((c["asset_key"], c["name"]) for c in listed["asset_checks"]),
            jobs=frozenset(j["name"] for j in listed["jobs"]),
            schedules=frozenset(s["name"] for s in listed["schedules"]),
            sensors=frozenset(s["name"] for s in listed["sensors"]),
        )
        == EXPECTED
    )


#: Everything the UI's left-hand navigation shows for a code location.
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
    """A running `dg dev` and the URL of its GraphQL endpoint."""

    proc: subprocess.Popen[bytes]
    graphql: str
    log: Path


#: The two ways to start the UI from the checkout: Dagster's `dg` CLI (the project config) and the
#: workspace file; both must serve the same code location under the same name.
DEV_COMMANDS = {
    "dg dev": [str(DG), "dev"],
    "dagster dev -w workspace.yaml": [str(DG.parent / "dagster"), "dev", "-w", "workspace.yaml"],
}


@pytest.fixture(params=list(DEV_COMMANDS))
def dev_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DevServer]:
    """The UI from the checkout, as a person starts it (`make dev` adds the stack and its instance)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    # No run leaves the queue: the sensors that are on by default may tick, nothing runs.
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nrun_queue:\n  max_concurrent_runs: 0\n")
    port = free_port()
    log = tmp_path / "dev.log"
    env = dg_env(DAGSTER_HOME=str(home), STEAM_STACK_DIR=str(tmp_path))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*DEV_COMMANDS[request.param], "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield DevServer(proc, f"http://127.0.0.1:{port}/graphql", log)
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group (webserver, daemon, code server), SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)


def _loaded_location(server: DevServer, timeout: float) -> dict[str, object]:
    """The code location entry once the UI has loaded it (bounded wait)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        exited = server.proc.poll()
        assert exited is None, f"dg dev exited {exited}:\n{server.log.read_text()}"
        try:
            reply = requests.post(server.graphql, json={"query": UI_QUERY}, timeout=10)
            last = reply.json()
            entries = last["data"]["workspaceOrError"]["locationEntries"]  # type: ignore[index]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                (entry,) = entries
                return entry  # type: ignore[no-any-return]
        except (requests.ConnectionError, requests.Timeout, ValueError, KeyError, TypeError):
            pass
        time.sleep(1)
    raise AssertionError(f"no code location loaded in {timeout} s: {last}\n{server.log.read_text()}")


def test_dev_serves_every_asset_check_job_schedule_and_sensor(dev_server: DevServer) -> None:
    entry = _loaded_location(dev_server, timeout=150)

    location = entry["locationOrLoadError"]
    assert entry["name"] == "steam_platform"
    assert location["__typename"] == "RepositoryLocation", location  # type: ignore[index]
    (repo,) = location["repositories"]  # type: ignore[index]
    served = Listing(
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
    assert served == EXPECTED
