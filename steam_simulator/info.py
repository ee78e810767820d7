"""What `GET /__sim/info` reports: sizes and example ids for every quirk, so tests need not guess."""

from __future__ import annotations

from typing import Any

from steam_simulator.news import old_shape
from steam_simulator.seeding import unit
from steam_simulator.store import delisted, is_free
from steam_simulator.world import World

EXAMPLES = 5
UNKNOWN_APPID = 1  # Steam has no app 1; neither does the simulator


def describe(world: World, now: float, seed: int) -> dict[str, Any]:
    """Seed, catalogue size and up to five example ids per quirk at `now`."""
    catalog = world.catalog
    apps = list(catalog.apps.values())

    def first(pred: Any) -> list[int]:
        return [a.appid for a in apps if pred(a)][:EXAMPLES]

    players = world.players.by_id.values()
    return {
        "seed": seed,
        "now": now,
        "apps": len(apps),
        "tracked_apps": sum(a.tracked for a in apps),
        "tracked_players": len(catalog.tracked_players),
        "examples": {
            "unknown_appid": UNKNOWN_APPID,
            "unreleased_appids": first(lambda a: not a.released(now) and a.kind == "game"),
            "dlc_appids": first(lambda a: a.kind == "dlc"),
            "software_appids": first(lambda a: a.kind == "application"),
            "delisted_appids": first(lambda a: delisted(seed, a)),
            "free_appids": first(lambda a: is_free(seed, a) and not delisted(seed, a)),
            "old_news_shape_appids": first(lambda a: a.tracked and old_shape(seed, a.appid)),
            "string_required_age_appids": first(lambda a: unit(seed, "age-as-text", a.appid) < 0.25),
            "no_achievement_appids": first(
                lambda a: a.kind == "game" and unit(seed, "achievements", a.appid) >= 0.8
            ),
            "private_steamids": [p.steamid for p in players if p.private],
            "idle_steamids": [p.steamid for p in players if not p.private and not p.plays_recently],
            "public_steamids": [p.steamid for p in players if not p.private and p.plays_recently],
        },
    }
