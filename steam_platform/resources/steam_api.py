"""`SteamApiResource`: the platform's one way to talk to Steam (or the simulator, by base URL).

Libraries, and why:
- `requests`: the standard HTTP client; pooled connections and separate connect/read timeouts.
- `tenacity`: composable retries; exponential backoff with full jitter on 429/5xx/connection
  errors, `Retry-After` honoured when given, bounded by attempts and total time. 401/403 (bad key)
  is never retried and fails with a clear message.
- `pyrate-limiter`: the store's ~200 requests / 5 minutes pace as a sliding window persisted in
  SQLite, shared by every run and process.
- The daily Web API budget (100,000 calls/key/day) is a tiny SQLite counter (see `steam.budget`):
  one row per UTC day and key fingerprint, updated atomically across processes.

The key is optional (keyless endpoints work without it; keyed ones raise `SteamKeyMissing`, which
the assets turn into "skipped: no API key"), is sent only as the `key` query parameter, and is
scrubbed from every message, exception and log record (`steam_platform.core.redaction`); it is
left out of the resource's repr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import ConfigDict, Field, PrivateAttr

from steam_platform.core.settings import DagsterSettings, SteamSettings, stack_dir
from steam_platform.resources.steam.budget import CallBudget, budget_scope
from steam_platform.resources.steam.client import SteamClient
from steam_platform.resources.steam.pacing import StorePace
from steam_platform.resources.steam.transport import CallStats, SteamRetrySettings, SteamTransport


def default_budget_state_dir() -> Path:
    """`$DAGSTER_HOME/steam` (shared by every run of the instance), else the local stack's folder."""
    home = DagsterSettings.load().home
    return home / "steam" if home else stack_dir() / "steam"


class SteamApiResource(dg.ConfigurableResource):
    """Steam Web API + store client with retries, a persisted daily budget and the store pace.

    Use `client()` in an asset (one client per resource instance, i.e. per run), read `usage()`
    for metadata, and let Dagster's teardown return unused budget (or call `close()`).
    """

    api_base_url: str = Field(
        default_factory=lambda: SteamSettings.from_process_environment().api_base_url,
        description="Web API base URL (env STEAM_API_BASE_URL; the simulator's URL locally).",
    )
    store_base_url: str = Field(
        default_factory=lambda: SteamSettings.from_process_environment().store_base_url,
        description="Store base URL (env STEAM_STORE_BASE_URL).",
    )
    api_key: str | None = Field(
        default=None, repr=False, description="Secret: fill with EnvVar('STEAM_API_KEY')."
    )
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 30.0
    # Retry knobs of the transport; defaults come from SteamRetrySettings, the one place that sets them.
    max_attempts: int = SteamRetrySettings.max_attempts
    backoff_initial_s: float = SteamRetrySettings.backoff_initial_s
    backoff_max_s: float = SteamRetrySettings.backoff_max_s
    max_retry_after_s: float = SteamRetrySettings.max_retry_after_s
    retry_total_s: float = SteamRetrySettings.total_s
    daily_call_budget: int = 100_000
    store_requests_per_window: int = 200
    store_window_s: float = 300.0
    store_max_wait_s: float = 900.0
    max_concurrency: int = Field(default=4, description="Parallel requests per run (threads).")
    budget_state_dir: str | None = Field(
        default=None, description="Where the budget/pace SQLite files live (default: DAGSTER_HOME/steam)."
    )

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. a secret).
    model_config = ConfigDict(hide_input_in_errors=True)

    _client: SteamClient | None = PrivateAttr(default=None)
    _budget: CallBudget | None = PrivateAttr(default=None)
    _pace: StorePace | None = PrivateAttr(default=None)

    @property
    def has_key(self) -> bool:
        """Whether keyed endpoints (app list, player data) can be called."""
        return bool(self.api_key)

    def _state_dir(self) -> Path:
        return Path(self.budget_state_dir) if self.budget_state_dir else default_budget_state_dir()

    def client(self) -> SteamClient:
        """The run's client (created on first use)."""
        if self._client is None:
            state = self._state_dir()
            self._budget = CallBudget(
                state / "budget.sqlite",
                budget_scope(self.api_base_url, self.api_key),
                self.daily_call_budget,
            )
            self._pace = StorePace(
                state / "store_pace.sqlite",
                self.store_base_url,
                self.store_requests_per_window,
                self.store_window_s,
                self.store_max_wait_s,
            )
            transport = SteamTransport(
                api_key=self.api_key or None,
                budget=self._budget,
                store_pace=self._pace,
                retry=SteamRetrySettings(
                    max_attempts=self.max_attempts,
                    backoff_initial_s=self.backoff_initial_s,
                    backoff_max_s=self.backoff_max_s,
                    max_retry_after_s=self.max_retry_after_s,
                    total_s=self.retry_total_s,
                ),
                timeout=(self.connect_timeout_s, self.read_timeout_s),
                pool_size=self.max_concurrency,
            )
            self._client = SteamClient(transport, self.api_base_url, self.store_base_url, self.has_key)
        return self._client

    def stats(self) -> CallStats:
        """Calls made by this resource instance so far (retries included)."""
        return self.client().transport.stats

    def usage(self) -> dict[str, Any]:
        """Budget figures for metadata: limit, used today by all runs, remaining."""
        self.client()
        assert self._budget is not None
        return {
            "budget_daily_limit": self.daily_call_budget,
            "budget_used_today": self._budget.used_today(),
            "budget_remaining_today": self._budget.remaining_today(),
        }

    def close(self) -> None:
        """Return unused budget, close connections and the pace database."""
        if self._client is not None:
            self._client.transport.close()
        if self._budget is not None:
            self._budget.release()
        if self._pace is not None:
            self._pace.close()
        self._client = self._budget = self._pace = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()
