"""What `lake_refresh_sensor` remembers between ticks: what is waiting, what was requested.

Kept as the sensor's JSON cursor, so it survives daemon restarts and is visible in the UI:
- `after`: the newest ingest/bronze materialisation (event storage id) already read;
- `topics`: topics with ingested events not yet landed in bronze;
- `days`: silver days (ISO) to rebuild, with the silver tables each needs;
- `finalised`: the newest closed day whose final rebuild was requested;
- `requested`: what each request still in flight covers (topics and days), to retry on failure;
- `retries`: work of a failed run (`topic:<t>` or `day:<d>`), with its attempt number and when
  it may be tried again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Retry:
    """Failed work (a topic to land, or a day's `silver` tables to rebuild): attempt `attempt`
    may start at `not_before` (epoch seconds)."""

    silver: set[str]
    attempt: int
    not_before: float


@dataclass
class Request:
    """What one requested run covers: topics to land and days (-> silver tables) to rebuild."""

    topics: set[str] = field(default_factory=set)
    days: dict[str, set[str]] = field(default_factory=dict)
    attempt: int = 1
    requested_at: float = 0.0


@dataclass
class LakeCursor:
    """The sensor's state; `dumps`/`loads` round-trip it through the cursor string."""

    after: int = 0
    topics: set[str] = field(default_factory=set)
    days: dict[str, set[str]] = field(default_factory=dict)
    finalised: str = ""
    #: the kind of the last request (`poll` or `days`): the two take turns
    last_kind: str = ""
    requested: dict[str, Request] = field(default_factory=dict)
    retries: dict[str, Retry] = field(default_factory=dict)

    def add_days(self, days: dict[str, set[str]]) -> None:
        """Mark `days` (day -> silver tables) for a rebuild."""
        for day, silver in days.items():
            self.days.setdefault(day, set()).update(silver)

    def dumps(self) -> str:
        """The cursor string (sorted, so an unchanged state gives an unchanged cursor)."""
        state: dict[str, Any] = {
            "after": self.after,
            "topics": sorted(self.topics),
            "days": {d: sorted(s) for d, s in sorted(self.days.items())},
            "finalised": self.finalised,
            "last_kind": self.last_kind,
            "requested": {
                rid: {
                    "topics": sorted(r.topics),
                    "days": {d: sorted(s) for d, s in sorted(r.days.items())},
                    "attempt": r.attempt,
                    "requested_at": r.requested_at,
                }
                for rid, r in sorted(self.requested.items())
            },
            "retries": {
                d: {"silver": sorted(r.silver), "attempt": r.attempt, "not_before": r.not_before}
                for d, r in sorted(self.retries.items())
            },
        }
        return json.dumps(state, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str | None) -> LakeCursor:
        """The state of a cursor string (a fresh state for None or an empty string)."""
        if not raw:
            return cls()
        state = json.loads(raw)
        return cls(
            after=int(state.get("after", 0)),
            topics=set(state.get("topics", [])),
            days={d: set(s) for d, s in state.get("days", {}).items()},
            finalised=state.get("finalised", ""),
            last_kind=state.get("last_kind", ""),
            requested={
                rid: Request(
                    topics=set(r["topics"]),
                    days={d: set(s) for d, s in r["days"].items()},
                    attempt=int(r["attempt"]),
                    requested_at=float(r["requested_at"]),
                )
                for rid, r in state.get("requested", {}).items()
            },
            retries={
                d: Retry(set(r["silver"]), int(r["attempt"]), float(r["not_before"]))
                for d, r in state.get("retries", {}).items()
            },
        )
