"""Concurrent players per app as a pure function of (seed, appid, time).

The curve multiplies the app's steady-state daily peak by: a launch spike that decays over weeks,
a ramp over the first hours after release, a daily cycle peaking at the app's audience's evening,
a weekend lift, bumps after major updates (the news feed's major posts, so news impact is real in
the data), and ±3% noise. Time is read per minute: two polls within the same minute agree.
"""

from __future__ import annotations

import math
import time

from steam_simulator.catalog import App
from steam_simulator.news import NewsFeed
from steam_simulator.seeding import unit

BUMP_WINDOW_S = 14 * 86_400
BUMP_DECAY_S = 3 * 86_400
NOISE = 0.03


def launch_factor(seed: int, app: App, age_s: float) -> float:
    """1 + a decaying launch spike (2-5x at launch, tau 1-8 weeks), ramping up over the first 6 hours."""
    boost = 1.0 + 3.0 * unit(seed, "launch-boost", app.appid)
    tau_s = (7 + 49 * unit(seed, "launch-tau", app.appid)) * 86_400
    ramp = min(1.0, 0.15 + age_s / (6 * 3600))
    return (1.0 + boost * math.exp(-age_s / tau_s)) * ramp


def daily_factor(seed: int, app: App, t: float) -> float:
    """In (0, 1]: 1 at the audience's peak hour (UTC), down to 1 - 2*amplitude twelve hours later."""
    peak_hour = (12 + 14 * unit(seed, "peak-hour", app.appid)) % 24  # Asia ~12-14 UTC .. Americas ~2 UTC
    amplitude = 0.2 + 0.15 * unit(seed, "daily-amp", app.appid)
    hour = (t % 86_400) / 3600
    return (1 + amplitude * math.cos(2 * math.pi * (hour - peak_hour) / 24)) / (1 + amplitude)


def weekly_factor(t: float) -> float:
    """Saturdays and Sundays (UTC) are busier."""
    weekday = time.gmtime(t).tm_wday
    return 1.12 if weekday >= 5 else 1.0


class PlayerCounts:
    """GetNumberOfCurrentPlayers' numbers for a catalogue."""

    def __init__(self, news: NewsFeed) -> None:
        self.news = news
        self.catalog = news.catalog
        self.seed = news.seed

    def update_factor(self, app: App, t: float) -> float:
        """1 + the decaying lift of every major update of the last two weeks."""
        lift = 0.0
        for post in self.news.major_updates(app.appid, t, BUMP_WINDOW_S):
            lift += post.major * math.exp(-(t - post.date) / BUMP_DECAY_S)
        return 1.0 + lift

    def count(self, appid: int, now: float) -> int | None:
        """Players online at `now`; None for apps Steam would answer 404 (unknown or not launched)."""
        app = self.catalog.get(appid)
        if app is None or not app.released(now):
            return None
        if app.kind == "dlc":
            return 0
        t = float(int(now) // 60 * 60)
        age_s = max(0.0, t - app.release_time)
        value = (
            app.peak_players
            * launch_factor(self.seed, app, age_s)
            * daily_factor(self.seed, app, t)
            * weekly_factor(t)
            * self.update_factor(app, t)
            * (1 + NOISE * (2 * unit(self.seed, "noise", appid, int(t)) - 1))
        )
        return max(0, round(value))
