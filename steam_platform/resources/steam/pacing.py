"""The store's request pace (~200 requests per 5 minutes per IP before Steam answers 429/403).

Why pyrate-limiter: a maintained sliding-window limiter whose SQLite bucket persists the recent
request timestamps in a file shared by every run and process (with a file lock), so two runs
started back to back cannot together exceed the pace. It waits (bounded by `max_wait_s`) instead
of failing, which is what a daily store crawl wants.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pyrate_limiter import (
    AbstractBucket,
    BucketFactory,
    Duration,
    Limiter,
    LimiterDelayException,
    Rate,
    RateItem,
    SQLiteBucket,
    TimeClock,
)

from steam_platform.resources.steam.errors import SteamSourceError


class StorePaceExceeded(SteamSourceError):
    """Waiting for the store pace would take longer than allowed: the run stops, nothing is lost."""

    reason = "store_pace"


#: Old request timestamps are deleted every this many requests (instead of a background thread).
LEAK_EVERY = 50


class _BucketWithoutLeaker(BucketFactory):
    """One SQLite bucket, leaked by the caller: pyrate-limiter's default factory starts a daemon
    thread that races with closing the database at the end of a run."""

    def __init__(self, bucket: SQLiteBucket) -> None:
        self.bucket = bucket
        self.clock = TimeClock()

    def wrap_item(self, name: str, weight: int = 1) -> RateItem:
        return RateItem(name, self.clock.now(), weight=weight)

    def get(self, item: RateItem) -> AbstractBucket:
        return self.bucket


class StorePace:
    """Blocks before each store request until it fits the pace shared by all runs."""

    def __init__(
        self, path: Path, store_base_url: str, limit: int, window_s: float, max_wait_s: float
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = "store_pace_" + hashlib.sha256(store_base_url.rstrip("/").encode()).hexdigest()[:12]
        rate = Rate(limit, int(window_s * Duration.SECOND))
        self._bucket = SQLiteBucket.init_from_file([rate], table=table, db_path=str(path), use_file_lock=True)
        # The bucket's own file lock makes each count-and-insert atomic across processes.
        self._factory = _BucketWithoutLeaker(self._bucket)
        self._limiter = Limiter(self._factory, max_delay=int(max_wait_s * 1000), retry_until_max_delay=True)
        self._requests = 0
        self.limit = limit
        self.window_s = window_s

    def wait_turn(self) -> None:
        """Return when one more store request fits the pace; raise if that takes too long."""
        try:
            self._limiter.try_acquire("store")
        except LimiterDelayException as exc:
            raise StorePaceExceeded(
                f"store pace of {self.limit} requests per {self.window_s:.0f}s would need a wait "
                f"longer than allowed ({exc.meta_info.get('actual_delay', '?')} ms)"
            ) from None
        self._requests += 1
        if self._requests % LEAK_EVERY == 0:
            self._bucket.leak(self._factory.clock.now())

    def close(self) -> None:
        """Drop expired timestamps and close the database."""
        self._bucket.leak(self._factory.clock.now())
        self._bucket.conn.close()
