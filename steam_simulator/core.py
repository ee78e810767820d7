"""The simulator's request pipeline, independent of the HTTP server: route, count, limit, fault, serve.

Order per call: count it under its endpoint name; the store's IP limit (429); the injected fault if a
rule fires (the front end fails before Steam's logic runs); the key check; the handler. Admin calls
under `/__sim/` are not counted and never faulted.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from steam_simulator.catalog import DEFAULT_APP_COUNT
from steam_simulator.endpoints import Call, Endpoint
from steam_simulator.faults import FaultBook, FaultRuleError, apply_fault
from steam_simulator.info import describe
from steam_simulator.ratelimit import (
    DEFAULT_LIMIT,
    DEFAULT_WINDOW_S,
    SlidingWindowLimit,
    retry_after_header,
)
from steam_simulator.replies import Reply, forbidden_key, html_page, json_reply, not_found
from steam_simulator.storefront import STORE_ENDPOINTS
from steam_simulator.webapi import WEB_API_ENDPOINTS
from steam_simulator.world import World

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "local-simulator-key"
ADMIN_PREFIX = "/__sim/"
UNKNOWN = "unknown"
_VERSION = re.compile(r"^v0*(\d+)$", re.IGNORECASE)
_REVIEWS = re.compile(r"^/appreviews/(\d+)$")


@dataclass
class SimulatorConfig:
    """Everything that shapes one simulator run."""

    seed: int = 7
    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    app_count: int = DEFAULT_APP_COUNT
    store_rate_limit: int = DEFAULT_LIMIT
    store_rate_window_s: float = DEFAULT_WINDOW_S
    store_retry_after: bool = True
    #: Freeze the clock at this unix time (None = real time).
    now: float | None = None
    faults: list[dict[str, Any]] = field(default_factory=list)
    tracked_path: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """A reply and how long to hold it back (slow faults)."""

    reply: Reply
    delay_s: float = 0.0


class Simulator:
    """One simulated Steam: seeded data, call counters, fault rules, store rate limit and clock."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World.build(config.seed, config.app_count, config.tracked_path)
        endpoints = (*WEB_API_ENDPOINTS, *STORE_ENDPOINTS)
        self._web_api = {tuple(e.name.lower().split("/")): e for e in WEB_API_ENDPOINTS}
        self._store = {e.name: e for e in STORE_ENDPOINTS}
        self.faults = FaultBook(config.seed, [e.name for e in endpoints])
        self.faults.set_rules(config.faults)  # validated at start: a bad file fails fast
        self.limit = SlidingWindowLimit(config.store_rate_limit, config.store_rate_window_s)
        self._lock = threading.Lock()
        self._frozen_now = config.now

    # -- clock ---------------------------------------------------------------------------------
    def now(self) -> float:
        """The simulated time: frozen, or the wall clock."""
        with self._lock:
            return self._frozen_now if self._frozen_now is not None else time.time()

    def set_clock(self, now: float | None) -> None:
        """Freeze the clock at `now` (unix seconds), or follow real time again with None."""
        with self._lock:
            self._frozen_now = now

    def reset(self) -> None:
        """Clear counters, fault rules and rate-limit windows; the clock returns to its configured start."""
        self.faults.reset()
        self.limit.reset()
        self.set_clock(self.config.now)

    # -- routing -------------------------------------------------------------------------------
    def route(self, path: str) -> tuple[Endpoint | None, str, str | None]:
        """(endpoint or None if not served at this path/version, counter name, path argument)."""
        path = path.rstrip("/") or "/"
        if path == "/api/appdetails":
            return self._store["store/appdetails"], "store/appdetails", None
        match = _REVIEWS.match(path)
        if match:
            return self._store["store/appreviews"], "store/appreviews", match.group(1)
        parts = path.strip("/").split("/")
        if len(parts) != 3:
            return None, UNKNOWN, None
        endpoint = self._web_api.get((parts[0].lower(), parts[1].lower()))
        if endpoint is None:
            return None, UNKNOWN, None
        version = _VERSION.match(parts[2])
        if version is None or int(version.group(1)) not in endpoint.versions:
            return None, endpoint.name, None
        return endpoint, endpoint.name, None

    # -- API calls -----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, client: str) -> Outcome:
        """Serve one non-admin request."""
        endpoint, name, path_arg = self.route(path)
        self.faults.record(name)
        if endpoint is None:
            return Outcome(not_found())
        if method != "GET":
            return Outcome(html_page(405, "Method Not Allowed"))
        if not endpoint.web_api:
            wait = self.limit.admit(client)
            if wait is not None:
                reply = html_page(429, "Too Many Requests")
                if self.config.store_retry_after:
                    reply.headers["Retry-After"] = retry_after_header(wait)
                return Outcome(reply)
        all_params = parse_qs(query, keep_blank_values=True)
        params = {k: v[0] for k, v in all_params.items()}
        call = Call(params, self.world, self.now(), all_params, path_arg)

        def serve() -> Reply:
            return self._serve(endpoint, call)

        rule = self.faults.pick(name, call.appids())
        if rule is None:
            return Outcome(serve())
        log.info("fault %s injected on %s", rule.kind, name)
        delay = rule.delay_ms / 1000 if rule.kind == "slow" else 0.0
        return Outcome(apply_fault(rule, serve), delay)

    def _serve(self, endpoint: Endpoint, call: Call) -> Reply:
        key = call.params.get("key") if endpoint.web_api else None  # the store ignores keys
        if key is not None and key not in self.config.api_keys:
            return forbidden_key()  # the Web API checks a key whenever one is sent
        if endpoint.keyed and not key:
            if endpoint.missing_key_status == 403:
                return forbidden_key()
            return html_page(400, "Bad Request", "Please verify that all required parameters are being sent")
        try:
            return endpoint.handler(call)
        except Exception:
            log.exception("simulator: %s failed", endpoint.name)
            return html_page(500, "Internal Server Error")

    # -- admin ---------------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: bytes) -> Reply:
        """The `/__sim/` control API (health, calls, reset, faults, clock, info)."""
        action = path[len(ADMIN_PREFIX) :].rstrip("/")
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            return json_reply({"ok": False, "error": "request body is not JSON"}, 400)
        if (method, action) == ("GET", "health"):
            return json_reply({"ok": True})
        if (method, action) == ("GET", "calls"):
            return json_reply(self.faults.calls())
        if (method, action) == ("POST", "reset"):
            self.reset()
            return json_reply({"ok": True})
        if (method, action) == ("GET", "faults"):
            return json_reply({"rules": self.faults.rules()})
        if (method, action) == ("POST", "faults"):
            try:
                self.faults.set_rules(payload)
            except FaultRuleError as exc:
                return json_reply({"ok": False, "error": str(exc)}, 400)
            return json_reply({"ok": True, "rules": self.faults.rules()})
        if (method, action) == ("GET", "clock"):
            return json_reply({"now": self.now(), "frozen": self._frozen_now is not None})
        if (method, action) == ("POST", "clock"):
            now = payload.get("now") if isinstance(payload, dict) else "?"
            if now is not None and not isinstance(now, int | float):
                return json_reply({"ok": False, "error": 'expected {"now": <unix seconds> | null}'}, 400)
            self.set_clock(None if now is None else float(now))
            return json_reply({"ok": True, "now": self.now()})
        if (method, action) == ("GET", "info"):
            return json_reply(self.info())
        return json_reply({"ok": False, "error": f"no admin route {method} {path}"}, 404)

    def info(self) -> dict[str, Any]:
        """Seed, sizes and example ids per quirk, so tests can find an unreleased app or a private profile."""
        return describe(self.world, self.now(), self.config.seed)
