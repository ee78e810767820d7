"""The simulated Steam catalogue: every tracked app (with its real name) plus thousands of generated ones.

Apps carry what every endpoint needs to stay consistent with the others: type, release time (some in
the future, so "unreleased" apps exist and launch while the simulator runs), popularity (the daily
peak of concurrent players at steady state), and the parent game of a DLC.
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from steam_platform.core.tracked import load_tracked, tracked_config
from steam_simulator.seeding import rng, unit

DEFAULT_APP_COUNT = 5_000
MAX_GENERATED_APPID = 4_200_000
#: Steam appids grow with time: (appid, year) anchors to give each app a plausible release date.
_APPID_YEARS: tuple[tuple[int, float], ...] = (
    (0, 2003.0), (200_000, 2012.5), (500_000, 2016.5), (1_000_000, 2019.0), (1_500_000, 2021.0),
    (2_000_000, 2022.3), (2_500_000, 2023.5), (3_000_000, 2024.5), (3_500_000, 2025.6),
    (3_900_000, 2026.7), (4_200_000, 2027.5),
)  # fmt: skip
_TRACKED_LINE = re.compile(r"^\s*-\s*(\d+)\s*#\s*(.+?)\s*$")

_ADJECTIVES = (
    "Eternal", "Crimson", "Silent", "Broken", "Hidden", "Iron", "Lost", "Neon", "Frozen", "Golden",
    "Savage", "Cosmic", "Tiny", "Endless", "Forgotten", "Wild", "Arcane", "Hollow", "Rusty", "Shattered",
)  # fmt: skip
_NOUNS = (
    "Kingdom", "Frontier", "Dungeon", "Odyssey", "Harvest", "Legion", "Citadel", "Voyage", "Outpost",
    "Empire", "Garden", "Signal", "Horizon", "Depths", "Circuit", "Colony", "Arena", "Station", "Tales",
)  # fmt: skip
_SUFFIXES = ("", "", "", " 2", " Remastered", " Online", " Simulator", ": Origins", " Tactics", " VR")
#: Non-Latin names exist on Steam and break naive encoders: keep some in the catalogue.
_FOREIGN_NAMES = (
    "검은 사막", "던전 앤 파이터", "原神 模拟器", "仙剑奇侠传", "三国志 战略版", "Смута", "Атомное сердце",
    "東方 幻想郷", "ゆめにっき", "Мир танков", "🐸 Frog Quest", "Café Olé 🍩",
)  # fmt: skip
_DLC_SUFFIXES = (" - Soundtrack", ": Season Pass", " - Deluxe Upgrade", " - Expansion Pack", " - Art Book")
_SOFTWARE_NAMES = ("Studio", "Editor", "Toolkit", "Recorder", "Engine", "Painter")


@dataclass(frozen=True)
class App:
    """One app of the catalogue; `peak_players` is its steady-state daily peak of concurrent players."""

    appid: int
    name: str
    kind: str  # "game" | "dlc" | "application"
    release_time: int  # unix seconds; the app is unreleased before it
    peak_players: int
    tracked: bool = False
    parent: int | None = None

    def released(self, now: float) -> bool:
        """True once the app has launched (unreleased apps answer like unknown ones on the Web API)."""
        return now >= self.release_time


def _year_to_unix(year: float) -> int:
    whole = int(year)
    start = calendar.timegm((whole, 1, 1, 0, 0, 0))
    end = calendar.timegm((whole + 1, 1, 1, 0, 0, 0))
    return int(start + (year - whole) * (end - start))


def release_time_for(seed: int, appid: int) -> int:
    """A plausible release time for `appid` (interpolated from its size, with seeded jitter)."""
    keys = [a for a, _ in _APPID_YEARS]
    i = min(max(bisect.bisect_right(keys, appid), 1), len(keys) - 1)
    (a0, y0), (a1, y1) = _APPID_YEARS[i - 1], _APPID_YEARS[i]
    year = y0 + (y1 - y0) * (appid - a0) / (a1 - a0)
    jitter = int((unit(seed, "release", appid) - 0.5) * 90 * 86_400)
    return _year_to_unix(year) + jitter


def tracked_names(path: Path | None = None) -> dict[int, str]:
    """The names written as comments next to each appid in tracked.yaml (`- 730  # Counter-Strike 2`)."""
    source = tracked_config(path)  # the file load_tracked() reads
    names: dict[int, str] = {}
    for line in source.read_text().splitlines():
        match = _TRACKED_LINE.match(line)
        if match:
            names[int(match.group(1))] = match.group(2)
    return names


class Catalog:
    """All apps the simulator knows, by appid and in appid order (the order GetAppList pages in)."""

    def __init__(
        self, seed: int, app_count: int = DEFAULT_APP_COUNT, tracked_path: Path | None = None
    ) -> None:
        self.seed = seed
        tracked = load_tracked(tracked_path)
        self.tracked_players: tuple[str, ...] = tracked.players
        names = tracked_names(tracked_path)
        apps: dict[int, App] = {}
        for rank, appid in enumerate(tracked.apps, start=1):
            # Zipf-like: the first tracked app peaks around 1.5M players, the 100th around 25k.
            peak = int(1_500_000 / rank**0.9 * (0.8 + 0.4 * unit(seed, "peak", appid)))
            apps[appid] = App(
                appid=appid,
                name=names.get(appid, f"App {appid}"),
                kind="game",
                release_time=release_time_for(seed, appid),
                peak_players=peak,
                tracked=True,
            )
        self._generate(apps, max(app_count, len(apps)))
        self.apps: dict[int, App] = dict(sorted(apps.items()))
        self.appids: list[int] = list(self.apps)

    def _generate(self, apps: dict[int, App], total: int) -> None:
        """Fill the catalogue up to `total` apps: ~70% games, ~20% DLC of those games, ~10% software."""
        gen = rng(self.seed, "catalog")
        games: list[int] = [a for a, app in apps.items() if app.kind == "game"]
        while len(apps) < total:
            appid = gen.randrange(20, MAX_GENERATED_APPID, 10)
            if appid in apps:
                continue
            roll = gen.random()
            release = release_time_for(self.seed, appid)
            if roll < 0.2 and games:
                parent = apps[gen.choice(games)]
                name = parent.name + gen.choice(_DLC_SUFFIXES)
                apps[appid] = App(
                    appid, name, "dlc", max(release, parent.release_time), 0, parent=parent.appid
                )
                continue
            if roll < 0.3:
                name = f"{gen.choice(_ADJECTIVES)} {gen.choice(_SOFTWARE_NAMES)}"
                apps[appid] = App(appid, name, "application", release, int(gen.lognormvariate(2.0, 1.5)))
                continue
            if gen.random() < 0.04:
                name = gen.choice(_FOREIGN_NAMES)
            else:
                name = f"{gen.choice(_ADJECTIVES)} {gen.choice(_NOUNS)}{gen.choice(_SUFFIXES)}"
            peak = min(int(gen.lognormvariate(3.7, 2.0)), 150_000)
            apps[appid] = App(appid, name, "game", release, peak)
            games.append(appid)

    def get(self, appid: int) -> App | None:
        """The app with this id, or None for ids Steam would not know."""
        return self.apps.get(appid)

    def after(self, last_appid: int) -> Iterator[App]:
        """Apps with an appid strictly greater than `last_appid`, ascending (GetAppList's cursor)."""
        start = bisect.bisect_right(self.appids, last_appid)
        for appid in self.appids[start:]:
            yield self.apps[appid]

    def unreleased(self, now: float) -> list[App]:
        """Apps announced but not yet launched at `now` (the Web API treats them as unknown)."""
        return [a for a in self.apps.values() if not a.released(now)]
