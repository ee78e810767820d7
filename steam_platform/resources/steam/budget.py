"""The daily Web API call budget (Steam allows ~100,000 calls per key per UTC day), shared by runs.

Why SQLite: every run (and every process of a multiprocess run) must draw from one counter, and the
state must survive restarts. A small SQLite file next to the Dagster instance (`DAGSTER_HOME`) or
in the local stack's state folder needs no server, is atomic across processes (`BEGIN IMMEDIATE`),
and is easy to inspect. Deployments whose runs share no disk point `budget_state_dir` at a shared
volume.

Calls are leased in small blocks, so concurrent threads don't open a transaction per HTTP call; a
lease not used by the end of a run is handed back. A crashed run loses at most one lease, which
over-counts (safe) rather than under-counts.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from steam_platform.resources.steam.errors import SteamBudgetExhausted

_SCHEMA = """
CREATE TABLE IF NOT EXISTS steam_calls (
    day TEXT NOT NULL,
    scope TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (day, scope)
)
"""


def budget_scope(api_base_url: str, api_key: str | None) -> str:
    """A stable, non-reversible id of (host, key): budgets are per key, and the key is never stored."""
    material = f"{api_base_url.rstrip('/')}|{api_key or ''}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def utc_day() -> str:
    """Today's UTC date, the unit Steam's quota resets on."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


class CallBudget:
    """Take one call at a time from the persisted daily budget; raise when it is used up."""

    def __init__(
        self,
        path: Path,
        scope: str,
        daily_limit: int,
        lease_size: int = 20,
        today: Callable[[], str] = utc_day,
    ) -> None:
        self.path = path
        self.scope = scope
        self.daily_limit = daily_limit
        self.lease_size = max(1, lease_size)
        self._today = today
        self._lock = threading.Lock()
        self._lease_day = ""
        self._leased = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def _change(self, day: str, wanted: int) -> int:
        """Atomically add up to `wanted` calls to `day` (negative: give back); returns the change."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO steam_calls (day, scope, used) VALUES (?, ?, 0)", (day, self.scope)
            )
            (used,) = conn.execute(
                "SELECT used FROM steam_calls WHERE day = ? AND scope = ?", (day, self.scope)
            ).fetchone()
            granted = min(wanted, self.daily_limit - used) if wanted > 0 else max(wanted, -used)
            if granted:
                conn.execute(
                    "UPDATE steam_calls SET used = used + ? WHERE day = ? AND scope = ?",
                    (granted, day, self.scope),
                )
            conn.execute("COMMIT")
            return max(granted, 0) if wanted > 0 else granted
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def acquire(self) -> None:
        """Account one Web API call, or raise `SteamBudgetExhausted` (nothing is sent then)."""
        with self._lock:
            day = self._today()
            if day != self._lease_day:
                self._give_back()
                self._lease_day = day
            if self._leased == 0:
                self._leased = self._change(day, self.lease_size)
                if self._leased == 0:
                    raise SteamBudgetExhausted(
                        f"daily Steam Web API budget of {self.daily_limit} calls is used up for {day} "
                        "(UTC); it resets at midnight UTC"
                    )
            self._leased -= 1

    def _give_back(self) -> None:
        if self._leased and self._lease_day:
            self._change(self._lease_day, -self._leased)
        self._leased = 0

    def release(self) -> None:
        """Hand unused leased calls back (end of run)."""
        with self._lock:
            self._give_back()

    def used_today(self) -> int:
        """Calls counted for today by every run, minus what this client still holds unused."""
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT used FROM steam_calls WHERE day = ? AND scope = ?", (self._today(), self.scope)
            ).fetchone()
        finally:
            conn.close()
        used = int(row[0]) if row else 0
        return used - (self._leased if self._lease_day == self._today() else 0)

    def remaining_today(self) -> int:
        """Calls left today under the daily limit."""
        return max(0, self.daily_limit - self.used_today())
