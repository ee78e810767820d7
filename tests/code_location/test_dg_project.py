"""The checkout is a Dagster `dg` project: `dg check defs`, `dg list defs` and `dg dev` see the code location.

`[tool.dg]` in pyproject.toml names the module that holds the `Definitions` (the one
`workspace.yaml` loads too). What `dg` lists and what the UI serves is compared with that
`Definitions` object loaded here, in-process: every asset, asset check, job, schedule and sensor,
so a definition `dg` cannot see (a layer left out, a wrong target module) fails here.
`dagster dev -w workspace.yaml` keeps working and serves the same code location under the same name.

The UI runs on a free port of 127.0.0.1, in its own process group, with a throw-away instance
(`dg_support.dev_server`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dg_support import dev_server, listing_from_dg, listing_of, served_listing

from steam_platform.definitions import defs

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXPECTED = listing_of(defs)


def dg_env(tmp_path: Path) -> dict[str, str]:
    """What `make validate` sets: the local resources, a throw-away instance, no running stack read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "STEAM_"))}
    return {
        **env,
        "STEAM_PLATFORM_ENV": "local",
        "STEAM_STACK_DIR": str(tmp_path),  # no .stack/env of a developer's stack
        "DAGSTER_HOME": "",
        "VIRTUAL_ENV": sys.prefix,  # the project's environment, as `make` runs it
    }


def run_dg(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / "dg"), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"dg {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_code_location_has_every_kind_of_definition() -> None:
    """The comparisons below are only meaningful if there is something of each kind to miss."""
    assert EXPECTED.has_every_kind(), EXPECTED


def test_dg_check_defs_and_list_defs_see_the_whole_code_location(tmp_path: Path) -> None:
    env = dg_env(tmp_path)

    assert "All definitions loaded successfully." in run_dg(["check", "defs"], env)
    assert listing_from_dg(json.loads(run_dg(["list", "defs", "--json"], env))) == EXPECTED


#: The two ways to start the UI from the checkout: Dagster's `dg` CLI (the project config) and the
#: workspace file. Both serve the one code location under one name (schedule and sensor state in an
#: instance is kept per location name).
DEV_COMMANDS = {
    "dg dev": [str(BIN / "dg"), "dev"],
    "dagster dev -w workspace.yaml": [str(BIN / "dagster"), "dev", "-w", "workspace.yaml"],
}


@pytest.mark.parametrize("command", list(DEV_COMMANDS))
def test_dev_serves_every_asset_check_job_schedule_and_sensor(command: str, tmp_path: Path) -> None:
    with dev_server(DEV_COMMANDS[command], REPO, dg_env(tmp_path), tmp_path) as server:
        name, served = served_listing(server, timeout=150)

    assert name == "steam_platform"
    assert served == EXPECTED
