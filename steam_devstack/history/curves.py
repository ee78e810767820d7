"""A day of player counts for one app, as the simulator's curve, for all poll slots at once.

`steam_simulator/activity.py` defines the curve (launch spike, daily cycle, weekend lift, bumps
after major updates, ±3 % noise) one sample at a time, deriving every parameter from a hash per
call: about 46 µs a sample, 40 minutes for a year of 1,000 apps polled every 10 minutes. Here the
per-app parameters are derived once per app and day (from the simulator's own seeds and constants)
and the factors evaluated per slot; only the noise is drawn differently (one seeded generator per
app and day instead of one hash per minute), so a history sample agrees with the simulator's to
within the noise band. A unit test holds the two together.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from steam_simulator.activity import BUMP_DECAY_S, BUMP_WINDOW_S, NOISE
from steam_simulator.catalog import App
from steam_simulator.news import NewsFeed
from steam_simulator.seeding import rng, unit

DAY_S = 86_400
WEEKEND_LIFT = 1.12


def day_start(day: date) -> int:
    """Unix seconds of `day`'s 00:00 UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def slot_times(day: date, interval_minutes: int) -> list[int]:
    """The poll slots of `day` (unix seconds, UTC): 00:00, +interval, ... (144 for 10 minutes)."""
    if interval_minutes < 1 or DAY_S % (interval_minutes * 60):
        raise ValueError(f"a poll interval of {interval_minutes} minutes does not divide a day")
    return list(range(day_start(day), day_start(day) + DAY_S, interval_minutes * 60))


def day_counts(news: NewsFeed, app: App, day: date, interval_minutes: int) -> list[int | None]:
    """Players online at each poll slot of `day`; None where Steam answers 404 (not launched yet)."""
    times = slot_times(day, interval_minutes)
    if app.kind == "dlc":
        return [0 if t >= app.release_time else None for t in times]
    seed, appid = news.seed, app.appid
    boost = 1.0 + 3.0 * unit(seed, "launch-boost", appid)
    tau_s = (7 + 49 * unit(seed, "launch-tau", appid)) * DAY_S
    peak_hour = (12 + 14 * unit(seed, "peak-hour", appid)) % 24
    amplitude = 0.2 + 0.15 * unit(seed, "daily-amp", appid)
    weekend = WEEKEND_LIFT if day.weekday() >= 5 else 1.0
    majors = news.major_updates(appid, times[-1], BUMP_WINDOW_S + DAY_S)
    noise = rng(seed, "history-noise", appid, day.toordinal())
    two_pi, exp, cos, release = 2 * math.pi, math.exp, math.cos, app.release_time
    scale = app.peak_players * weekend / (1 + amplitude)
    counts: list[int | None] = []
    for t in times:
        jitter = 1 + NOISE * (2 * noise.random() - 1)  # drawn for every slot: a slot's noise never shifts
        if t < release:
            counts.append(None)
            continue
        age = t - release
        launch = (1.0 + boost * exp(-age / tau_s)) * min(1.0, 0.15 + age / 21_600)
        daily = 1 + amplitude * cos(two_pi * ((t % DAY_S) / 3600 - peak_hour) / 24)
        lift = 1.0
        for post in majors:
            if 0 <= t - post.date <= BUMP_WINDOW_S:
                lift += post.major * exp(-(t - post.date) / BUMP_DECAY_S)
        counts.append(max(0, round(scale * launch * daily * lift * jitter)))
    return counts
