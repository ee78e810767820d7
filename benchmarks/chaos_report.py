"""The chaos benchmark's figures: recovery per fault, the alerts each fault raised, missed polls
against recorded gaps, and the issue's targets. Pure (plain values in, JSON-ready dicts out), so it
is unit-tested (`tests/benchmarks/test_chaos_report.py`).

What "recovered" means, per fault (every time is epoch seconds):

- every fault: the layers are fresh again, i.e. a lake run for a poll (`lake:poll`: bronze ->
  warehouse -> marts -> Elasticsearch, in one run) that was created after the fault was lifted
  has succeeded. "Lifted" is when the service answered again after its restart (broker,
  Elasticsearch, S3 server, Postgres, `steam-platform dev` after the daemon died), when Steam's
  fault rules were cleared, or, for a kill the platform must absorb alone (lake worker, code
  server), the kill itself;
- a lake run's worker killed: also, the killed run has ended (failed by `dead_run_reaper`, not
  left STARTED), whichever is later.

Seconds to recovery are counted from the lift. Runs "left in flight" at the end are those still
queued, starting or started that were created before the last fault was lifted: with 2-minute
polls and lake runs of minutes a new run is nearly always in flight, which is the schedule, not a
leftover (all runs in flight at the end are listed too). An alert belongs to the fault during whose span it
first fired (from the fault's start to the next fault's start; the last fault's span runs to the
end of the benchmark) and resolved when a RESOLVED message for the same alert name arrived after
it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: A fault is "fresh again within" this after it was lifted (issue #16: within 10 minutes of the
#: last fault).
FRESH_WITHIN_S = 600.0
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
_TITLE = re.compile(r"^\[(FIRING|RESOLVED)(?::\d+)?\] (\S+)")


@dataclass(frozen=True)
class RunView:
    """What the report needs of one Dagster run."""

    run_id: str
    origin: str  # `lake:poll`, `lake:days`, the schedule's name or the job's name
    status: str
    created: float
    ended: float | None = None


@dataclass
class FaultRecord:
    """One fault as it happened: planned and actual times, what was hit, and any error doing it."""

    kind: str
    planned_at_s: float
    planned_outage_s: float
    started: float | None = None
    lifted: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def run_id(self) -> str | None:
        """The run whose worker was killed (lake worker fault)."""
        value = self.detail.get("run_id")
        return str(value) if value else None


@dataclass(frozen=True)
class AlertMessage:
    """One webhook message: when it arrived, FIRING or RESOLVED, the alert's name and its text."""

    received: float
    status: str
    alertname: str
    text: str

    @classmethod
    def parse(cls, received: float, title: str, text: str) -> AlertMessage | None:
        """From a Slack-compatible attachment's title (`[FIRING] KafkaBrokerDown`); None when the
        title is not Alertmanager's."""
        match = _TITLE.match(title)
        return None if match is None else cls(received, match.group(1), match.group(2), text)


def recovered_at(fault: FaultRecord, runs: Sequence[RunView]) -> float | None:
    """When the platform had recovered from `fault` (see the module docstring); None if it never did
    or the fault was never lifted."""
    if fault.lifted is None:
        return None
    fresh = [
        r.ended
        for r in runs
        if r.origin == "lake:poll" and r.status == "SUCCESS" and r.created >= fault.lifted and r.ended
    ]
    if not fresh:
        return None
    at = min(fresh)
    if fault.run_id is not None:
        killed = next((r for r in runs if r.run_id == fault.run_id), None)
        if killed is None or killed.status not in TERMINAL or killed.ended is None:
            return None
        at = max(at, killed.ended)
    return at


def attribute_alerts(
    faults: Sequence[FaultRecord], messages: Sequence[AlertMessage], end: float
) -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Per fault (in `faults` order, which is time order), the alerts first firing in its span and
    whether each resolved; plus the alerts that fired before the first fault."""
    starts = [f.started if f.started is not None else end for f in faults]
    per_fault: list[list[dict[str, Any]]] = [[] for _ in faults]
    before: list[dict[str, Any]] = []
    firing = sorted((m for m in messages if m.status == "FIRING"), key=lambda m: m.received)
    seen: set[tuple[int, str]] = set()
    for message in firing:
        index = _span_of(message.received, starts, end)
        if (index, message.alertname) in seen:
            continue  # the same alert again (repeated or another label set): counted once per span
        seen.add((index, message.alertname))
        resolved = next(
            (
                m.received
                for m in messages
                if m.status == "RESOLVED"
                and m.alertname == message.alertname
                and m.received >= message.received
            ),
            None,
        )
        entry = {
            "alert": message.alertname,
            "fired_at": _iso(message.received),
            "resolved": resolved is not None,
            "resolved_at": _iso(resolved) if resolved is not None else None,
            "summary": message.text.strip().splitlines()[0] if message.text.strip() else "",
        }
        (before if index < 0 else per_fault[index]).append(entry)
    return per_fault, before


def unresolved_alerts(messages: Sequence[AlertMessage]) -> list[str]:
    """Names of the alerts whose newest message is FIRING (still firing as far as the webhook
    knows), sorted."""
    newest: dict[str, AlertMessage] = {}
    for message in sorted(messages, key=lambda m: m.received):
        newest[message.alertname] = message
    return sorted(name for name, m in newest.items() if m.status == "FIRING")


def _span_of(at: float, starts: Sequence[float], end: float) -> int:
    """Index of the fault whose span holds `at` (-1 before the first fault)."""
    index = -1
    for i, start in enumerate(starts):
        if start <= at <= end:
            index = i
    return index


def missed_polls(observed_slots: Iterable[int], first: float, last: float, step_s: int) -> list[int]:
    """Poll slots (epoch seconds of their start, on the `step_s` grid) that began at or after `first`
    and closed by `last`, with no snapshot observed in them."""
    observed = {s - s % step_s for s in observed_slots}
    begin = int(first) + (-int(first)) % step_s  # the first slot starting at or after `first`
    return [s for s in range(begin, int(last) - step_s + 1, step_s) if s not in observed]


def slot_label(slot: int) -> tuple[str, str]:
    """(UTC day, `HH:MM`) of a slot start, as `mart_player_count_gaps` writes `missing_slot_times`."""
    moment = datetime.fromtimestamp(slot, UTC)
    return moment.date().isoformat(), moment.strftime("%H:%M")


def gaps_figures(
    missed: Sequence[int], recorded: set[tuple[str, str]], gap_rows: int | None
) -> dict[str, Any]:
    """Missed polls against the gaps mart: how many, how many recorded, which were not."""
    labels = [slot_label(s) for s in missed]
    unrecorded = [f"{day} {hhmm}" for day, hhmm in labels if (day, hhmm) not in recorded]
    return {
        "missed_polls": len(missed),
        "missed_poll_slots": [f"{day} {hhmm}" for day, hhmm in labels],
        "gap_rows": gap_rows,
        "gap_slots_recorded": len(recorded),
        "missed_not_recorded": unrecorded,
    }


def fault_entries(
    faults: Sequence[FaultRecord], runs: Sequence[RunView], messages: Sequence[AlertMessage], end: float
) -> list[dict[str, Any]]:
    """Every fault for the JSON: kind, start, end, seconds to recovery, its alerts."""
    alerts, _ = attribute_alerts(faults, messages, end)
    entries = []
    for fault, raised in zip(faults, alerts, strict=True):
        back = recovered_at(fault, runs)
        entries.append(
            {
                "kind": fault.kind,
                "start": _iso(fault.started),
                "end": _iso(fault.lifted),
                "planned_at_s": fault.planned_at_s,
                "outage_s": _seconds(fault.lifted, fault.started),
                "recovered_at": _iso(back),
                "recovery_s": _seconds(back, fault.lifted),
                "alerts": raised,
                "detail": fault.detail,
                "error": fault.error,
            }
        )
    return entries


def targets(
    entries: Sequence[dict[str, Any]],
    kinds: Iterable[str],
    reconciliation: dict[str, Any],
    gaps: dict[str, Any],
    in_flight: Sequence[dict[str, Any]],
) -> dict[str, bool]:
    """The figures issue #16 asks of the chaos run, each met or not."""
    done = {e["kind"] for e in entries if e["start"] is not None and e["error"] is None}
    last = max(entries, key=lambda e: e["start"] or "", default=None)
    lost = sum(reconciliation.get(k) or 0 for k in ("lost_in_fact", "lost_in_mart", "lost_in_mart_lake"))
    doubled = sum(
        reconciliation.get(k) or 0 for k in ("doubled_in_fact", "doubled_in_mart", "doubled_in_mart_lake")
    )
    return {
        "every fault kind done at least once": set(kinds) <= done,
        "0 lost among snapshots polled": reconciliation.get("fact_rows") is not None and lost == 0,
        "0 doubled among snapshots polled": reconciliation.get("fact_rows") is not None and doubled == 0,
        "every missed poll recorded as a gap": gaps.get("gap_rows") is not None
        and not gaps["missed_not_recorded"],
        "every layer fresh within 10 min of the last fault": last is not None
        and last["recovery_s"] is not None
        and last["recovery_s"] <= FRESH_WITHIN_S,
        "every fault recovered": all(e["recovery_s"] is not None for e in entries),
        "0 runs left in flight at the end": not in_flight,
        "every fault raised an alert": all(e["alerts"] for e in entries),
        "every alert raised resolved": all(a["resolved"] for e in entries for a in e["alerts"]),
    }


def in_flight_runs(runs: Sequence[RunView], created_before: float | None = None) -> list[dict[str, Any]]:
    """Runs still queued, starting or started (or cancelling) at the end; with `created_before`,
    only those created before it (left behind by the faults, not a poll the schedule just began)."""
    return [
        {"run_id": r.run_id, "origin": r.origin, "status": r.status, "created": _iso(r.created)}
        for r in runs
        if r.status in IN_FLIGHT and (created_before is None or r.created < created_before)
    ]


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def _seconds(later: float | None, earlier: float | None) -> float | None:
    return None if later is None or earlier is None else round(later - earlier, 1)
