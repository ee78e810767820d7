"""HTTP to Steam: one `requests` session, retries by tenacity, budget and pace checked per attempt.

Why these libraries: `requests` is the de-facto HTTP client (connection pooling, timeouts) and
tenacity is the maintained retry library whose wait strategies compose, so "exponential backoff
with full jitter, unless the server said `Retry-After`" is a few lines, not a hand-rolled loop.
Every attempt is a real call against Steam's quota, so the budget is charged per attempt.

The key never leaves in a message: `requests` puts the full URL (with `key=...`) into its exception
messages and urllib3 logs it at DEBUG level, so every library message goes through
`steam_platform.core.redaction.redact`, exceptions are raised outside the `except` block that caught
the library error (no chained traceback carries the URL), and urllib3's and requests' loggers get
the redacting filter.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from steam_platform.core.constants import STEAM_RETRY_BACKOFF_MAX_S, STEAM_RETRY_MAX_ATTEMPTS
from steam_platform.core.redaction import redact, redact_loggers
from steam_platform.resources.steam.budget import CallBudget
from steam_platform.resources.steam.errors import SteamAuthError, SteamForbidden, SteamUnavailable
from steam_platform.resources.steam.pacing import StorePace

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Loggers that see request URLs, `key=...` included.
URL_LOGGERS = ("urllib3.connectionpool", "requests")


@dataclass(frozen=True)
class SteamRetrySettings:
    """How hard to try before declaring Steam unavailable."""

    max_attempts: int = STEAM_RETRY_MAX_ATTEMPTS
    backoff_initial_s: float = 1.0
    backoff_max_s: float = STEAM_RETRY_BACKOFF_MAX_S
    max_retry_after_s: float = 300.0
    total_s: float = 900.0


@dataclass(frozen=True)
class RawResponse:
    """A final (non-transient) HTTP answer: status, body bytes, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str]


@dataclass
class CallStats:
    """What a client did: HTTP calls per endpoint (retries included), retries, waits, bytes."""

    calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    waited_s: float = 0.0
    bytes_received: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def since(self, earlier: CallStats) -> CallStats:
        """What happened after `earlier` (a `snapshot()` of the same stats)."""
        return CallStats(
            calls=self.calls - earlier.calls,
            retries=self.retries - earlier.retries,
            throttled=self.throttled - earlier.throttled,
            server_errors=self.server_errors - earlier.server_errors,
            connection_errors=self.connection_errors - earlier.connection_errors,
            waited_s=self.waited_s - earlier.waited_s,
            bytes_received=self.bytes_received - earlier.bytes_received,
        )

    def snapshot(self) -> CallStats:
        """A copy of the counters now."""
        return self.since(CallStats())

    def as_metadata(self) -> dict[str, Any]:
        """Plain values for asset metadata."""
        return {
            "calls_total": self.total_calls,
            "calls_by_endpoint": dict(self.calls),
            "retries": self.retries,
            "http_429": self.throttled,
            "http_5xx": self.server_errors,
            "connection_errors": self.connection_errors,
            "retry_wait_s": round(self.waited_s, 2),
            "bytes_received": self.bytes_received,
        }


class _Transient(Exception):
    """A retryable failure; `retry_after` is the server's hint in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _WaitRetryAfterOr(wait_base):
    """Wait what `Retry-After` asked (capped, plus a little jitter), else the fallback backoff."""

    def __init__(self, fallback: wait_base, cap_s: float) -> None:
        self.fallback = fallback
        self.cap_s = cap_s

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            hinted = min(exc.retry_after, self.cap_s)
            return hinted + random.uniform(0, min(1.0, 0.1 * hinted + 0.05))
        return float(self.fallback(retry_state))


class SteamTransport:
    """GETs against the Web API or the store with budget, pace, retries and key redaction."""

    def __init__(
        self,
        *,
        api_key: str | None,
        budget: CallBudget,
        store_pace: StorePace,
        retry: SteamRetrySettings,
        timeout: tuple[float, float],
        pool_size: int = 8,
        user_agent: str = "steam-platform/0.1 (+https://github.com/)",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        redact_loggers(*URL_LOGGERS)
        self._key = api_key
        self.budget = budget
        self.store_pace = store_pace
        self.retry = retry
        self.timeout = timeout
        self._sleep = sleep
        self.stats = CallStats()
        self._stats_lock = threading.Lock()
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def _count(self, **changes: float) -> None:
        with self._stats_lock:
            for name, value in changes.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def _attempt(
        self, url: str, params: dict[str, Any], endpoint: str, *, store: bool, keyed: bool
    ) -> RawResponse:
        if store:
            self.store_pace.wait_turn()
        else:
            self.budget.acquire()
        query = {**params, "key": self._key} if keyed else params
        with self._stats_lock:
            self.stats.calls[endpoint] += 1
        failure: str | None = None
        try:
            response = self.session.get(url, params=query, timeout=self.timeout)
            body = response.content
        except requests.RequestException as exc:
            failure = f"{type(exc).__name__}: {redact(str(exc), self._key)}"
        if failure is not None:  # raised outside `except`: no chained exception carries the URL
            self._count(connection_errors=1)
            raise _Transient(f"{endpoint}: {failure}")
        self._count(bytes_received=len(body))
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            if status == 429:
                self._count(throttled=1)
            else:
                self._count(server_errors=1)
            raise _Transient(
                f"{endpoint}: HTTP {status}", parse_retry_after(response.headers.get("Retry-After"))
            )
        if status in (401, 403):
            if keyed:
                raise SteamAuthError(
                    f"{endpoint}: Steam refused the API key (HTTP {status}); check STEAM_API_KEY "
                    "(retrying will not help)"
                )
            raise SteamForbidden(
                f"{endpoint}: HTTP {status} without a key: Steam is blocking this client "
                "(store rate limit?); stop and retry later"
            )
        return RawResponse(status, body, dict(response.headers))

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        self._count(retries=1, waited_s=wait)

    def get(
        self, base_url: str, path: str, params: dict[str, Any], endpoint: str, *, store: bool, keyed: bool
    ) -> RawResponse:
        """GET `base_url/path` until a non-transient answer; raise SteamUnavailable when retries run out."""
        url = f"{base_url.rstrip('/')}/{path.lstrip('/')}"
        settings = self.retry
        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(settings.max_attempts) | stop_after_delay(settings.total_s),
            wait=_WaitRetryAfterOr(
                wait_random_exponential(multiplier=settings.backoff_initial_s, max=settings.backoff_max_s),
                settings.max_retry_after_s,
            ),
            before_sleep=self._before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        last: str | None = None
        try:
            return retrying(self._attempt, url, params, endpoint, store=store, keyed=keyed)
        except _Transient as exc:
            last = str(exc)
        raise SteamUnavailable(
            f"{last} (gave up after {settings.max_attempts} attempts / {settings.total_s:.0f}s)"
        )
