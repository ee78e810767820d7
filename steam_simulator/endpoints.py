"""What a simulated endpoint is (name, versions, key policy, handler) and what a handler receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from steam_simulator.replies import Reply
from steam_simulator.world import World


@dataclass(frozen=True)
class Call:
    """One parsed request: query parameters (first value each, plus all values), the clock, the data."""

    params: dict[str, str]
    world: World
    now: float
    all_params: dict[str, list[str]] = field(default_factory=dict)
    path_arg: str | None = None  # the appid in /appreviews/<appid>

    def int_param(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; None (or `default`) when absent; ValueError when not a number."""
        value = self.params.get(name)
        if value is None or value == "":
            return default
        return int(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean parameter as Steam reads it: 1/true are true."""
        value = self.params.get(name)
        if value is None:
            return default
        return value.strip().lower() in ("1", "true")

    def appids(self) -> list[int]:
        """Every appid the request is about (for fault rules filtered by appid)."""
        found: list[int] = []
        raw = [self.params.get("appid"), self.params.get("gameid"), self.path_arg]
        raw += (self.params.get("appids") or "").split(",")
        for value in raw:
            if value and value.strip().isdigit():
                found.append(int(value))
        return found


Handler = Callable[[Call], Reply]


@dataclass(frozen=True)
class Endpoint:
    """A served method. `name` is what counters and fault rules use (`Interface/Method` or `store/...`)."""

    name: str
    handler: Handler
    versions: frozenset[int] = frozenset()
    keyed: bool = False
    #: Status for a keyed call without `key=`: classic interfaces answer 400, service interfaces 403.
    missing_key_status: int = 400
    web_api: bool = True
