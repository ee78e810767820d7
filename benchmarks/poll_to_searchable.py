"""Poll-to-searchable latency: one player-count snapshot from the Steam poll to Elasticsearch.

Starts its own local stack (Kafka, S3, Elasticsearch, the Steam simulator; temporary state, free
ports) and materialises, for the hour/day in progress, the real assets of the chain one after the
other, timing each hop:

    player_counts (poll -> Kafka) -> bronze_player_counts (Spark availableNow -> S3)
    -> fact_player_counts (silver) -> mart_game_daily (gold) -> search_game_daily (Elasticsearch)

Baseline in the same run: the search hop alone (indexing the mart partition that is already in the
lake), i.e. what the search layer adds. Under the daemon the hops after the poll run as one lake
run started by `lake_refresh_sensor` (5 s ticks); the run launch, queue and tick are not included
here: `benchmarks/soak.py` measures the whole path on the running platform.

    .venv/bin/python benchmarks/poll_to_searchable.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from steam_devstack.stack import LocalStack
from steam_platform.core.partitions import daily_partitions, hourly_partitions
from steam_platform.core.settings import Environment

CHAIN = (
    "player_counts",
    "bronze_player_counts",
    "fact_player_counts",
    "mart_game_daily",
    "search_game_daily",
)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1, help="snapshots to push through, one after another")
    args = parser.parse_args()
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)

    root = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    root.chmod(0o711)
    stack = LocalStack(root / "stack", brokers=1, only=["kafka", "s3", "elasticsearch", "simulator"],
                       prefer_default_ports=False)  # fmt: skip
    try:
        os.environ.update(stack.up())
        from steam_platform.definitions import defs
        from steam_platform.resources.wiring import build_resources

        resources = build_resources(Environment.LOCAL)
        es = resources["elasticsearch"].client()
        now = datetime.now(UTC).timestamp()
        hour = hourly_partitions.get_partition_key_for_timestamp(now)
        day = daily_partitions.get_partition_key_for_timestamp(now)
        partition_of = {"kafka_topics": None, "player_counts": hour, "bronze_player_counts": None}
        with dg.DagsterInstance.ephemeral() as instance:

            def run(key: str) -> float:
                started = time.perf_counter()
                result = dg.materialize(
                    [defs.get_assets_def(key)],
                    partition_key=partition_of.get(key, day),
                    resources=resources,
                    instance=instance,
                )
                assert result.success, key
                return time.perf_counter() - started

            run("kafka_topics")
            hops: dict[str, list[float]] = {key: [] for key in CHAIN}
            search_alone: list[float] = []
            for _ in range(args.repeat):
                for key in CHAIN:
                    hops[key].append(run(key))
                search_alone.append(run("search_game_daily"))
            docs = es.count("mart_game_daily", {"term": {"dt": day}})

        total = sum(statistics.median(v) for v in hops.values())
        base = statistics.median(search_alone)
        print(f"one snapshot of {docs} apps, hour {hour}, median of {args.repeat} (seconds)")
        for key, values in hops.items():
            print(f"  {key:<24} {statistics.median(values):7.1f}")
        print(f"  {'poll -> searchable':<24} {total:7.1f}")
        print(f"baseline: search hop alone {base:.2f}s; the whole chain takes {total / base:.0f}x that")
        assert docs > 0, "nothing searchable for the day"
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
