"""Per-poll cost as history grows: a 100-app poll -> searchable cycle on a lake holding a year of
history, against the same cycle on an empty lake, measured in the same run (issue #17).

Two stacks run side by side:

- **history**: a stack whose lake, warehouse, marts and search already hold a long history, built
  beforehand by `steam-platform history --days 365 --apps 1000 --build-layers --state-dir DIR`
  (docs/history.md). It is started (if down) from its state folder, `--history-state DIR`.
- **empty** (the baseline): a fresh stack in a temporary folder (Kafka, S3 server, Elasticsearch,
  the simulator), removed at the end.

A cycle is what the platform does for one poll under the daemon: the `player_counts` ingest for the
hour in progress (the tracked apps through the simulator into Kafka), then the lake run
`lake_refresh_sensor` requests for it (`lake_refresh_job` for today: `bronze_player_counts`, the
player-count fact, every daily mart and search asset downstream of it, with their blocking checks).

Each variant runs in its own process (its own Spark driver, so peak memory is per variant), which
materialises the topics, does one warm-up cycle (the JVM's start, and the empty lake's first
landing) and then `--cycles` timed cycles. The variants take turns for `--rounds` rounds (the order
flips every round) so that the machine's load falls on both alike. Reported: the median cycle per
variant, the ratio history / empty (the issue's target: at most 1.3x), the median of every asset's
step, and the Spark driver JVM's peak RSS per variant (target: within 10 %).

    .venv/bin/python benchmarks/poll_on_history.py --history-state /tmp/yearlake/stack \
        --partitions-start 2025-12-04 [--cycles 5] [--rounds 2] [--json poll-on-history.json]

Both variants' processes get the same `STEAM_PARTITIONS_START` (the history's first day), so both
load the same code location.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

EMPTY_SERVICES = ["kafka", "s3", "spark", "elasticsearch", "simulator"]
VARIANTS = ("history", "empty")


@dataclass
class Cycle:
    """One timed poll -> searchable cycle: the poll run, the lake run and the lake run's steps."""

    poll_s: float
    lake_s: float
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def total_s(self) -> float:
        return self.poll_s + self.lake_s


@dataclass
class WorkerResult:
    """What one variant's process measured."""

    variant: str
    cycles: list[Cycle]
    warmup_s: float
    jvm_peak_rss_mib: float
    python_peak_rss_mib: float
    lake_days: int


def jvm_children_peak_mib() -> float:
    """Peak resident memory (VmHWM) of this process's Java children: the Spark driver's JVM."""
    import psutil

    from steam_devstack.process import peak_rss_mib

    peaks = [
        peak_rss_mib(child.pid)
        for child in psutil.Process().children(recursive=True)
        if "java" in child.name()
    ]
    return max(peaks, default=0.0)


def _step_seconds(instance: object, run_id: str) -> dict[str, float]:
    stats = instance.get_run_step_stats(run_id)  # type: ignore[attr-defined]
    return {s.step_key: round(s.end_time - s.start_time, 2) for s in stats if s.end_time and s.start_time}


def worker(variant: str, cycles: int, out: Path) -> None:
    """Run in the variant's process: topics, one warm-up cycle, then `cycles` timed cycles."""
    import dagster as dg

    from steam_platform.assets.lake.refresh_events import BRONZE_OF_TOPIC, SILVER_OF_TOPIC
    from steam_platform.assets.lake.refresh_sensor import downstream_daily
    from steam_platform.core import sources
    from steam_platform.core.partitions import daily_partitions, hourly_partitions
    from steam_platform.definitions import defs

    logging.getLogger("elastic_transport").setLevel(logging.ERROR)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    topic = sources.PLAYER_COUNTS.topic
    graph = defs.resolve_asset_graph()
    lake_keys = [dg.AssetKey(BRONZE_OF_TOPIC[topic]), *downstream_daily(graph, SILVER_OF_TOPIC[topic])]
    lake_job = defs.resolve_job_def("lake_refresh_job")
    poll_job = defs.resolve_implicit_job_def_def_for_assets([dg.AssetKey("player_counts")])
    topics_job = defs.resolve_implicit_job_def_def_for_assets([dg.AssetKey("kafka_topics")])
    assert poll_job is not None and topics_job is not None

    def cycle(instance: dg.DagsterInstance) -> Cycle:
        now = datetime.now(UTC).timestamp()
        hour = hourly_partitions.get_partition_key_for_timestamp(now)
        day = daily_partitions.get_partition_key_for_timestamp(now)
        started = time.perf_counter()
        polled = poll_job.execute_in_process(
            instance=instance, partition_key=hour, asset_selection=[dg.AssetKey("player_counts")],
            run_config=quiet,
        )  # fmt: skip
        assert polled.success, "the poll failed"
        poll_s = time.perf_counter() - started
        started = time.perf_counter()
        landed = lake_job.execute_in_process(
            instance=instance, partition_key=day, asset_selection=lake_keys, run_config=quiet
        )
        assert landed.success, "the lake run failed"
        lake_s = time.perf_counter() - started
        return Cycle(round(poll_s, 2), round(lake_s, 2), _step_seconds(instance, landed.run_id))

    with dg.DagsterInstance.ephemeral() as instance:
        made = topics_job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("kafka_topics")], run_config=quiet
        )
        assert made.success, "creating the topics failed"
        warm = cycle(instance)
        timed = [cycle(instance) for _ in range(cycles)]
    result = WorkerResult(
        variant=variant,
        cycles=timed,
        warmup_s=round(warm.total_s, 2),
        jvm_peak_rss_mib=round(jvm_children_peak_mib(), 1),
        python_peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        lake_days=_lake_days(),
    )
    out.write_text(json.dumps(asdict(result)))


def _lake_days() -> int:
    """Days of player-count history in the variant's bronze (what 'a year of history' means)."""
    from steam_platform.core import sources
    from steam_platform.core.settings import Environment
    from steam_platform.resources.wiring import build_resources

    s3 = build_resources(Environment.LOCAL)["s3"].process_config_and_initialize()  # EnvVars resolved
    client = s3.client()
    prefix = f"{s3.lake_path().split('/', 1)[1]}/bronze/{sources.PLAYER_COUNTS.topic}/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix, Delimiter="/")
    return sum(1 for page in pages for p in page.get("CommonPrefixes", []) if "/dt=" in p["Prefix"])


def _run_variant(
    variant: str, state_dir: Path, cycles: int, partitions_start: str, scratch: Path
) -> WorkerResult:
    out = scratch / f"{variant}-{time.monotonic_ns()}.json"
    env = {**os.environ, "STEAM_STACK_DIR": str(state_dir), "STEAM_PARTITIONS_START": partitions_start}
    cmd = [sys.executable, __file__, "--worker", variant, "--cycles", str(cycles), "--out", str(out)]
    subprocess.run(cmd, env=env, check=True, timeout=3600)
    raw = json.loads(out.read_text())
    raw["cycles"] = [Cycle(**c) for c in raw["cycles"]]
    return WorkerResult(**raw)


def _median_steps(cycles: list[Cycle]) -> dict[str, float]:
    keys = sorted({k for c in cycles for k in c.steps})
    return {k: round(statistics.median(c.steps.get(k, 0.0) for c in cycles), 2) for k in keys}


def report(results: list[WorkerResult]) -> dict[str, object]:
    """Medians per variant, the ratios and the per-step medians, as printed and as `--json` writes."""
    summary: dict[str, object] = {}
    for variant in VARIANTS:
        runs = [r for r in results if r.variant == variant]
        cycles = [c for r in runs for c in r.cycles]
        summary[variant] = {
            "cycles": len(cycles),
            "lake_days": max(r.lake_days for r in runs),
            "cycle_median_s": round(statistics.median(c.total_s for c in cycles), 2),
            "poll_median_s": round(statistics.median(c.poll_s for c in cycles), 2),
            "lake_run_median_s": round(statistics.median(c.lake_s for c in cycles), 2),
            "jvm_peak_rss_mib": max(r.jvm_peak_rss_mib for r in runs),
            "python_peak_rss_mib": max(r.python_peak_rss_mib for r in runs),
            "warmup_s": [r.warmup_s for r in runs],
            "steps_median_s": _median_steps(cycles),
        }
    hist, empty = summary["history"], summary["empty"]
    assert isinstance(hist, dict) and isinstance(empty, dict)
    summary["cycle_ratio"] = round(hist["cycle_median_s"] / empty["cycle_median_s"], 3)
    summary["jvm_peak_ratio"] = round(hist["jvm_peak_rss_mib"] / empty["jvm_peak_rss_mib"], 3)
    return summary


def _print(summary: dict[str, object]) -> None:
    hist, empty = summary["history"], summary["empty"]
    assert isinstance(hist, dict) and isinstance(empty, dict)
    print(f"{'':<44}{'history':>10}{'empty':>10}")
    print(f"{'bronze days of player counts':<44}{hist['lake_days']:>10}{empty['lake_days']:>10}")
    for label, key in (("cycle (poll + lake run), median s", "cycle_median_s"),
                       ("  poll, median s", "poll_median_s"),
                       ("  lake run, median s", "lake_run_median_s"),
                       ("Spark driver JVM peak RSS, MiB", "jvm_peak_rss_mib"),
                       ("Python process peak RSS, MiB", "python_peak_rss_mib")):  # fmt: skip
        print(f"{label:<44}{hist[key]:>10}{empty[key]:>10}")
    steps = sorted(set(hist["steps_median_s"]) | set(empty["steps_median_s"]))
    for step in steps:
        h, e = hist["steps_median_s"].get(step, 0.0), empty["steps_median_s"].get(step, 0.0)
        print(f"  step {step:<38}{h:>10}{e:>10}")
    print(f"cycle history / empty: {summary['cycle_ratio']}x (target <= 1.3x)")
    print(f"driver peak RSS history / empty: {summary['jvm_peak_ratio']}x (target <= 1.1x)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history-state", type=Path, help="state folder of the stack holding the history")
    parser.add_argument("--partitions-start", help="STEAM_PARTITIONS_START: the history's first day")
    parser.add_argument("--cycles", type=int, default=5, help="timed cycles per variant and round")
    parser.add_argument("--rounds", type=int, default=2, help="turns each variant takes")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.cycles, args.out)
        return 0
    if not args.history_state or not args.partitions_start:
        parser.error("--history-state and --partitions-start are required")

    from steam_devstack.stack import LocalStack

    scratch = Path(tempfile.mkdtemp(prefix="bench-poll-history-"))
    scratch.chmod(0o711)
    history = LocalStack(args.history_state.resolve())
    empty = LocalStack(scratch / "empty", brokers=1, only=EMPTY_SERVICES, prefer_default_ports=False)
    state = {"history": history.state_dir, "empty": empty.state_dir}
    started = time.monotonic()
    try:
        history.up()
        empty.up()
        results: list[WorkerResult] = []
        for n in range(args.rounds):
            order = VARIANTS if n % 2 == 0 else VARIANTS[::-1]
            for variant in order:
                print(f"[round {n + 1}/{args.rounds}] {variant} ...", flush=True)
                results.append(
                    _run_variant(variant, state[variant], args.cycles, args.partitions_start, scratch)
                )
        summary = report(results)
        summary["load_average_end"] = os.getloadavg()
        summary["wall_s"] = round(time.monotonic() - started, 1)
        _print(summary)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
    finally:
        empty.down()
        history.down()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
