"""Tracked players: public and private profiles, libraries of owned games, and recent playtime.

The players are the steamids of tracked.yaml. Every fourth one (index 3, 7, ...) is private, so the
Web API answers `{"response": {}}` for its games; every fifth (index 4, 9, ...) is public but has
played nothing in two weeks (`total_count: 0`, no `games` key). Playtime grows with the clock:
recently played games accrue minutes every day, so hourly polls see numbers move.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from steam_simulator.catalog import Catalog
from steam_simulator.seeding import rng, unit

PLAYTIME_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z: accrued playtime starts here
_NAMES = (
    "gaben_fan",
    "Ночной Волк",
    "김철수",
    "小龙",
    "xX_Sniper_Xx",
    "ゆうき",
    "Ana 🌸",
    "dev_null",
    "Mårten",
    "p1",
)
_COUNTRIES = ("US", "DE", "KR", "CN", "RU", "JP", "BR", "SE", "FR", None)


@dataclass(frozen=True)
class OwnedGame:
    """One game in a library: base minutes at PLAYTIME_EPOCH and minutes added per day if played recently."""

    appid: int
    base_minutes: int
    minutes_per_day: int
    last_played: int


@dataclass(frozen=True)
class Player:
    """A tracked player."""

    steamid: str
    index: int
    private: bool
    plays_recently: bool
    library: tuple[OwnedGame, ...]


class Players:
    """The tracked players of a catalogue."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.seed = catalog.seed

    @cached_property
    def by_id(self) -> dict[str, Player]:
        """Every tracked player by steamid (built on first use)."""
        return {sid: self._make(i, sid) for i, sid in enumerate(self.catalog.tracked_players)}

    def _make(self, index: int, steamid: str) -> Player:
        gen = rng(self.seed, "player", steamid)
        pool = [
            a.appid
            for a in self.catalog.apps.values()
            if a.kind == "game" and a.release_time < PLAYTIME_EPOCH
        ]
        tracked = [a for a in pool if self.catalog.apps[a].tracked]
        owned = sorted(
            set(
                gen.sample(tracked, min(8, len(tracked)))
                + gen.sample(pool, min(gen.randint(30, 400), len(pool)))
            )
        )
        plays_recently = index % 5 != 4
        recent = set(gen.sample(owned, min(gen.randint(3, 8), len(owned)))) if plays_recently else set()
        library: list[OwnedGame] = []
        for appid in owned:
            minutes = gen.choice((0, 0, gen.randint(1, 600), gen.randint(60, 60_000)))
            if appid in recent:
                library.append(OwnedGame(appid, minutes, gen.randint(10, 240), PLAYTIME_EPOCH))
            else:  # never launched: 0; else last played some time before the epoch
                last = PLAYTIME_EPOCH - gen.randint(1, 1_500) * 86_400 if minutes else 0
                library.append(OwnedGame(appid, minutes, 0, last))
        return Player(
            steamid, index, private=index % 4 == 3, plays_recently=plays_recently, library=tuple(library)
        )

    def get(self, steamid: str) -> Player | None:
        """The tracked player, or None for steamids Steam would not know."""
        return self.by_id.get(steamid)

    def _times(self, player: Player, game: OwnedGame, now: float) -> dict[str, int]:
        """playtime_forever and its split by platform at `now` (minutes, consistent sums)."""
        days = max(0.0, (now - PLAYTIME_EPOCH) / 86_400)
        forever = game.base_minutes + int(game.minutes_per_day * days)
        share = unit(self.seed, "platform", player.steamid, game.appid)
        linux = int(forever * 0.1 * share)
        deck = int(forever * 0.05 * share)
        mac = int(forever * 0.03 * (1 - share))
        return {
            "playtime_forever": forever,
            "playtime_windows_forever": forever - linux - deck - mac,
            "playtime_mac_forever": mac,
            "playtime_linux_forever": linux,
            "playtime_deck_forever": deck,
        }

    def recently_played(self, steamid: str, now: float, count: int | None) -> dict[str, Any]:
        """GetRecentlyPlayedGames' `response` object."""
        player = self.get(steamid)
        if player is None or player.private:
            return {}
        recent = [g for g in player.library if g.minutes_per_day]
        if not recent:
            return {"total_count": 0}
        games: list[dict[str, Any]] = []
        for game in recent:
            app = self.catalog.apps[game.appid]
            two_weeks = int(game.minutes_per_day * min(14.0, max(0.0, (now - PLAYTIME_EPOCH) / 86_400)))
            games.append(
                {
                    "appid": game.appid,
                    "name": app.name,
                    "playtime_2weeks": two_weeks,
                    **self._times(player, game, now),
                    "img_icon_url": icon_hash(game.appid),
                }
            )
        games.sort(key=lambda g: (-g["playtime_2weeks"], g["appid"]))
        shown = games[:count] if count else games
        return {"total_count": len(games), "games": shown}

    def owned(
        self, steamid: str, now: float, *, appinfo: bool, free_games: bool, only: set[int] | None
    ) -> dict[str, Any]:
        """GetOwnedGames' `response` object."""
        player = self.get(steamid)
        if player is None or player.private:
            return {}
        games = []
        for game in player.library:
            app = self.catalog.apps[game.appid]
            if only and game.appid not in only:
                continue
            if not free_games and unit(self.seed, "free", game.appid) < 0.1 and not game.minutes_per_day:
                continue
            entry: dict[str, Any] = {"appid": game.appid}
            if appinfo:
                entry["name"] = app.name
                entry["img_icon_url"] = icon_hash(game.appid)
                entry["has_community_visible_stats"] = True
            entry.update(self._times(player, game, now))
            if game.minutes_per_day:
                entry["playtime_2weeks"] = int(
                    game.minutes_per_day * min(14.0, max(0.0, (now - PLAYTIME_EPOCH) / 86_400))
                )
            entry["rtime_last_played"] = (
                int(now) - int(now) % 3600 if game.minutes_per_day else game.last_played
            )
            entry["playtime_disconnected"] = 0
            if game.appid % 7 == 0:
                entry["content_descriptorids"] = [2, 5]
            games.append(entry)
        return {"game_count": len(games), "games": games}

    def summary(self, steamid: str, now: float) -> dict[str, Any] | None:
        """One GetPlayerSummaries entry; None for steamids Steam does not know (they are left out)."""
        player = self.get(steamid)
        if player is None:
            return None
        avatar = hashlib.sha1(steamid.encode()).hexdigest()
        base = f"https://avatars.steamstatic.com/{avatar}"
        hour = int(now) // 3600
        state = int(unit(self.seed, "persona", steamid, hour) * 7)  # 0 offline .. 6 looking to play
        out: dict[str, Any] = {
            "steamid": steamid,
            "communityvisibilitystate": 1 if player.private else 3,
            "profilestate": 1,
            "personaname": _NAMES[player.index % len(_NAMES)],
            "profileurl": f"https://steamcommunity.com/profiles/{steamid}/",
            "avatar": f"{base}.jpg",
            "avatarmedium": f"{base}_medium.jpg",
            "avatarfull": f"{base}_full.jpg",
            "avatarhash": avatar,
            "personastate": state,
        }
        if player.private:
            return out
        out["lastlogoff"] = int(now) - 3600 * (1 + player.index)
        out["commentpermission"] = 1
        out["primaryclanid"] = "103582791429521408"
        out["timecreated"] = 1_100_000_000 + player.index * 31_000_000
        out["personastateflags"] = 0
        country = _COUNTRIES[player.index % len(_COUNTRIES)]
        if country:
            out["loccountrycode"] = country
        recent = [g for g in player.library if g.minutes_per_day]
        if state == 1 and recent:
            game = recent[hour % len(recent)]
            out["gameid"] = str(game.appid)
            out["gameextrainfo"] = self.catalog.apps[game.appid].name
        return out


def icon_hash(appid: int) -> str:
    """The 40-hex icon hash Steam sends in `img_icon_url` (not a URL despite the name)."""
    return hashlib.sha1(f"icon:{appid}".encode()).hexdigest()
