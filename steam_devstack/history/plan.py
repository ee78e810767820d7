"""What a history run covers: which days, which apps, which seed, and the simulated world behind it.

The range is the `days` whole UTC days before `end_date` (exclusive, default today): history stops
where today's real polls begin, so it never shadows an observation the platform makes itself. The
apps are the tracked apps first (in `tracked.yaml` order), then the simulator catalogue's most
popular games, so `--apps 100` is exactly what the platform tracks and `--apps 1000` adds the long
tail a user who tracks a thousand games has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

from steam_platform.core.cadence import DEFAULT_POLL_INTERVAL_MINUTES
from steam_platform.core.tracked import load_tracked
from steam_simulator.catalog import DEFAULT_APP_COUNT, App
from steam_simulator.news import Post
from steam_simulator.world import World

DEFAULT_SEED = 7


@dataclass(frozen=True)
class HistoryPlan:
    """`days` days of history for `apps` apps ending before `end_date`, generated from `seed`."""

    days: int
    apps: int
    end_date: date
    seed: int = DEFAULT_SEED
    poll_interval_minutes: int = DEFAULT_POLL_INTERVAL_MINUTES

    def __post_init__(self) -> None:
        if self.days < 1 or self.apps < 1:
            raise ValueError(
                f"history needs at least one day and one app (got {self.days} days, {self.apps} apps)"
            )

    @property
    def first_day(self) -> date:
        return self.end_date - timedelta(days=self.days)

    @property
    def last_day(self) -> date:
        return self.end_date - timedelta(days=1)

    def day_list(self) -> list[date]:
        """Every day of the range, oldest first."""
        return [self.first_day + timedelta(days=i) for i in range(self.days)]

    def identity(self) -> dict[str, int]:
        """What decides a day's content: a day written with the same identity is not written again."""
        return {"seed": self.seed, "apps": self.apps, "poll_interval_minutes": self.poll_interval_minutes}


class HistoryWorld:
    """The simulator's world for the plan's seed and the apps whose history is generated."""

    def __init__(self, plan: HistoryPlan) -> None:
        self.plan = plan
        self.world = World.build(plan.seed, app_count=max(DEFAULT_APP_COUNT, plan.apps * 4))

    @cached_property
    def apps(self) -> list[App]:
        """Tracked apps first, then the most popular generated games (appid breaks ties)."""
        catalog = self.world.catalog.apps.values()
        tracked = [a for a in catalog if a.tracked]
        tracked_order = {appid: i for i, appid in enumerate(load_tracked().apps)}
        tracked.sort(key=lambda a: tracked_order.get(a.appid, len(tracked_order)))
        others = sorted(
            (a for a in catalog if not a.tracked and a.kind == "game"),
            key=lambda a: (-a.peak_players, a.appid),
        )
        chosen = (tracked + others)[: self.plan.apps]
        if len(chosen) < self.plan.apps:
            raise ValueError(f"the simulated catalogue has only {len(chosen)} games, {self.plan.apps} asked")
        return chosen

    @cached_property
    def posts_by_day(self) -> dict[date, list[Post]]:
        """The posts the simulator's feed publishes for the apps in the range, by UTC day (one pass
        over each app's feed, not one per day)."""
        start = datetime(*self.plan.first_day.timetuple()[:3], tzinfo=UTC).timestamp()
        end = datetime(*self.plan.end_date.timetuple()[:3], tzinfo=UTC).timestamp()
        by_day: dict[date, list[Post]] = {}
        for app in self.apps:
            for post in self.world.news.posts(app.appid, now=end - 1):
                if post.date < start:
                    break  # newest first: the rest is older
                by_day.setdefault(datetime.fromtimestamp(post.date, UTC).date(), []).append(post)
        return by_day
