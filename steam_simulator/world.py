"""Everything the simulator serves, built once from a seed: catalogue, news, players, store, reviews."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from steam_simulator.activity import PlayerCounts
from steam_simulator.catalog import DEFAULT_APP_COUNT, Catalog
from steam_simulator.news import NewsFeed
from steam_simulator.profiles import Players
from steam_simulator.reviews import Reviews
from steam_simulator.store import Storefront


@dataclass(frozen=True)
class World:
    """The seeded data behind every endpoint; values at a time `now` are computed on demand."""

    catalog: Catalog
    news: NewsFeed
    counts: PlayerCounts
    players: Players
    store: Storefront
    reviews: Reviews

    @classmethod
    def build(cls, seed: int, app_count: int = DEFAULT_APP_COUNT, tracked_path: Path | None = None) -> World:
        """Generate the catalogue and wire every data source to it."""
        catalog = Catalog(seed, app_count, tracked_path)
        news = NewsFeed(catalog)
        return cls(catalog, news, PlayerCounts(news), Players(catalog), Storefront(catalog), Reviews(seed))
