"""`python -m steam_platform.monitoring`: serve the platform's metrics for Prometheus.

Reads the Dagster instance of `DAGSTER_HOME` (runs, daemon heartbeats, its Postgres), the
definitions' asset freshness policies, the code servers of `--workspace` (default
`STEAM_METRICS_WORKSPACE`), and the environment's Kafka, Steam budget and Elasticsearch (the same
wiring the code location uses).
`--once` prints one scrape and exits (a quick look, or a health check).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import DagsterInstance
from prometheus_client import generate_latest, start_http_server

from steam_platform.core.settings import MonitoringSettings
from steam_platform.monitoring.code_servers import workspace_code_servers
from steam_platform.monitoring.exporter import platform_sources, registry_for

DEFAULT_DEFINITIONS = "steam_platform.definitions:defs"
#: The resources the exporter reads (built as the code location builds them).
READ_RESOURCES = ("kafka", "steam", "elasticsearch")


def load_definitions(target: str) -> dg.Definitions:
    """`module:attribute` -> the `Definitions` object it names."""
    module, _, attribute = target.partition(":")
    defs = getattr(importlib.import_module(module), attribute or "defs")
    if not isinstance(defs, dg.Definitions):
        raise TypeError(f"{target} is a {type(defs).__name__}, not Definitions")
    return defs


def platform_resources(stack: contextlib.ExitStack) -> dict[str, Any]:
    """The environment's Kafka, Steam and Elasticsearch resources, `EnvVar`s resolved; torn down
    (the Steam client's budget lease handed back) when `stack` closes."""
    from steam_platform.resources.wiring import build_resources

    built = build_resources()
    return {
        name: stack.enter_context(built[name].process_config_and_initialize_cm())
        for name in READ_RESOURCES
        if name in built
    }


def main(argv: list[str] | None = None) -> None:
    settings = MonitoringSettings.load()
    parser = argparse.ArgumentParser(prog="python -m steam_platform.monitoring", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=settings.metrics_port, help="default STEAM_METRICS_PORT")
    parser.add_argument(
        "--definitions", default=DEFAULT_DEFINITIONS, help="module:attribute of the Definitions"
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=settings.workspace,
        help="Dagster workspace file whose grpc_server code servers are checked "
        "(default STEAM_METRICS_WORKSPACE; unset: none)",
    )
    parser.add_argument(
        "--no-services",
        action="store_true",
        help="read only the Dagster instance (no Kafka, Steam, Elasticsearch)",
    )
    parser.add_argument("--once", action="store_true", help="print one scrape and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        instance = stack.enter_context(DagsterInstance.get())
        resources = {} if args.no_services else platform_resources(stack)
        sources = platform_sources(
            instance,
            load_definitions(args.definitions),
            resources,
            timedelta(hours=settings.run_lookback_hours),
            workspace_code_servers(args.workspace) if args.workspace else (),
        )
        registry = registry_for(sources)
        if args.once:
            print(generate_latest(registry).decode(), end="")
            return
        server, _ = start_http_server(args.port, addr=args.host, registry=registry)
        stack.callback(server.shutdown)
        logging.getLogger(__name__).info("serving metrics on http://%s:%d/metrics", args.host, args.port)
        threading.Event().wait()


if __name__ == "__main__":
    main()
