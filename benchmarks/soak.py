"""Soak benchmark: the platform running itself for M minutes, watched from outside, never touched.

Starts a fresh local stack (temporary state folder, free ports), a DAGSTER_HOME with
deploy/dagster.yaml, and the real `dagster dev` (webserver + daemon) with the stack's environment
and `STEAM_POLL_INTERVAL_MINUTES=<poll>`. From then on the schedule `player_counts_poll` polls and
the automation lands, refreshes and indexes each snapshot; this script only observes:

- poll -> searchable latency: from each poll run's start to the first Elasticsearch sample (every
  ~2 s) where the day's `mart_game_daily` docs sum to the `samples` that include that poll;
- runs by status, failures with their first error, the run queue over time (Dagster instance API);
- peak RSS per process kind and of everything together, CPU seconds (from /proc, every ~2 s);
- at the end, once nothing runs (bounded by --drain-minutes): snapshots polled (run metadata) =
  `fact_player_counts` rows (lake) = `samples` in `mart_game_daily` (Elasticsearch and lake).

    .venv/bin/python benchmarks/soak.py --minutes 30 --poll-minutes 2 [--no-spark-connect] [--json out.json]
    .venv/bin/python benchmarks/soak.py --minutes 12 --poll-minutes 10 --partitions-days 365 [--seed-history]

`--partitions-days 365 --seed-history` starts the platform on an instance that already holds a
year (every layer the automation builds materialised for each day: the daemon's and sensors' cost
with history);
the same command without `--seed-history` is its baseline (the same code location).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from soak_reconcile import reconcile
from soak_support import ProcessMeter, RunWatcher, SearchWatcher, percentile, platform_clients, stack_roots

from steam_devstack.health import free_port, http_ok
from steam_devstack.main_run import prepare_dagster_home
from steam_devstack.paths import REPO_ROOT
from steam_devstack.process import ManagedProcess, process_table, service_pids
from steam_devstack.stack import LocalStack
from steam_platform.core.partitions import PARTITIONS_START_ENV

TICK_S = 2.0
#: Idle this long after the window (no run queued or running) and the pipeline counts as drained
#: even if Elasticsearch never caught up: longer than a sensor interval (30 s) plus a dequeue (5 s).
IDLE_BEFORE_RECONCILE_S = 60
GIB = 2**30


@dataclass
class Platform:
    """The running stack and `dagster dev`: what the observers need to reach them."""

    stack: LocalStack
    env: dict[str, str]
    dagster_pid: int
    url: str


@contextlib.contextmanager
def running_platform(
    root: Path,
    poll_minutes: int,
    spark_connect: bool = True,
    partitions_days: int | None = None,
    seed_history: bool = False,
) -> Iterator[Platform]:
    """Stack + `dagster dev` under `root`; all of it stopped (by process group) and `root` removed after.

    `partitions_days`: the code location's first partition that many days back
    (`STEAM_PARTITIONS_START`); `seed_history`: its instance then holds a materialisation of every
    lake layer's and search asset's partitions of those days (`instance_history.py`), as after a year.

    Every clean-up step runs even if an earlier one fails; a second Ctrl-C does not cut it short
    (each of its waits is bounded).
    """
    stack = LocalStack(root / "stack", prefer_default_ports=False, spark_connect=spark_connect)
    dagster = ManagedProcess("dagster-dev", root / "dagster-dev.pid", root / "dagster-dev.log")
    with contextlib.ExitStack() as cleanup:  # callbacks run last-in first-out
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        cleanup.callback(stack.down)
        cleanup.callback(_stop_dagster, dagster)
        cleanup.callback(_ignore_interrupts)
        stack.up()
        env = {**stack.endpoints(), "DAGSTER_HOME": str(prepare_dagster_home(stack))}
        env |= {"STEAM_POLL_INTERVAL_MINUTES": str(poll_minutes), "STEAM_PLATFORM_ENV": "local"}
        if partitions_days is not None:
            first = datetime.now(UTC).date() - timedelta(days=partitions_days)
            env[PARTITIONS_START_ENV] = first.isoformat()
            if seed_history:
                _seed_instance(env, partitions_days)
        port = free_port()
        argv = [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml"]
        # ManagedProcess starts it in its own session (start_new_session=True): `dagster dev` in
        # the background ignores SIGTERM unless its whole group gets it, and stop() signals exactly
        # that group.
        pid = dagster.start([*argv, "-h", "127.0.0.1", "-p", str(port)], cwd=REPO_ROOT, env=env)
        url = f"http://127.0.0.1:{port}"
        _wait_until(lambda: http_ok(f"{url}/server_info"), dagster, timeout_s=300)
        yield Platform(stack, env, pid, url)


def _seed_instance(env: dict[str, str], days: int) -> None:
    """Give the platform's instance `days` days of materialised partitions (before it starts), in a
    process of its own: the code location's partitions start where its environment says, and this
    process imported them already."""
    script = Path(__file__).with_name("instance_history.py")
    subprocess.run(
        [sys.executable, str(script), "--days", str(days)],
        env={**os.environ, **env},
        check=True,
        timeout=1800,
    )


def _ignore_interrupts() -> None:
    """From here on clean-up runs to its end: a second Ctrl-C or SIGTERM would leave servers behind."""
    print("stopping dagster dev and the stack...", file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop_dagster(dagster: ManagedProcess) -> None:
    """SIGTERM the `dagster dev` group, SIGKILL after 30 s; then any of its processes that left the group."""
    table, pid = process_table(), dagster.pid()
    tree = {(p, table[p].start_ticks) for p in service_pids(pid, table)} if pid else set()
    dagster.stop(timeout=30)
    table = process_table()
    for pid, ticks in tree:
        if pid in table and table[pid].start_ticks == ticks and table[pid].alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _wait_until(ready: Callable[[], bool], proc: ManagedProcess, timeout_s: float) -> None:
    """Wait (bounded) until `ready()`; fail early, with the log's tail, when the process died."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if not proc.is_running() or time.monotonic() > deadline:
            tail = proc.log_file.read_text(errors="replace")[-3000:] if proc.log_file.exists() else ""
            raise RuntimeError(f"dagster dev did not come up ({proc.log_file}):\n{tail}")
        time.sleep(1)


def observe(runs: RunWatcher, search: SearchWatcher, meter: ProcessMeter, args: Any) -> float:
    """Watch for `args.minutes`, then drain until quiet (bounded); returns the window in seconds.

    Processes are sampled during the window only (CPU and RSS are per window); runs and
    Elasticsearch also while draining, so the last polls still get their latency.
    """
    window, start, idle_since = args.minutes * 60, time.monotonic(), None
    # rich rather than tqdm: its Progress renders our own fields (polls, runs, latency) in a column
    # beside the bar and prints event lines above it; it is installed already (typer needs it).
    columns = (BarColumn(bar_width=20), TimeElapsedColumn(), TextColumn("{task.fields[s]}"))
    with Progress(TextColumn("{task.description}"), *columns, refresh_per_second=2) as progress:
        task = progress.add_task("soak", total=window, s="starting")
        logged: set[str] = set()
        while True:
            elapsed = time.monotonic() - start
            if elapsed < window:
                meter.sample()
            search.sample()
            status = runs.refresh()
            runs.resolve_latencies(search)
            _log_events(progress, runs, logged)
            progress.update(task, completed=min(elapsed, window), s=_status_line(runs, status))
            if elapsed >= window:
                progress.update(task, description="drain")
                idle_since = (idle_since or time.monotonic()) if runs.active() == 0 else None
                caught_up = all(p.latency is not None for p in runs.polls.values() if p.live)
                if idle_since and (caught_up or time.monotonic() - idle_since >= IDLE_BEFORE_RECONCILE_S):
                    break
                if elapsed >= window + args.drain_minutes * 60:
                    progress.console.print("drain timed out: reconciling with runs in flight")
                    break
            time.sleep(TICK_S - (time.monotonic() - start) % TICK_S)
    return window


def _status_line(runs: RunWatcher, status: Counter[str]) -> str:
    """Beside the bar: polls seen, runs by status, the latest poll's latency."""
    done = [p for p in sorted(runs.polls.values(), key=lambda p: p.slot) if p.latency is not None]
    last = f"{done[-1].latency:.0f}s" if done else "-"
    running = status["STARTED"] + status["STARTING"]
    return (
        f"polls {len(runs.polls)} | runs ok {status['SUCCESS']} failed {status['FAILURE']} "
        f"queued {status['QUEUED']} running {running} | last latency {last}"
    )


def _log_events(progress: Progress, runs: RunWatcher, logged: set[str]) -> None:
    """One line per searchable poll and per failed run, above the progress bar."""
    for poll in runs.polls.values():
        if poll.latency is not None and poll.slot not in logged:
            logged.add(poll.slot)
            progress.console.print(
                f"poll {poll.slot}: {poll.live} samples searchable after {poll.latency:.0f}s"
            )
    for failure in runs.failures():
        if failure["run_id"] not in logged:
            logged.add(failure["run_id"])
            progress.console.print(f"run {failure['run_id']} ({failure['job']}) FAILED: {failure['error']}")


def build_report(
    args: Any, runs: RunWatcher, search: SearchWatcher, meter: ProcessMeter, window: float
) -> dict:
    """Every figure of the soak, JSON-ready, with the issue's targets checked."""
    polls = sorted(runs.polls.values(), key=lambda p: p.slot)
    latencies = [p.latency for p in polls if p.latency is not None]
    cpu = meter.cpu_seconds()
    queue = runs.queue_figures(until=runs.queue[0][0] + window if runs.queue else 0)
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GIB
    report: dict[str, Any] = {
        "command": " ".join(["benchmarks/soak.py", *sys.argv[1:]]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {memory:.0f} GiB",
        "window_s": round(window),
        "poll_minutes": args.poll_minutes,
        "polls": len(polls),
        "polls_searchable": len(latencies),
        "latency_s": {
            k: _round(percentile(latencies, q)) for k, q in (("p50", 50), ("p95", 95), ("max", 100))
        },
        "per_poll": [p.summary() for p in polls],
        "runs_by_status": dict(sorted(runs.statuses().items())),
        "runs_by_kind": dict(sorted(runs.kinds().items())),
        "failures": runs.failures(),
        "queue": queue,
        "peak_rss_mb": {k: round(v / 2**20) for k, v in sorted(meter.peak_kind.items())},
        "peak_rss_total_mb": round(meter.peak_total / 2**20),
        "cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())},
        "cpu_s_per_hour": round(sum(cpu.values()) * 3600 / window),
        "avg_cores": round(sum(cpu.values()) / window, 3),
        "es_errors": dict(search.errors),
    }
    p50, p95 = report["latency_s"]["p50"], report["latency_s"]["p95"]
    report["targets"] = {
        "p50 < 90 s": p50 is not None and p50 < 90,
        "p95 < 180 s": p95 is not None and p95 < 180,
        "0 failed runs": not report["failures"],
        "no growing queue": not queue["growing"],
        f"avg cores < 1.0 (target for 10-min polls; here {args.poll_minutes}-min)": report["avg_cores"] < 1.0,
        "peak total RSS < 6 GiB": meter.peak_total < 6 * GIB,
    }
    return report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def markdown(r: dict[str, Any]) -> str:
    """The block to paste into benchmarks/RESULTS.md."""
    lat = r["latency_s"]
    # A lake table or partition that was never written shows as "absent", not None.
    rec = {k: "absent" if v is None else v for k, v in r["reconciliation"].items()}
    of = f"{r['polls_searchable']} of {r['polls']} polls"
    latency = f"p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s ({of})"
    fact = f"{rec['snapshots_polled']} = {rec['fact_rows']} ({rec['fact_distinct']} distinct): lost "
    fact += f"{rec['lost_in_fact']}, doubled {rec['doubled_in_fact']}"
    mart = f"{rec['live_snapshots_polled']} = {rec['fact_live']} = {rec['mart_samples_es']} (ES) / "
    mart += f"{rec['mart_samples']} (lake): lost {rec['lost_in_mart']}, doubled {rec['doubled_in_mart']}"
    flying = f"{rec['in_flight_polls']} polls, {rec['in_flight_snapshots']} snapshots"
    failed = "; ".join(f"`{f['run_id']}` {f['job']}: {f['error'][:160]}" for f in r["failures"])
    rows = [
        ("polls (`player_counts_poll`)", r["polls"]),
        ("poll -> searchable", latency if r["polls_searchable"] else f"no poll reached Elasticsearch ({of})"),
        ("Elasticsearch queries failed", "; ".join(f"{n}x {e}" for e, n in r["es_errors"].items()) or "none"),
        ("runs by status", ", ".join(f"{k} {v}" for k, v in r["runs_by_status"].items()) or "no runs"),
        ("runs by kind", ", ".join(f"{k} {v}" for k, v in r["runs_by_kind"].items()) or "no runs"),
        ("failed runs", failed or "none"),
        ("queued runs: max / at end / growing", "{max} / {end} / {growing}".format(**r["queue"])),
        ("peak RSS per kind (MB)", ", ".join(f"{k} {v}" for k, v in r["peak_rss_mb"].items())),
        ("peak RSS, all together", f"{r['peak_rss_total_mb']} MB"),
        ("CPU", f"{r['cpu_s_per_hour']} CPU s/hour = {r['avg_cores']} cores on average"),
        ("in flight at the end (after the last lake run began)", flying),
        ("snapshots polled = fact rows", fact),
        ("live snapshots = fact live rows = mart samples", mart),
        ("Kafka lag at end (player counts)", rec["kafka_lag"]),
    ]
    rows += [(f"target: {name}", "met" if ok else "**not met**") for name, ok in r["targets"].items()]
    when = f"{r['date']}, {r['machine']}; {r['window_s'] / 60:.0f} min, polls every {r['poll_minutes']} min."
    head = [f"### Soak (`{r['command']}`)", "", when, "", "| what | figure |", "|---|---|"]
    return "\n".join(head + [f"| {k} | {v} |" for k, v in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30, help="how long to watch (%(default)s)")
    parser.add_argument("--poll-minutes", type=int, default=2, help="poll interval, divides 60 (%(default)s)")
    parser.add_argument(
        "--drain-minutes", type=float, default=5, help="longest wait after the window (%(default)s)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--spark-connect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the stack's Spark Connect server, which the runs attach to; --no-spark-connect: every "
        "run step starts its own driver (%(default)s)",
    )
    parser.add_argument(
        "--partitions-days",
        type=int,
        help="the code location's first daily partition this many days back (STEAM_PARTITIONS_START)",
    )
    parser.add_argument(
        "--seed-history",
        action="store_true",
        help="start on an instance holding every daily asset materialised for each of those days "
        "(the daemon's cost with a year of history: compare with the same --partitions-days unseeded)",
    )
    args = parser.parse_args()
    if args.poll_minutes < 1 or 60 % args.poll_minutes:
        parser.error("--poll-minutes must divide 60")
    if args.seed_history and not args.partitions_days:
        parser.error("--seed-history needs --partitions-days")
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    # Ctrl-C and SIGTERM both raise KeyboardInterrupt, so clean-up runs; SIGINT explicitly too,
    # because a shell starting us in the background (`&`) sets it to "ignored".
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)

    root = Path(tempfile.mkdtemp(prefix="soak-"))
    root.chmod(0o711)  # the servers run as the service user and must reach their data
    platform_up = running_platform(
        root, args.poll_minutes, args.spark_connect, args.partitions_days, args.seed_history
    )
    with platform_up as platform, contextlib.ExitStack() as cleanup:
        os.environ.update(platform.env)  # the instance's Postgres settings, for DagsterInstance.get()
        # The platform's clients, pointed at the stack (the lake's S3, Kafka for the lag, search).
        resources = platform_clients(cleanup, ("s3", "kafka", "elasticsearch"))
        es = resources["elasticsearch"].client()  # accepts the stack's OSS Elasticsearch build
        instance = dg.DagsterInstance.get()
        try:
            since = datetime.now(UTC) - timedelta(minutes=5)  # includes runs started while the UI came up
            runs = RunWatcher(instance, since)
            search = SearchWatcher(es, since_day=(since - timedelta(days=1)).date().isoformat())
            meter = ProcessMeter(platform.dagster_pid, stack_roots(platform.stack))
            print(f"dagster dev at {platform.url}, state {root}; watching {args.minutes:g} min", flush=True)
            window = observe(runs, search, meter, args)
            report = build_report(args, runs, search, meter, window)
            report["reconciliation"] = reconcile(resources, runs, search)
        finally:
            instance.dispose()
            es.close()
    print("\n" + markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything was stopped and removed on the way out
        sys.exit("interrupted: no report")
