"""The load's events: what the ingest assets would send for M apps polled every few minutes, plus news.

Values and shapes come from the Steam simulator's world (`steam_simulator.world.World`): its apps
(the tracked ones with their real ids and names, generated ones beyond), its player curves (daily
and weekly cycles, launch spikes; unreleased apps answer Steam's "no match", `result` 42) and its
news rendering (BBCode announcements and HTML articles in several scripts, up to a few KB). Each
payload is shaped as the Steam client hands it to the ingest assets (`PlayerCount.payload`: the
`response` object plus the appid; a news item with its appid filled in) and wrapped in the
platform's envelope (`steam_platform.events.envelope`), so its `event_id` is the one ingest would
give it: (appid, poll slot) for a snapshot, the post's gid for news.

While it generates, `EventSource` keeps what every later stage must hold: how many snapshots and
posts, how many snapshots were live, which (app, day) pairs the mart must have, and a fingerprint of
each kind's event ids (`accounting.id_fingerprint`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from steam_devstack.load.accounting import IdTally
from steam_devstack.load.plan import LoadPlan
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import OutgoingMessage
from steam_platform.resources.steam import EP_NEWS, EP_PLAYERS, PATHS
from steam_simulator.news import Post
from steam_simulator.world import World

SRC_PLAYERS = PATHS[EP_PLAYERS].rstrip("/")
SRC_NEWS = PATHS[EP_NEWS].rstrip("/")
#: Steam's answer for an app it does not know or that is not released ("no match").
RESULT_NO_MATCH = 42
#: Load news gids: 64-bit decimal ids like Steam's, one per post of the run.
GID_BASE = 5_900_000_000_000_000_000
#: The simulator world's seed: the same plan always yields the same events.
SEED = 17


@dataclass
class Expected:
    """What the lake and search must hold once every event made it through."""

    players: IdTally = field(default_factory=IdTally)
    news: IdTally = field(default_factory=IdTally)
    #: Snapshots with a player count (the mart's `samples` count only these).
    live: int = 0
    #: (appid, day) pairs with a snapshot or a post: the mart's rows.
    app_days: set[tuple[int, date]] = field(default_factory=set)


class EventSource:
    """The plan's events in produce order, in batches, tallied as they are made."""

    def __init__(self, plan: LoadPlan, seed: int = SEED) -> None:
        self.plan = plan
        self.world = World.build(seed, app_count=plan.apps)
        self.appids: list[int] = self.world.catalog.appids[: plan.apps]
        self.expected = Expected()

    def batches(self) -> Iterator[list[OutgoingMessage]]:
        """Every event once, `plan.produce_batch` at a time; one news post after every
        `news_every - 1` snapshots, observed at the poll in progress."""
        plan, batch = self.plan, []
        players = news = 0
        for i in range(plan.events):
            if plan.news_every and (i + 1) % plan.news_every == 0:
                batch.append(self._news(news, min(players // plan.apps, plan.last_slot)))
                news += 1
            else:
                batch.append(self._snapshot(players))
                players += 1
            if len(batch) >= plan.produce_batch:
                yield batch
                batch = []
        if batch:
            yield batch

    def _snapshot(self, j: int) -> OutgoingMessage:
        """Snapshot `j`: app `j mod M` at poll `j div M`, as GetNumberOfCurrentPlayers answers."""
        appid, slot = self.appids[j % len(self.appids)], j // len(self.appids)
        when = self.plan.slot_time(slot)
        count = self.world.counts.count(appid, when.timestamp())
        payload: dict[str, Any] = (
            {"result": RESULT_NO_MATCH, "appid": appid}
            if count is None
            else {"player_count": count, "result": 1, "appid": appid}
        )
        event = envelope(
            source=SRC_PLAYERS,
            natural_key=(appid, when.isoformat()),
            observed_at=when,
            partition_key=when.strftime("%Y-%m-%d-%H:00"),
            payload=payload,
        )
        self.expected.players.add(event.event_id)
        self.expected.live += count is not None
        self.expected.app_days.add((appid, when.date()))
        return OutgoingMessage(self.plan.players_topic, key=str(appid), value=event.to_json_bytes())

    def _news(self, k: int, slot: int) -> OutgoingMessage:
        """News post `k`, published and fetched at poll `slot`, by app `k mod M`."""
        appid = self.appids[(k * 7) % len(self.appids)]
        when = self.plan.slot_time(slot)
        external = k % 5 >= 3  # like the simulator: about 60% community announcements
        post = Post(
            appid=appid,
            date=int(when.timestamp()),
            gid=GID_BASE + k,
            feed_type=0 if external else 1,
            feedname="pcgamer" if external else "steam_community_announcements",
            major=0.0,
        )
        item = self.world.news.render(post)
        payload = {**item, "gid": str(item["gid"]), "appid": appid}  # as the client fills it in
        event = envelope(
            source=SRC_NEWS,
            natural_key=(payload["gid"],),
            observed_at=when,
            partition_key=when.strftime("%Y-%m-%d"),
            payload=payload,
        )
        self.expected.news.add(event.event_id)
        self.expected.app_days.add((appid, when.date()))
        return OutgoingMessage(self.plan.news_topic, key=str(appid), value=event.to_json_bytes())
