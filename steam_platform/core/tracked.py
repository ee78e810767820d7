"""Which apps and players the platform tracks: read from YAML configuration, never hard-coded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_CONFIG = Path(__file__).parent / "tracked.yaml"


@dataclass(frozen=True)
class TrackedEntities:
    """The apps (appids) and players (64-bit steamids as strings) polled by the ingest assets."""

    apps: tuple[int, ...]
    players: tuple[str, ...]


def load_tracked(path: Path | None = None) -> TrackedEntities:
    """Load the tracked set from `path`, `$STEAM_TRACKED_CONFIG`, or the bundled default."""
    source = path or Path(os.environ.get("STEAM_TRACKED_CONFIG", DEFAULT_CONFIG))
    data = yaml.safe_load(source.read_text()) or {}
    try:
        apps = tuple(dict.fromkeys(int(a) for a in data.get("apps", [])))
        players = tuple(dict.fromkeys(str(p) for p in data.get("players", [])))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: apps must be integers and players steamid strings ({exc})") from exc
    bad = [p for p in players if not (p.isdigit() and len(p) == 17)]
    if bad:
        raise ValueError(f"{source}: players must be 17-digit steamids, got {bad[:3]}")
    return TrackedEntities(apps=apps, players=players)
