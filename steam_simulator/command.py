"""`steam-platform simulator` / `python -m steam_simulator`: run the simulator in the foreground."""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from steam_simulator.core import DEFAULT_API_KEY
from steam_simulator.faults import FaultRuleError
from steam_simulator.server import SimulatorServer


def _load_faults(path: Path | None) -> list[dict[str, Any]]:
    """Rules from a JSON file holding `{"rules": [...]}` or a bare list."""
    if path is None:
        return []
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(
            f"cannot read fault rules from {path}: {exc}", param_hint="--faults"
        ) from exc
    rules = raw.get("rules") if isinstance(raw, dict) else raw
    if not isinstance(rules, list):
        raise typer.BadParameter(f'{path} must hold {{"rules": [...]}} or a list', param_hint="--faults")
    return rules


def simulator(
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8787,
    host: Annotated[
        str, typer.Option(help="Address to bind: loopback by default; 0.0.0.0 in a container.")
    ] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of all generated data.")] = 7,
    api_key: Annotated[
        list[str] | None,
        typer.Option("--api-key", help="A valid key (repeatable). Default: the local simulator key."),
    ] = None,
    faults: Annotated[
        Path | None, typer.Option(help='JSON file with {"rules": [...]} to inject from the start.')
    ] = None,
    apps: Annotated[int, typer.Option(help="Apps in the catalogue (tracked apps always included).")] = 5_000,
    store_rate_limit: Annotated[
        int, typer.Option(help="Store requests per window per client (0 = unlimited).")
    ] = 200,
    store_rate_window: Annotated[float, typer.Option(help="Store rate-limit window in seconds.")] = 300.0,
    retry_after: Annotated[bool, typer.Option(help="Send Retry-After with the store's 429s.")] = True,
    now: Annotated[float | None, typer.Option(help="Freeze the clock at this unix time.")] = None,
    tracked: Annotated[Path | None, typer.Option(help="tracked.yaml to take apps and players from.")] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request (keys redacted).")] = False,
) -> None:
    """Serve the Steam Web API and store paths from seeded data, with fault injection, until stopped."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    try:
        server = SimulatorServer(
            host=host,
            port=port,
            seed=seed,
            api_keys=tuple(api_key or (DEFAULT_API_KEY,)),
            app_count=apps,
            store_rate_limit=store_rate_limit,
            store_rate_window_s=store_rate_window,
            store_retry_after=retry_after,
            faults=_load_faults(faults),
            now=now,
            tracked_path=tracked,
        )
    except FaultRuleError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from exc
    except OSError as exc:
        typer.echo(f"simulator: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from exc

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    typer.echo(
        f"steam simulator on {server.base_url} (seed {seed}, {apps} apps); admin at /__sim/health", err=True
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
