"""The chaos benchmark's fault schedule: which faults, in which order, how long, at what scale.

Pure arithmetic (no servers), so it is unit-tested (`tests/benchmarks/test_chaos_schedule.py`).

The reference is a 60-minute window (issue #16): a broker SIGKILLed and restarted 1 minute later,
Elasticsearch stopped 5 minutes, the S3 server stopped 5 minutes, a lake run's worker SIGKILLed
with its Spark driver, the daemon SIGKILLed and restarted, the code server's gRPC process
SIGKILLed, Steam answering 503 for 10 minutes then 429 with Retry-After for 5, Postgres (Dagster's
storage) restarted. A shorter window scales every outage by `minutes / 60` (never below
`MIN_OUTAGE_S`, so even a short run keeps a service down across a few alert evaluations and at
least one poll slot), and the faults are spread evenly over what is left, one after the other
(they never overlap, so the alerts each one raised can be told apart).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """Every fault of issue #16, item 8."""

    BROKER_KILL = "broker_kill"
    LAKE_WORKER_KILL = "lake_worker_kill"
    ELASTICSEARCH_STOP = "elasticsearch_stop"
    STEAM_503_THEN_429 = "steam_503_then_429"
    S3_STOP = "s3_stop"
    CODE_SERVER_KILL = "code_server_kill"
    DAEMON_KILL = "daemon_kill"
    POSTGRES_RESTART = "postgres_restart"


#: Outage of each fault in a 60-minute window, in seconds (0: a kill the platform must absorb; what
#: follows is its own recovery). The Steam fault is 503 for 10 minutes, then 429 for 5.
REFERENCE_MINUTES = 60.0
REFERENCE_OUTAGE_S: dict[FaultKind, float] = {
    FaultKind.BROKER_KILL: 60.0,
    FaultKind.LAKE_WORKER_KILL: 0.0,
    FaultKind.ELASTICSEARCH_STOP: 300.0,
    FaultKind.STEAM_503_THEN_429: 900.0,
    FaultKind.S3_STOP: 300.0,
    FaultKind.CODE_SERVER_KILL: 0.0,
    FaultKind.DAEMON_KILL: 0.0,
    FaultKind.POSTGRES_RESTART: 0.0,
}
#: Share of the Steam fault answered with 503 (the rest: 429 with Retry-After).
STEAM_503_SHARE = 10 / 15
#: No outage shorter than this, whatever the scale: longer than a poll interval (2 min) would be
#: best, but a 12-minute shake-out run must fit every fault; 45 s spans several alert evaluations.
MIN_OUTAGE_S = 45.0
#: Order of the faults in the window. The alerts that stay up longest after a fault is lifted come
#: first, so every alert can resolve within the window plus a short drain: Steam (its gaps are
#: recorded by the next lake run, and `SteamPlayerCountPollsMissed` resolves 15 minutes after the
#: last), then the restarts (their alerts hold 10 minutes); last the outages whose alerts resolve with
#: the next successful run.
ORDER: tuple[FaultKind, ...] = (
    FaultKind.BROKER_KILL,
    FaultKind.STEAM_503_THEN_429,
    FaultKind.POSTGRES_RESTART,
    FaultKind.CODE_SERVER_KILL,
    FaultKind.DAEMON_KILL,
    FaultKind.LAKE_WORKER_KILL,
    FaultKind.S3_STOP,
    FaultKind.ELASTICSEARCH_STOP,
)


@dataclass(frozen=True)
class PlannedFault:
    """One fault: when it starts (seconds into the window) and how long its outage lasts."""

    kind: FaultKind
    at_s: float
    outage_s: float

    @property
    def lifted_s(self) -> float:
        """When the fault is lifted (the service started again, the rule cleared), planned."""
        return self.at_s + self.outage_s


def scale(minutes: float) -> float:
    """How much shorter every outage is than in the 60-minute reference (1.0 at 60 min and more)."""
    return min(1.0, minutes / REFERENCE_MINUTES)


def outage_s(kind: FaultKind, minutes: float) -> float:
    """The outage of `kind` in a window of `minutes`: the reference scaled, at least MIN_OUTAGE_S
    (kills stay 0)."""
    reference = REFERENCE_OUTAGE_S[kind]
    return 0.0 if reference == 0 else max(MIN_OUTAGE_S, reference * scale(minutes))


def plan(minutes: float, order: tuple[FaultKind, ...] = ORDER) -> list[PlannedFault]:
    """Every fault once, in `order`, one after the other with equal quiet spells between them and
    after the last (where its recovery is watched). Raises ValueError when the outages alone do
    not fit in `minutes`."""
    window = minutes * 60
    outages = [outage_s(kind, minutes) for kind in order]
    quiet = (window - sum(outages)) / len(order)
    if quiet <= 0:
        raise ValueError(f"{minutes:g} minutes cannot hold the outages ({sum(outages) / 60:.1f} min)")
    faults, at = [], quiet / 2  # half a spell before the first: the platform runs undisturbed
    for kind, outage in zip(order, outages, strict=True):
        faults.append(PlannedFault(kind, round(at, 1), round(outage, 1)))
        at += outage + quiet
    return faults


def steam_phases(outage: float) -> tuple[float, float]:
    """Seconds of 503, then of 429, of a Steam fault lasting `outage`."""
    first = outage * STEAM_503_SHARE
    return first, outage - first
