"""The Steam simulator as a local-stack server: the offline stand-in for api/store.steampowered.com.

It runs as `python -m steam_simulator` in its own process group, like every other server,
and the platform reaches it only through the environment it exports: `STEAM_API_BASE_URL` and
`STEAM_STORE_BASE_URL` (both this server) and `STEAM_API_KEY`, a fixed key that is valid only here.

Unlike the JVM servers it is not dropped to the service user: it is a pure-Python HTTP server bound
to 127.0.0.1, and the project's interpreter may live where that user cannot reach (e.g. pyenv under
/root).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import ClassVar

from steam_devstack.health import port_open, wait_until
from steam_devstack.services.base import Service

HOST = "127.0.0.1"
#: Valid only against the local simulator; never a real Steam key.
LOCAL_API_KEY = "local-simulator-key"
SEED = 7
START_TIMEOUT_S = 60


class SimulatorService(Service):
    """One simulator process serving both the Web API and the store paths on one port."""

    name = "simulator"
    default_ports: ClassVar[dict[str, int]] = {"simulator": 8787}

    @property
    def base_url(self) -> str:
        """Both the Web API and the store base URL."""
        return f"http://{HOST}:{self.port('simulator')}"

    def install(self) -> None:
        """Nothing to fetch: the simulator is part of this package."""

    def argv(self) -> list[str]:
        """The command that runs the simulator on this service's port with the local key."""
        return [
            sys.executable, "-m", "steam_simulator",
            "--port", str(self.port("simulator")), "--seed", str(SEED), "--api-key", LOCAL_API_KEY,
        ]  # fmt: skip

    def start(self) -> None:
        """Start the process (unless running) and wait until `/__sim/health` answers."""
        proc = self.process()
        if not proc.is_running():
            proc.start(self.argv(), cwd=self.ctx.state_dir, env={"PYTHONUNBUFFERED": "1"})
        wait_until(
            self.healthy,
            what="steam simulator",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )

    def healthy(self) -> bool:
        """`GET /__sim/health` answers `{"ok": true}`."""
        if not port_open(HOST, self.port("simulator")):
            return False
        try:
            with urllib.request.urlopen(f"{self.base_url}/__sim/health", timeout=2) as resp:
                return bool(resp.status == 200 and json.loads(resp.read()).get("ok") is True)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def endpoints(self) -> dict[str, str]:
        """Both Steam base URLs point here; the key is the simulator's local-only key."""
        return {
            "STEAM_API_BASE_URL": self.base_url,
            "STEAM_STORE_BASE_URL": self.base_url,
            "STEAM_API_KEY": LOCAL_API_KEY,
        }
