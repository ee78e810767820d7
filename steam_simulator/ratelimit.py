"""The store's IP rate limit as Steam enforces it: N requests per sliding window, then HTTP 429.

This is the server side of the limit (what the client's pacing must respect), so it is a plain
sliding-window log per client address: it needs the exact time until a slot frees (for
`Retry-After`), must be resettable from tests, and must not start background threads — a client-side
limiter library (pyrate-limiter, used by the Steam client) offers none of that for free.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

DEFAULT_LIMIT = 200
DEFAULT_WINDOW_S = 300.0


class SlidingWindowLimit:
    """At most `limit` admitted requests per client in any `window_s` seconds (limit 0 = unlimited)."""

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 0 or window_s <= 0:
            raise ValueError("rate limit must be >= 0 requests per a positive window")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def admit(self, client: str) -> float | None:
        """None if the request may proceed (and is counted), else the seconds until it would."""
        if self.limit == 0:
            return None
        now = self._clock()
        with self._lock:
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) < self.limit:
                times.append(now)
                return None
            return max(0.0, times[0] + self.window_s - now)

    def reset(self) -> None:
        """Forget every client's recent requests."""
        with self._lock:
            self._seen.clear()


def retry_after_header(wait_s: float) -> str:
    """Whole seconds, rounded up (HTTP's Retry-After has no fractions)."""
    return str(max(1, math.ceil(wait_s)))
