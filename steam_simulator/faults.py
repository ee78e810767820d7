"""Fault injection and call counting: what tests use to make the simulator misbehave on purpose.

Rules are validated with pydantic (unknown fields, kinds or endpoints are refused with a clear
message and the current rules stay in place). The first rule that matches a call (endpoint, appids,
remaining count, probability) decides its fault; `count` is how many times a rule fires. Probability
draws come from a generator seeded with the simulator's seed, so a run is reproducible.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from steam_simulator.replies import HTML_TYPE, Reply, forbidden_key, html_page

#: "403" answers like a revoked key (Steam's HTML access-denied page), whatever key was sent.
#: "cut_json" is a complete HTTP answer whose JSON stops halfway (a proxy that cut it); "wrong_type"
#: swaps the JSON type of `field` wherever it occurs; "oversized" adds `size_bytes` of padding to
#: every object holding `field` (a body larger than Kafka takes as one record).
FaultKind = Literal[
    "429", "500", "503", "slow", "truncated", "html", "bad_json", "403", "cut_json", "wrong_type", "oversized"
]
_STEAM_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>Steam Community :: Error</title></head><body>"
    '<div id="message"><h3>Sorry!</h3><p>An error was encountered while processing your request:</p>'
    "<p>The site is currently unavailable. Please try again later.</p></div></body></html>"
)


class FaultRuleError(ValueError):
    """A fault rule list that cannot be applied; the message says which rule and why."""


class FaultRule(BaseModel):
    """One fault: which calls it hits and what happens to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = "*"
    kind: FaultKind
    count: int | None = Field(default=None, ge=0)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    appids: list[int] | None = None
    retry_after: int | None = Field(default=None, ge=0)
    delay_ms: int = Field(default=1500, ge=0, le=600_000)
    status: int = Field(default=200, ge=100, le=599)  # HTTP status of an "html" fault
    field: str | None = None  # the JSON key a "wrong_type" or "oversized" fault changes
    size_bytes: int = Field(default=2_000_000, ge=1, le=64_000_000)  # padding of an "oversized" fault

    @model_validator(mode="after")
    def _fits_kind(self) -> FaultRule:
        if self.retry_after is not None and self.kind != "429":
            raise ValueError("retry_after only applies to kind '429'")
        if (self.field is not None) != (self.kind in ("wrong_type", "oversized")):
            raise ValueError(
                "field is required by kinds 'wrong_type' and 'oversized' and only applies to them"
            )
        return self


def parse_rules(raw: Any, known_endpoints: Iterable[str]) -> list[FaultRule]:
    """Validate `{"rules": [...]}` (or a bare list); raise FaultRuleError naming the bad rule."""
    items = raw.get("rules") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise FaultRuleError('expected {"rules": [ ... ]} or a list of rules')
    known = set(known_endpoints)
    rules = []
    for i, item in enumerate(items):
        try:
            rule = FaultRule.model_validate(item)
        except ValidationError as exc:
            raise FaultRuleError(f"rule {i}: {exc}") from exc
        if rule.endpoint != "*" and rule.endpoint not in known:
            raise FaultRuleError(
                f"rule {i}: unknown endpoint {rule.endpoint!r}; known: * {' '.join(sorted(known))}"
            )
        rules.append(rule)
    return rules


@dataclass
class _Active:
    rule: FaultRule
    fired: int = 0

    def exhausted(self) -> bool:
        """True once the rule fired `count` times."""
        return self.rule.count is not None and self.fired >= self.rule.count


class FaultBook:
    """The current fault rules and the call counters of one simulator (thread-safe)."""

    def __init__(self, seed: int, known_endpoints: Iterable[str]) -> None:
        self.seed = seed
        self.known_endpoints = tuple(known_endpoints)
        self._lock = threading.Lock()
        self._rules: list[_Active] = []
        self._calls: Counter[str] = Counter()
        self._random = random.Random(seed)

    def set_rules(self, raw: Any) -> list[FaultRule]:
        """Replace the rules (all or nothing: invalid input leaves the current rules untouched)."""
        rules = parse_rules(raw, self.known_endpoints)
        with self._lock:
            self._rules = [_Active(r) for r in rules]
        return rules

    def rules(self) -> list[dict[str, Any]]:
        """The current rules with how often each has fired."""
        with self._lock:
            return [{**a.rule.model_dump(exclude_none=True), "fired": a.fired} for a in self._rules]

    def reset(self) -> None:
        """Forget counters and rules (and restart the probability stream)."""
        with self._lock:
            self._rules = []
            self._calls.clear()
            self._random = random.Random(self.seed)

    def record(self, endpoint: str) -> None:
        """Count one call of `endpoint`."""
        with self._lock:
            self._calls[endpoint] += 1

    def calls(self) -> dict[str, Any]:
        """`{"total": N, "by_endpoint": {name: N}}`."""
        with self._lock:
            return {"total": sum(self._calls.values()), "by_endpoint": dict(sorted(self._calls.items()))}

    def pick(self, endpoint: str, appids: Iterable[int]) -> FaultRule | None:
        """The fault for this call, if any rule fires (counts it against that rule)."""
        wanted = set(appids)
        with self._lock:
            for active in self._rules:
                rule = active.rule
                if rule.endpoint not in ("*", endpoint) or active.exhausted():
                    continue
                if rule.appids is not None and not wanted & set(rule.appids):
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                active.fired += 1
                return rule
        return None


def apply_fault(rule: FaultRule, serve: Callable[[], Reply]) -> Reply:
    """The reply a faulted call gets (`slow` is served normally; the server sleeps first)."""
    if rule.kind == "429":
        reply = html_page(429, "Too Many Requests")
        if rule.retry_after is not None:
            reply.headers["Retry-After"] = str(rule.retry_after)
        return reply
    if rule.kind in ("500", "503"):
        return html_page(
            int(rule.kind), "Internal Server Error" if rule.kind == "500" else "Service Unavailable"
        )
    if rule.kind == "403":
        return forbidden_key()
    if rule.kind == "html":
        return Reply(rule.status, _STEAM_ERROR_PAGE.encode(), HTML_TYPE)
    reply = serve()
    if rule.kind == "truncated":
        reply.truncate = True
    elif rule.kind == "bad_json":
        reply.body = reply.body.rstrip(b"}") + b',"":}'
    elif rule.kind == "cut_json":
        reply.body = reply.body[: len(reply.body) // 2]
    elif rule.kind in ("wrong_type", "oversized") and rule.field is not None:
        changed = _rewrite(json.loads(reply.body), rule.field, rule.kind, rule.size_bytes)
        reply.body = json.dumps(changed, ensure_ascii=False, separators=(",", ":")).encode()
    return reply


def _other_type(value: Any) -> Any:
    """A value of another JSON type: numbers and booleans become words, strings become numbers."""
    if isinstance(value, bool | int | float):
        return "many"
    if isinstance(value, str):
        return 12345
    return "n/a"


def _rewrite(node: Any, field: str, kind: str, size_bytes: int) -> Any:
    """`node` with `field` swapped to another type ("wrong_type") or padded beside ("oversized")."""
    if isinstance(node, list):
        return [_rewrite(item, field, kind, size_bytes) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rewrite(value, field, kind, size_bytes) for key, value in node.items()}
    if field in node:
        if kind == "wrong_type":
            out[field] = _other_type(node[field])
        else:
            out["padding"] = "x" * size_bytes
    return out
