"""Chaos benchmark: the running platform, touched by nothing but scheduled faults (issue #16, item 8).

Starts, in a temporary state folder on free ports: the local stack with three Kafka brokers, the
monitoring service (the platform's exporter, Prometheus with `deploy/monitoring/alerts.yml`,
Alertmanager posting to a Slack-compatible webhook this script serves), and `steam-platform dev`
(supervised code server, webserver, daemon) with polls every `--poll-minutes`, kept running the
way a service manager would (started again 5 s after it exits). Once the first poll has landed
(the warm-up), the fault clock starts and `chaos_schedule.plan(--minutes)` runs every fault once,
one after the other: a broker SIGKILLed (restarted after its outage), a lake run's worker SIGKILLed
with its Spark driver, Elasticsearch stopped, Steam answering 503 then 429 with Retry-After, the
S3 server stopped, the code server's gRPC process SIGKILLed, the daemon SIGKILLed, Postgres
restarted. Outages are 1/5/5/15 minutes in a 60-minute window and scale with `--minutes / 60`
(at least 45 s each; see `chaos_schedule.py`).

After the window the script waits (bounded by `--drain-minutes` after the last fault was lifted)
until every fault has recovered, every alert that fired has resolved and no run created before
the last fault was lifted is still in flight, then reconciles: snapshots polled (run
metadata) against `fact_player_counts` rows and `mart_game_daily` samples in the lake and in
Elasticsearch (as `soak.py`), missed poll slots against `mart_player_count_gaps`, and lists the
runs still in flight. Per fault the JSON holds its kind, start, end, seconds to recovery (defined
in `chaos_report.py`) and the alerts it raised, with whether they resolved. The exit status is 1
when a figure of the issue is missed.

    .venv/bin/python benchmarks/chaos.py --minutes 60 --json chaos.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from chaos_faults import FaultInjector
from chaos_lake import observed_slots, recorded_gaps
from chaos_platform import CHAOS_TIMINGS, Platform, running_platform
from chaos_report import (
    FaultRecord,
    RunView,
    fault_entries,
    gaps_figures,
    in_flight_runs,
    missed_polls,
    recovered_at,
    targets,
    unresolved_alerts,
)
from chaos_schedule import PlannedFault, plan, scale
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from soak_reconcile import reconcile
from soak_support import ACTIVE, RunWatcher, SearchWatcher, platform_clients

from steam_platform.assets.lake.refresh_events import LAKE_RUN_TAG

TICK_S = 3.0
#: The platform's resources the reconciliation reads (S3 for the lake, Kafka for the lag, search).
RECONCILE_RESOURCES = ("s3", "kafka", "elasticsearch")


class Chaos:
    """The benchmark's state while it runs: the plan, what happened, and the watchers."""

    def __init__(self, platform: Platform, args: Any, planned: list[PlannedFault]) -> None:
        self.platform, self.args, self.planned = platform, args, planned
        self.records = [FaultRecord(p.kind.value, p.at_s, p.outage_s) for p in planned]
        self.window_start: float | None = None
        self.faults_done = threading.Event()
        self.lines: list[str] = []
        self.lock = threading.Lock()

    def last_lift(self) -> float | None:
        """When the last fault was lifted (or started, for one that failed to lift)."""
        return max((r.lifted or r.started or 0.0 for r in self.records), default=None) or None

    def log(self, line: str) -> None:
        stamped = f"{datetime.now(UTC):%H:%M:%S} {line}"
        with self.lock:
            self.lines.append(stamped)

    def run_faults(self, injector: FaultInjector) -> None:
        """The fault thread: each planned fault at its time, one after the other."""
        try:
            assert self.window_start is not None
            for planned, record in zip(self.planned, self.records, strict=True):
                delay = self.window_start + planned.at_s - time.time()
                if delay > 0:
                    time.sleep(delay)
                self.log(f"fault {planned.kind} starts (outage {planned.outage_s:.0f} s)")
                injector.run(planned, record)
        finally:
            self.faults_done.set()


def run_views(runs: RunWatcher) -> list[RunView]:
    """The watched runs as the report sees them."""
    views = []
    for record in runs.runs.values():
        run = record.dagster_run
        lake = run.tags.get(LAKE_RUN_TAG)
        origin = f"lake:{lake}" if lake else run.tags.get("dagster/schedule_name", run.job_name)
        views.append(
            RunView(
                run.run_id, origin, run.status.value, record.create_timestamp.timestamp(), record.end_time
            )
        )
    return views


def observe(chaos: Chaos, runs: RunWatcher, search: SearchWatcher) -> float:
    """Warm up, run the faults, drain; returns when the benchmark ended (epoch seconds)."""
    args = chaos.args
    injector = FaultInjector(chaos.platform, dg.DagsterInstance.get(), chaos.log)
    window = args.minutes * 60
    columns = (BarColumn(bar_width=20), TimeElapsedColumn(), TextColumn("{task.fields[s]}"))
    fault_thread: threading.Thread | None = None
    shown = 0
    warmup_deadline = time.time() + args.warmup_minutes * 60
    with Progress(TextColumn("{task.description}"), *columns, refresh_per_second=2) as progress:
        task = progress.add_task("warm-up", total=window, s="waiting for the first poll to land")
        while True:
            now = time.time()
            try:
                runs.refresh()
            except Exception as exc:  # Postgres restarting: read again next tick
                chaos.log(f"runs unreadable: {type(exc).__name__}")
            search.sample()
            views = run_views(runs)
            with chaos.lock:
                for line in chaos.lines[shown:]:
                    progress.console.print(line)
                shown = len(chaos.lines)
            if chaos.window_start is None:
                if runs.last_landing() is not None or now > warmup_deadline:
                    chaos.window_start = now
                    chaos.log(
                        "warm-up done: fault clock starts"
                        + ("" if runs.last_landing() else " (no landing yet)")
                    )
                    fault_thread = threading.Thread(target=chaos.run_faults, args=(injector,), daemon=True)
                    fault_thread.start()
                    progress.update(task, description="chaos")
            else:
                elapsed = now - chaos.window_start
                progress.update(task, completed=min(elapsed, window), s=_status(chaos, views))
                if elapsed >= window and chaos.faults_done.is_set():
                    progress.update(task, description="drain")
                    lifted = chaos.last_lift() or now
                    settled = all(
                        recovered_at(r, views) is not None for r in chaos.records if r.error is None
                    )
                    firing = unresolved_alerts(chaos.platform.alert_messages())
                    if settled and not firing and not in_flight_runs(views, created_before=lifted):
                        break
                    if now > lifted + args.drain_minutes * 60:
                        chaos.log("drain timed out")
                        break
            time.sleep(TICK_S)
    if fault_thread is not None:
        fault_thread.join(5)
    with chaos.lock:
        for line in chaos.lines[shown:]:
            print(line, flush=True)
    return time.time()


def _status(chaos: Chaos, views: list[RunView]) -> str:
    done = sum(r.started is not None for r in chaos.records)
    statuses = [v.status for v in views]
    alerts = chaos.platform.alert_messages()
    firing = unresolved_alerts(alerts)
    return (
        f"faults {done}/{len(chaos.records)} | runs ok {statuses.count('SUCCESS')} "
        f"failed {statuses.count('FAILURE')} active {sum(s in ACTIVE for s in statuses)} | "
        f"alert messages {len(alerts)}, firing: {', '.join(firing) or 'none'}"
    )


def lake_reconciliation(resources: dict[str, Any], runs: RunWatcher, search: SearchWatcher) -> dict[str, Any]:
    """`soak_reconcile.reconcile` plus the lake's mart samples judged like Elasticsearch's."""
    rec = reconcile(resources, runs, search)
    polls = [p for p in runs.polls.values() if p.apps is not None]
    live = sum(p.live or 0 for p in polls)
    landing = runs.last_landing()
    flying = [p for p in polls if landing is not None and (p.produced_at or 0) > landing]
    due_live = live - sum(p.live or 0 for p in flying)
    lake_mart = rec.get("mart_samples")
    rec["lost_in_mart_lake"] = None if lake_mart is None else max(0, due_live - lake_mart)
    rec["doubled_in_mart_lake"] = None if lake_mart is None else max(0, lake_mart - live)
    return rec


def gap_report(
    resources: dict[str, Any], runs: RunWatcher, days: list[str], first: float, step_s: int
) -> dict[str, Any]:
    """Poll slots with no snapshot between the fault clock's start and the start of the last lake
    run that succeeded (the slots its gaps mart judged), against the slots the mart recorded."""
    s3 = resources["s3"]
    fs, lake = s3.filesystem(), s3.lake_path()
    starts = [
        r.start_time
        for r in runs.runs.values()
        if r.dagster_run.tags.get(LAKE_RUN_TAG) == "poll"
        and r.dagster_run.status.value == "SUCCESS"
        and r.start_time
    ]
    cutoff = max(starts, default=first)
    missed = missed_polls(observed_slots(fs, lake, days, step_s), first, cutoff, step_s)
    gaps = recorded_gaps(fs, lake, days)
    figures = gaps_figures(missed, gaps["slots"], gaps["rows"] if gaps["present"] else None)
    figures["judged_until"] = datetime.fromtimestamp(cutoff, UTC).isoformat(timespec="seconds")
    figures["gaps_mart_present"] = gaps["present"]
    return figures


def build_report(
    chaos: Chaos, runs: RunWatcher, search: SearchWatcher, end: float, resources: dict[str, Any]
) -> dict[str, Any]:
    """Every figure, JSON-ready, with the issue's targets."""
    args, views = chaos.args, run_views(runs)
    messages = chaos.platform.alert_messages()
    entries = fault_entries(chaos.records, views, messages, end)
    rec = lake_reconciliation(resources, runs, search)
    assert chaos.window_start is not None
    gaps = gap_report(resources, runs, rec["days"], chaos.window_start, args.poll_minutes * 60)
    flying = in_flight_runs(views)
    left = in_flight_runs(views, created_before=chaos.last_lift())
    statuses: dict[str, int] = {}
    for v in views:
        statuses[v.status] = statuses.get(v.status, 0) + 1
    report: dict[str, Any] = {
        "command": " ".join(["benchmarks/chaos.py", *sys.argv[1:]]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores",
        "window_minutes": args.minutes,
        "outage_scale": scale(args.minutes),
        "poll_minutes": args.poll_minutes,
        "alert_timings": {k: v for k, v in vars(CHAOS_TIMINGS).items()},
        "fault_clock_start": datetime.fromtimestamp(chaos.window_start, UTC).isoformat(timespec="seconds"),
        "end": datetime.fromtimestamp(end, UTC).isoformat(timespec="seconds"),
        "faults": entries,
        "dev_restarts": len(chaos.platform.dev.restarts),
        "totals": {
            "snapshots_polled": rec["snapshots_polled"],
            "fact_rows": rec["fact_rows"],
            "mart_samples_lake": rec["mart_samples"],
            "mart_samples_es": rec["mart_samples_es"],
            "lost": {k: rec.get(k) for k in ("lost_in_fact", "lost_in_mart", "lost_in_mart_lake")},
            "doubled": {
                k: rec.get(k) for k in ("doubled_in_fact", "doubled_in_mart", "doubled_in_mart_lake")
            },
            "gaps": gaps,
            "runs_in_flight_at_end": flying,
            "runs_left_in_flight": left,
            "runs_by_status": dict(sorted(statuses.items())),
        },
        "reconciliation": rec,
        "failures": runs.failures(),
        "alert_messages": [
            {
                "at": datetime.fromtimestamp(m.received, UTC).isoformat(timespec="seconds"),
                "status": m.status,
                "alert": m.alertname,
            }
            for m in messages
        ],
        "es_errors": dict(search.errors),
        "log": chaos.lines,
    }
    report["targets"] = targets(entries, [p.kind.value for p in chaos.planned], rec, gaps, left)
    return report


def markdown(r: dict[str, Any]) -> str:
    """The block to paste into benchmarks/RESULTS.md."""
    t = r["totals"]
    head = [
        f"### Chaos (`{r['command']}`)",
        "",
        f"{r['date']}, {r['machine']}; window {r['window_minutes']:g} min "
        f"(outages x{r['outage_scale']:.2f}), "
        f"polls every {r['poll_minutes']} min, fault clock {r['fault_clock_start']} to {r['end']}.",
        "",
        "| fault | start | outage s | recovery s | alerts (resolved?) |",
        "|---|---|---:|---:|---|",
    ]
    for f in r["faults"]:
        alerts = (
            ", ".join(f"{a['alert']} ({'yes' if a['resolved'] else 'no'})" for a in f["alerts"]) or "none"
        )
        if f["error"]:
            alerts += f"; error: {f['error'][:120]}"
        head.append(f"| {f['kind']} | {f['start']} | {f['outage_s']} | {f['recovery_s']} | {alerts} |")
    gaps = t["gaps"]
    rows = [
        ("snapshots polled / fact rows", f"{t['snapshots_polled']} / {t['fact_rows']}"),
        ("mart samples lake / Elasticsearch", f"{t['mart_samples_lake']} / {t['mart_samples_es']}"),
        ("lost", ", ".join(f"{k} {v}" for k, v in t["lost"].items())),
        ("doubled", ", ".join(f"{k} {v}" for k, v in t["doubled"].items())),
        (
            "missed polls / recorded as gaps",
            f"{gaps['missed_polls']} / not recorded: {gaps['missed_not_recorded'] or 'none'} "
            f"(gap rows {gaps['gap_rows']}, slots {gaps['gap_slots_recorded']})",
        ),
        ("runs by status", ", ".join(f"{k} {v}" for k, v in t["runs_by_status"].items())),
        ("runs left in flight (created before the last lift)", len(t["runs_left_in_flight"])),
        ("runs in flight at the end (all)", len(t["runs_in_flight_at_end"])),
        ("steam-platform dev restarts", r["dev_restarts"]),
    ]
    rows += [(f"target: {name}", "met" if ok else "**not met**") for name, ok in r["targets"].items()]
    return "\n".join(head + ["", "| what | figure |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60, help="fault window (%(default)s)")
    parser.add_argument("--poll-minutes", type=int, default=2, help="poll interval, divides 60 (%(default)s)")
    parser.add_argument("--warmup-minutes", type=float, default=10, help="longest wait for the first landing")
    parser.add_argument(
        "--drain-minutes", type=float, default=20, help="longest wait after the last fault (%(default)s)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep-state", action="store_true", help="keep the state folder (logs) after")
    args = parser.parse_args()
    if args.poll_minutes < 1 or 60 % args.poll_minutes:
        parser.error("--poll-minutes must divide 60")
    try:
        planned = plan(args.minutes)
    except ValueError as exc:
        parser.error(str(exc))
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)

    root = Path(tempfile.mkdtemp(prefix="chaos-"))
    root.chmod(0o711)  # the servers run as the service user and must reach their data
    with (
        contextlib.ExitStack() as cleanup,
        running_platform(root, args.poll_minutes, args.keep_state) as platform,
    ):
        os.environ.update(platform.env)  # the instance's Postgres settings, for DagsterInstance.get()
        resources = platform_clients(cleanup, RECONCILE_RESOURCES)
        es = resources["elasticsearch"].client()
        instance = dg.DagsterInstance.get()
        try:
            since = datetime.now(UTC) - timedelta(minutes=5)
            runs = RunWatcher(instance, since)
            search = SearchWatcher(es, since_day=(since - timedelta(days=1)).date().isoformat())
            chaos = Chaos(platform, args, planned)
            print(f"steam-platform dev at {platform.dev.url}, state {root}", flush=True)
            for p in planned:
                print(f"  +{p.at_s / 60:5.1f} min  {p.kind:<20} outage {p.outage_s:.0f} s", flush=True)
            end = observe(chaos, runs, search)
            runs.refresh()
            report = build_report(chaos, runs, search, end, resources)
        finally:
            instance.dispose()
            es.close()
    print("\n" + markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    missed = [name for name, ok in report["targets"].items() if not ok]
    if missed:
        print("missed: " + "; ".join(missed), file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything was stopped and removed on the way out
        sys.exit("interrupted: no report")
