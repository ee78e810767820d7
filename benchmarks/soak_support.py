"""What `soak.py` observes; nothing here writes to the platform.

`ProcessMeter` (RSS and CPU from /proc, via the stack's own process table), `SearchWatcher`
(`samples` per day in Elasticsearch), `RunWatcher` (runs and poll runs from the Dagster instance).
The end-of-soak reconciliation with the lake is `soak_reconcile.py`; `platform_clients` builds the
platform's own resources for it, as a run builds them.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from steam_devstack.process import process_table, service_pids
from steam_devstack.stack import LocalStack
from steam_platform.assets.ingest.players import POLL_SLOT_TAG
from steam_platform.assets.lake.refresh_events import LAKE_RUN_TAG
from steam_platform.core import sources
from steam_platform.core.settings import Environment
from steam_platform.resources.es_client import EsError, EsNotFound, SearchClient
from steam_platform.resources.wiring import build_resources

POLL_SCHEDULE = "player_counts_poll"
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")
#: Processes of the `dagster dev` tree by command line; the first match wins.
_DAGSTER_KINDS = (
    ("spark_driver", ("java",)),
    ("spark_python", ("pyspark",)),
    ("webserver", ("dagster_webserver", "dagster-webserver")),
    ("daemon", ("dagster._daemon", "dagster-daemon")),
    ("code_server", ("api grpc", "code-server", "multiprocessing.resource_tracker")),
    ("run_worker", ("execute_run", "execute_step", "resume_run")),
)
#: A process matching nothing takes its parent's kind; a code server's children are run workers.
_CHILD_KIND = {"code_server": "run_worker", "dagster_dev": "dagster_dev"}


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of `pid` so far (its own, not its children's), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # fields 14 and 15 of proc(5)


@dataclass
class ProcessMeter:
    """Peak RSS per process kind (and all together) and CPU seconds of every process, sampled.

    A process is keyed by (pid, start time), so a recycled pid is a new process. CPU: the largest
    cumulative utime+stime seen per process, minus what it had used when the meter started; a run
    worker or Spark JVM that exits keeps what was last seen of it (up to one sample interval lost).
    """

    dagster_root: int
    stack_roots: dict[str, list[int]]
    cpu_start: dict[tuple[int, int], float] = field(default_factory=dict)
    cpu_max: dict[tuple[int, int], float] = field(default_factory=dict)
    kind_of: dict[tuple[int, int], str] = field(default_factory=dict)
    peak_kind: Counter[str] = field(default_factory=Counter)
    peak_total: int = 0
    samples: int = 0

    def sample(self) -> None:
        """One sample of every watched process: RSS per kind now, CPU so far per process."""
        table = process_table()
        kinds: dict[int, str] = {}
        for name, roots in self.stack_roots.items():
            for root in roots:
                kinds.update(dict.fromkeys(service_pids(root, table), name))
        tree = service_pids(self.dagster_root, table)
        for pid in sorted(tree, key=lambda p: table[p].start_ticks):  # parents before children
            kinds[pid] = self._dagster_kind(pid, kinds.get(table[pid].ppid))
        rss: Counter[str] = Counter()
        for pid, kind in kinds.items():
            key = (pid, table[pid].start_ticks)
            cpu = _cpu_seconds(pid)
            if cpu is not None:
                self.cpu_start.setdefault(key, cpu if self.samples == 0 else 0.0)
                self.cpu_max[key] = max(cpu, self.cpu_max.get(key, 0.0))
                self.kind_of[key] = kind
            rss[kind] += table[pid].rss_pages * _PAGE
        for kind, value in rss.items():
            self.peak_kind[kind] = max(self.peak_kind[kind], value)
        self.peak_total = max(self.peak_total, sum(rss.values()))
        self.samples += 1

    def _dagster_kind(self, pid: int, parent_kind: str | None) -> str:
        """What a process of the `dagster dev` tree is, from its command line or its parent's kind."""
        if pid == self.dagster_root:
            return "dagster_dev"
        cmd = ""
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        for kind, needles in _DAGSTER_KINDS:
            if any(n in cmd for n in needles):
                return kind
        return _CHILD_KIND.get(parent_kind or "", parent_kind or "dagster_dev")

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used since the first sample, per process kind."""
        used: dict[str, float] = {}
        for key, top in self.cpu_max.items():
            kind = self.kind_of[key]
            used[kind] = used.get(kind, 0.0) + top - self.cpu_start.get(key, 0.0)
        return used


@dataclass
class SearchWatcher:
    """Sum of `samples` per `dt` in `mart_game_daily`, kept only when it changes: (time, {day: sum})."""

    es: SearchClient
    since_day: str
    history: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def sample(self) -> dict[str, int] | None:
        """Query the alias now; None when Elasticsearch did not answer (missing alias: {})."""
        body = {
            "size": 0,
            "query": {"range": {"dt": {"gte": self.since_day}}},
            "aggs": {
                "dt": {"terms": {"field": "dt", "size": 50}, "aggs": {"s": {"sum": {"field": "samples"}}}}
            },
        }
        try:
            answer = self.es.search("mart_game_daily", body)
            buckets = answer["aggregations"]["dt"]["buckets"]
            sums = {b["key_as_string"][:10]: int(b["s"]["value"]) for b in buckets}
        except EsError as exc:
            if not isinstance(exc, EsNotFound):
                self.errors[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
                return None
            sums = {}
        if not self.history or self.history[-1][1] != sums:
            self.history.append((time.time(), sums))
        return sums

    def reached(self, day: str, count: int, after: float) -> float | None:
        """The first sample time >= `after` at which `day` showed at least `count` samples."""
        # From the value current at `after`: the last one recorded before it.
        start = max(0, bisect.bisect_left([t for t, _ in self.history], after) - 1)
        for at, sums in self.history[start:]:
            if sums.get(day, 0) >= count:
                return max(at, after)
        return None


@dataclass
class Poll:
    """One poll slot of `player_counts_poll` and its runs (a retried run shares the slot)."""

    slot: str
    day: str
    run_ids: list[str] = field(default_factory=list)
    started: float | None = None
    status: str = "QUEUED"
    apps: int | None = None
    live: int | None = None
    produced_at: float | None = None
    searchable_at: float | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from the first run's start to searchable; None while not (yet) searchable."""
        if self.searchable_at is None or self.started is None:
            return None
        return self.searchable_at - self.started

    def summary(self) -> dict[str, Any]:
        """The poll for the JSON report."""
        fields = {k: getattr(self, k) for k in ("slot", "status", "run_ids", "apps", "live")}
        return fields | {"latency_s": None if self.latency is None else round(self.latency, 1)}


@dataclass
class RunWatcher:
    """Every run created since `since`, the poll runs grouped by slot, failures with their first error."""

    instance: dg.DagsterInstance
    since: datetime
    runs: dict[str, Any] = field(default_factory=dict)
    polls: dict[str, Poll] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    queue: list[tuple[float, int]] = field(default_factory=list)
    #: Poll runs whose snapshots were counted (or that failed without producing any).
    counted: set[str] = field(default_factory=set)

    def refresh(self) -> Counter[str]:
        """Read the runs again; returns the count per status."""
        records = self.instance.get_run_records(dg.RunsFilter(created_after=self.since), ascending=True)
        self.runs = {r.dagster_run.run_id: r for r in records}
        for record in records:
            run = record.dagster_run
            if run.tags.get("dagster/schedule_name") == POLL_SCHEDULE:
                self._track_poll(record)
            if run.status.value == "FAILURE" and run.run_id not in self.errors:
                self.errors[run.run_id] = self._first_error(run.run_id)
        statuses = self.statuses()
        self.queue.append((time.time(), statuses["QUEUED"] + statuses["NOT_STARTED"]))
        return statuses

    def statuses(self) -> Counter[str]:
        """Runs per status (the run's latest status)."""
        return Counter(r.dagster_run.status.value for r in self.runs.values())

    def kinds(self) -> Counter[str]:
        """Runs per origin: the poll schedule, the lake sensor (`lake:poll`, `lake:days`), else the job."""
        return Counter(_origin(r.dagster_run) for r in self.runs.values())

    def last_landing(self) -> float | None:
        """Creation time of the newest lake run (`lake:poll`) that succeeded: every snapshot produced
        before it must be in the lake, marts and search; None when no such run was seen."""
        landed = [
            r.create_timestamp.timestamp()
            for r in self.runs.values()
            if r.dagster_run.tags.get(LAKE_RUN_TAG) == "poll" and r.dagster_run.status.value == "SUCCESS"
        ]
        return max(landed, default=None)

    def queue_figures(self, until: float) -> dict[str, Any]:
        """Queued runs over the samples up to `until`: max, at the end, and whether the queue grew.

        Growing: more than one run still queued at the end, and the mean depth of the second half
        of the samples above that of the first half.
        """
        depths = [q for t, q in self.queue if t <= until] or [0]
        first, second = depths[: len(depths) // 2] or [0], depths[len(depths) // 2 :]
        growing = depths[-1] > 1 and sum(second) / len(second) > sum(first) / len(first)
        return {"max": max(depths), "end": depths[-1], "growing": growing}

    def resolve_latencies(self, search: SearchWatcher) -> None:
        """Give each succeeded poll the moment its snapshot became searchable: the day's `samples`
        in Elasticsearch reached the live snapshots of this poll and every earlier one that day."""
        expected: dict[str, int] = {}
        for poll in sorted(self.polls.values(), key=lambda p: p.slot):
            if poll.live is None or poll.started is None:
                continue
            expected[poll.day] = expected.get(poll.day, 0) + poll.live
            if poll.searchable_at is None:
                poll.searchable_at = search.reached(poll.day, expected[poll.day], poll.started)

    def active(self) -> int:
        """Runs queued, starting, running or cancelling right now."""
        return sum(r.dagster_run.status.value in ACTIVE for r in self.runs.values())

    def _track_poll(self, record: Any) -> None:
        run = record.dagster_run
        slot = run.tags.get(POLL_SLOT_TAG) or record.create_timestamp.astimezone(UTC).isoformat()
        poll = self.polls.setdefault(slot, Poll(slot=slot, day=slot[:10]))
        if run.run_id not in poll.run_ids:
            poll.run_ids.append(run.run_id)
        if record.start_time is not None:
            poll.started = min(poll.started or record.start_time, record.start_time)
        poll.status = run.status.value
        if run.run_id in self.counted or run.status.value not in ("STARTED", "SUCCESS", "FAILURE"):
            return
        apps, live, at = self._snapshots(run.run_id)  # as soon as the run records them
        if apps is not None or run.status.value == "FAILURE":
            self.counted.add(run.run_id)
        # A slot's runs poll the same apps (event ids derive from app and slot): the most any produced.
        if apps is not None and (poll.apps is None or apps > poll.apps):
            poll.apps, poll.live, poll.produced_at = apps, live, at

    def _snapshots(self, run_id: str) -> tuple[int | None, int | None, float | None]:
        """(events to the player-count topic, of which live, when) from the run's materialisation,
        or from its step failure: a poll that failed midway (Steam down) still produced the snapshots
        it had collected, and says how many in the failure's metadata."""
        kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.STEP_FAILURE}
        for entry in self.instance.all_logs(run_id, of_type=kinds):
            metadata = _produced_metadata(entry.dagster_event)
            if metadata is None:
                continue
            meta: dict[str, Any] = {k: getattr(v, "value", v) for k, v in metadata.items()}
            per_topic = meta.get("events_per_topic") or {}
            apps = int(per_topic.get(sources.PLAYER_COUNTS.topic, meta.get("events_total", 0)))
            return apps, apps - int(meta.get("apps_not_live", 0)), entry.timestamp
        return None, None, None

    def _first_error(self, run_id: str) -> str:
        """The first step (else run) failure message of a failed run, on one line."""
        kinds = {dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        for entry in self.instance.all_logs(run_id, of_type=kinds):
            event = entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            text = error.message if error else (event.message if event else entry.user_message)
            if text:
                return " ".join(text.split())[:240]
        return "(no failure event)"

    def failures(self) -> list[dict[str, str]]:
        """Failed runs: run id, job, first error."""
        return [
            {"run_id": rid, "job": self.runs[rid].dagster_run.job_name, "error": self.errors[rid]}
            for rid in self.errors
            if rid in self.runs
        ]


def _origin(run: Any) -> str:
    lake = run.tags.get(LAKE_RUN_TAG)
    return f"lake:{lake}" if lake else run.tags.get("dagster/schedule_name", run.job_name)


def stack_roots(stack: LocalStack) -> dict[str, list[int]]:
    """Pid of each stack server process, by service name (install-only services have none)."""
    roots: dict[str, list[int]] = {}
    for svc in stack.services:
        pids = [pid for pid in (proc.pid() for proc in svc.processes()) if pid is not None]
        if pids:
            roots[svc.name] = pids
    return roots


def platform_clients(cleanup: contextlib.ExitStack, names: tuple[str, ...]) -> dict[str, Any]:
    """The local stack's resources `names` (e.g. s3, kafka, elasticsearch), resolved as a run
    resolves them (credentials are `EnvVar`s until a resource is built) and torn down by `cleanup`.
    The stack's environment must already be in `os.environ`."""
    wanted = {k: v for k, v in build_resources(Environment.LOCAL).items() if k in names}
    built = cleanup.enter_context(dg.build_resources(wanted))
    return {k: getattr(built, k) for k in wanted}


def _produced_metadata(event: Any) -> Mapping[str, Any] | None:
    """The delivery metadata of a `player_counts` materialisation or of a poll step's failure."""
    if event is None:
        return None
    if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        mat = event.step_materialization_data.materialization
        return mat.metadata if mat.asset_key == dg.AssetKey("player_counts") else None
    failure = event.step_failure_data.user_failure_data
    if failure is None or "events_total" not in failure.metadata:
        return None
    return failure.metadata
