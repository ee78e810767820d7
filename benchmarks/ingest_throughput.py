"""Ingest throughput: events/s into Kafka for a 1,000-app player-count poll against the simulator.

Starts its own local stack (one Kafka broker and the simulator service, temporary state), tracks
the first 1,000 apps of the simulator's catalogue, then measures in the same run:

- baseline: the same 1,000 envelopes produced by `KafkaResource.produce_all` alone (no Steam
  client, no Dagster) - the bus's ceiling for one batch;
- poll only: the Steam client's 1,000 HTTP calls (budget, retry wrapper, parsing), no Kafka;
- ingest: `player_counts` materialised through Dagster (HTTP poll of 1,000 apps via the Steam
  client, envelopes, validation, produce with delivery checks), at 1, 4 and 8 request threads.

Prints events/s per variant (median of `--repeat` runs) and the ratio to the baseline.

    .venv/bin/python benchmarks/ingest_throughput.py [--apps 1000] [--repeat 3]
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
import yaml

from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.topics import kafka_topics
from steam_platform.assets.ingest.common import fetch_each
from steam_platform.assets.ingest.definitions import player_counts
from steam_platform.core import sources
from steam_platform.core.partitions import hourly_partitions
from steam_platform.events.envelope import envelope
from steam_platform.resources.kafka import KafkaResource, OutgoingMessage
from steam_platform.resources.steam_api import SteamApiResource

BASELINE = "baseline: produce_all only"


class Bench:
    """One stack, one tracked set of apps, and the rates measured per variant."""

    def __init__(self, env: dict[str, str], root: Path, n_apps: int) -> None:
        self.env = env
        self.root = root
        self.kafka = KafkaResource(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"])
        self.partition = hourly_partitions.get_partition_key_for_timestamp(datetime.now(UTC).timestamp())
        self.rates: dict[str, list[float]] = {}
        self._runs = 0
        assert dg.materialize([kafka_topics], resources={"kafka": self.kafka}).success
        lister = self.steam(1)
        pages = lister.client().app_list(max_results=n_apps)
        self.apps = [a["appid"] for page in pages for a in page.apps][:n_apps]
        lister.close()
        assert len(self.apps) == n_apps, f"the simulator has only {len(self.apps)} apps"
        tracked = root / "tracked.yaml"
        tracked.write_text(yaml.safe_dump({"apps": self.apps, "players": []}))
        os.environ["STEAM_TRACKED_CONFIG"] = str(tracked)

    def steam(self, workers: int) -> SteamApiResource:
        """A client on the simulator with a fresh budget file (no run waits on another's lease)."""
        self._runs += 1
        return SteamApiResource(
            api_base_url=self.env["STEAM_API_BASE_URL"],
            store_base_url=self.env["STEAM_STORE_BASE_URL"],
            api_key=self.env["STEAM_API_KEY"],
            budget_state_dir=str(self.root / f"budget-{self._runs}"),
            max_concurrency=workers,
        )

    def record(self, variant: str, events: int, elapsed: float) -> None:
        self.rates.setdefault(variant, []).append(events / elapsed)

    def baseline(self) -> None:
        """Produce ready-made envelopes for every app: the Kafka side alone."""
        observed = datetime.now(UTC)
        messages = [
            OutgoingMessage(
                sources.PLAYER_COUNTS.topic,
                str(appid),
                envelope(
                    source="ISteamUserStats/GetNumberOfCurrentPlayers/v1",
                    natural_key=(appid, "bench"),
                    observed_at=observed,
                    partition_key=self.partition,
                    payload={"appid": appid, "player_count": 1000, "result": 1},
                ).to_json_bytes(),
            )
            for appid in self.apps
        ]
        started = time.perf_counter()
        assert self.kafka.produce_all(messages).acked_total == len(messages)
        self.record(BASELINE, len(messages), time.perf_counter() - started)

    def poll_only(self, workers: int) -> None:
        """The Steam client's calls for every app, nothing produced."""
        resource = self.steam(workers)
        client = resource.client()
        started = time.perf_counter()
        polled = list(fetch_each(self.apps, client.current_players, workers))
        elapsed = time.perf_counter() - started
        resource.close()
        assert len(polled) == len(self.apps)
        self.record(f"poll only: Steam client, {workers} threads, no Kafka", len(polled), elapsed)

    def ingest(self, workers: int) -> None:
        """The `player_counts` asset through Dagster: poll, envelopes, validation, produce."""
        started = time.perf_counter()
        result = dg.materialize(
            [player_counts],
            partition_key=self.partition,
            resources={"steam": self.steam(workers), "kafka": self.kafka},
        )
        elapsed = time.perf_counter() - started
        (materialization,) = result.asset_materializations_for_node("player_counts")
        events = int(materialization.metadata["events_total"].value)  # type: ignore[arg-type]
        assert result.success and events == len(self.apps), events
        self.record(f"ingest: player_counts, {workers} thread(s)", events, elapsed)


def main() -> int:
    parser = argparse.ArgumentParser(description="events/s into Kafka for a player-count poll")
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        root = Path(tmp)
        stack = LocalStack(root / "stack", brokers=1, only=["kafka", "simulator"], prefer_default_ports=False)
        try:
            bench = Bench(stack.up(), root, args.apps)
            bench.baseline()  # warm-up: metadata, connections, producer id
            bench.rates.clear()
            for _ in range(args.repeat):
                bench.baseline()
                bench.poll_only(4)
            for workers in (1, 4, 8):
                for _ in range(args.repeat):
                    bench.ingest(workers)
        finally:
            stack.down()

    baseline = statistics.median(bench.rates[BASELINE])
    print(f"\n{args.apps} apps, median of {args.repeat} runs, {os.cpu_count()} CPUs")
    print(f"{'variant':48} {'events/s':>10} {'vs baseline':>12}")
    for name, rates in bench.rates.items():
        rate = statistics.median(rates)
        print(f"{name:48} {rate:10.0f} {rate / baseline:11.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
