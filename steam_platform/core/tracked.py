"""Which apps and players the platform tracks: read from YAML configuration, never hard-coded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from steam_platform.core.settings import DEFAULT_TRACKED_CONFIG, ScheduleSettings

DEFAULT_CONFIG = DEFAULT_TRACKED_CONFIG


@dataclass(frozen=True)
class TrackedEntities:
    """The apps (appids) and players (64-bit steamids as strings) polled by the ingest assets."""

    apps: tuple[int, ...]
    players: tuple[str, ...]


def tracked_config(path: Path | None = None) -> Path:
    """The tracked-set file: `path`, else `$STEAM_TRACKED_CONFIG`, else the bundled default."""
    return path or ScheduleSettings.load().tracked_config


def load_tracked(path: Path | None = None) -> TrackedEntities:
    """Load the tracked set from `path`, `$STEAM_TRACKED_CONFIG`, or the bundled default."""
    source = tracked_config(path)
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
