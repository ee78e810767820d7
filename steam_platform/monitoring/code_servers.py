"""Code servers: is each gRPC code server of the workspace answering, and which server process is it.

The code location runs in its own server (`dagster code-server start`, a `grpc_server` entry of the
workspace). When it dies, no schedule or sensor ticks and no run starts; the platform restarts it
(`steam-platform dev`'s supervisor, compose's `restart:`), and a restarted server answers with a
new server id. So per location the exporter reports whether the server answers
(`steam_dagster_code_server_up`) and the id it answers with (`steam_dagster_code_server_info`): a
second id within a few minutes means it died (or was reloaded) and came back, which an alert tells
a person even when the restart itself went well.

Each check is one `GetServerId` call with a short deadline, so a scrape stays fast while a server
is down or hangs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._grpc.client import DagsterGrpcClient
from prometheus_client.core import GaugeMetricFamily

#: Seconds one check waits for a code server's answer during a scrape.
SCRAPE_TIMEOUT_S = 2


@dataclass(frozen=True)
class CodeServer:
    """A `grpc_server` entry of a Dagster workspace."""

    location_name: str
    host: str
    port: int


def workspace_code_servers(path: Path) -> list[CodeServer]:
    """The `grpc_server` entries of the workspace file `path` (other entries are left out: a code
    location Dagster loads in its own subprocess has no server of ours to watch)."""
    workspace = yaml.safe_load(path.read_text()) or {}
    servers = []
    for entry in workspace.get("load_from") or []:
        server = entry.get("grpc_server") if isinstance(entry, dict) else None
        if server:
            host = str(server.get("host", "localhost"))
            location = str(server.get("location_name") or f"{host}:{server['port']}")
            servers.append(CodeServer(location, host, int(server["port"])))
    return servers


def code_server_id(host: str, port: int, timeout_s: int) -> str | None:
    """The id of the code server at `host:port`, or None when it cannot be reached within
    `timeout_s` (down, or a proxy whose inner server died)."""
    try:
        return DagsterGrpcClient(port=port, host=host).get_server_id(timeout=timeout_s)
    except DagsterUserCodeUnreachableError:
        return None


def code_server_metrics(
    servers: Sequence[CodeServer], timeout_s: int = SCRAPE_TIMEOUT_S
) -> Iterator[GaugeMetricFamily]:
    """`steam_dagster_code_server_up{location}` and, for a server that answers,
    `steam_dagster_code_server_info{location, server_id} 1`."""
    up = GaugeMetricFamily(
        "steam_dagster_code_server_up",
        "1 when the location's gRPC code server answered this scrape",
        labels=["location"],
    )
    info = GaugeMetricFamily(
        "steam_dagster_code_server_info",
        "The id the location's code server answers with (a new id: the server was restarted)",
        labels=["location", "server_id"],
    )
    for server in servers:
        server_id = code_server_id(server.host, server.port, timeout_s)
        up.add_metric([server.location_name], float(server_id is not None))
        if server_id is not None:
            info.add_metric([server.location_name, server_id], 1)
    yield up
    yield info
