"""Kafka load test: a broker dies mid-produce on a 3-node cluster, and nothing is lost.

Starts its own local stack (three KRaft nodes with the JMX exporter agent, temporary state, free
ports), creates two topics through `KafkaResource.ensure_topics` (6 partitions, RF 3, min ISR 2),
then in the same run:

- baseline: `--messages` player-count envelopes keyed by appid, produced through
  `KafkaResource.produce_all` in batches of `--batch` (acks=all, idempotent), all brokers up;
- failover: the same number into the second topic while the broker leading the most partitions
  is crashed (SIGKILL, no controlled shutdown) as batch `--kill-at-batch` starts.

Then reads both topics back in full and reports produced/acked/consumed counts, duplicates by
`event_id`, per-partition counts and bytes, leaders and bytes-in per broker (from the brokers' JMX
metrics), throughput of failover vs baseline (ratio), and - after restarting the dead broker and
waiting for the ISR to refill - the log size per broker, so the retrospective's "all data on one
broker, its disk filled" is visibly gone. Exit status 1 on any loss or duplicate.

    .venv/bin/python benchmarks/kafka_load_test.py [--messages 200000] [--batch 10000]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from steam_devstack.kafka_drill import (
    ProduceRun,
    crash_node_during,
    create_topic,
    durable_kafka,
    kafka_service,
    node_data_bytes,
    player_count_messages,
    produce_in_batches,
    restart_dead_nodes,
    three_node_stack,
    wait_for_full_isr,
    wait_until_dead,
)
from steam_platform.assets.bus.audit import TopicReadout, leaders_per_broker, read_topic, scrape

BASELINE, FAILOVER, WARMUP = "load.baseline", "load.failover", "load.warmup"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _report_run(name: str, run: ProduceRun, readout: TopicReadout) -> None:
    loss = run.sent - readout.unique
    print(
        _row(
            name, run.sent, run.acked, readout.records, readout.unique, readout.duplicates, loss,
            f"{run.records_per_s:,.0f}", f"{run.mb_per_s:.1f}", f"{max(run.batch_seconds):.2f}",
        )
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="records per phase")
    parser.add_argument("--batch", type=int, default=10_000, help="records per produce_all call")
    parser.add_argument("--kill-at-batch", type=int, default=6, help="batch during which a broker dies")
    parser.add_argument("--apps", type=int, default=2000, help="distinct appid keys")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    root = Path(tempfile.mkdtemp(prefix="kafka-load-"))
    root.chmod(0o711)  # the brokers run as the service user and must reach their data
    try:
        return drill(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def drill(args: argparse.Namespace, root: Path) -> int:
    """The whole drill in its own stack under `root`; 0 when nothing was lost or duplicated."""
    with three_node_stack(root / "stack") as stack:
        kafka = durable_kafka(stack)
        svc = kafka_service(stack)
        for topic in (BASELINE, FAILOVER, WARMUP):
            create_topic(kafka, topic)
        # Not timed: the first producer of a fresh cluster waits for the producer-id coordinator.
        produce_in_batches(kafka, player_count_messages(WARMUP, 2 * args.batch), args.batch)
        t0 = time.perf_counter()
        base_msgs = player_count_messages(BASELINE, args.messages, args.apps)
        fail_msgs = player_count_messages(FAILOVER, args.messages, args.apps)
        avg = sum(len(m.value) for m in base_msgs) / len(base_msgs)
        print(f"built {2 * args.messages:,} envelopes ({avg:.0f} B avg) in {time.perf_counter() - t0:.1f}s")

        baseline = produce_in_batches(kafka, base_msgs, args.batch)
        metrics = [scrape(url) for url in svc.metrics_urls()]
        bytes_in = {n + 1: m.total("kafka_server_brokertopicmetrics_bytesin_total", topic=BASELINE)
                    for n, m in enumerate(metrics)}  # fmt: skip
        base_leaders = leaders_per_broker(kafka, BASELINE)

        leaders_before = leaders_per_broker(kafka, FAILOVER)
        victim = max(sorted(leaders_before), key=lambda b: leaders_before[b])
        hook = crash_node_during(stack, victim, at_batch=args.kill_at_batch)
        failover = produce_in_batches(kafka, fail_msgs, args.batch, on_batch_start=hook)
        wait_until_dead(stack, victim)
        leaders_after = leaders_per_broker(kafka, FAILOVER)
        live = [u for n, u in enumerate(svc.metrics_urls(), 1) if n != victim]
        under = sum(scrape(u).total("kafka_server_replicamanager_underreplicatedpartitions") for u in live)

        base_read = read_topic(kafka, BASELINE)
        fail_read = read_topic(kafka, FAILOVER)

        restart_dead_nodes(stack)
        wait_for_full_isr(kafka, [BASELINE, FAILOVER], timeout_s=300)
        healed = [scrape(url) for url in svc.metrics_urls()]
        healed_under = sum(m.total("kafka_server_replicamanager_underreplicatedpartitions") for m in healed)

        print(f"\n{args.messages:,} records per phase, batches of {args.batch:,}, node {victim} "
              f"killed as failover batch {args.kill_at_batch} started\n")  # fmt: skip
        print(_row("phase", "produced", "acked", "consumed", "unique event_id", "duplicates", "lost",
                   "records/s", "MB/s", "slowest batch s"))  # fmt: skip
        print(_row(*["---"] * 10))
        _report_run("baseline (3 brokers)", baseline, base_read)
        _report_run(f"failover (node {victim} killed)", failover, fail_read)
        ratio = failover.records_per_s / baseline.records_per_s
        print(f"\nfailover throughput vs baseline: {ratio:.3f}x (whole run, including the failover stall)")
        # The stall lands in whichever batch was in flight when the controller fenced the broker.
        k = max(range(len(failover.batch_seconds)), key=lambda i: failover.batch_seconds[i])
        stall = failover.batch_seconds[k] - statistics.median(baseline.batch_seconds)
        steady = failover.records_per_s_after(k) / baseline.records_per_s_after(k)
        print(f"slowest failover batch: {k} ({failover.batch_seconds[k]:.2f}s, {stall:.1f}s over the "
              "baseline median): the controller fencing the dead broker, moving its leaders")  # fmt: skip
        print(f"after the failover (2 brokers, batches {k + 1}+) vs baseline's same batches: {steady:.3f}x")

        print("\nper partition (failover topic): records acked / consumed / KB consumed")
        print(_row("partition", "acked", "consumed", "KB"))
        print(_row("---", "---", "---", "---"))
        for p in sorted(fail_read.per_partition):
            print(_row(p, failover.per_partition[p], fail_read.per_partition[p],
                       fail_read.bytes_per_partition[p] // 1024))  # fmt: skip

        print("\nper broker: leaders (baseline topic, failover topic before/after the kill), "
              "produce bytes in (baseline, JMX), log size after recovery (JMX, disk)")  # fmt: skip
        print(_row("broker", "leads baseline", "leads failover before", "after kill",
                   "bytes in baseline MB (zstd)", "log size MB (JMX)", "segments on disk MB"))  # fmt: skip
        print(_row(*["---"] * 7))
        for n, m in enumerate(healed, 1):
            log_mb = sum(m.total("kafka_log_log_size", topic=t) for t in (BASELINE, FAILOVER)) / 1e6
            disk_mb = node_data_bytes(stack, n, [BASELINE, FAILOVER]) / 1e6
            print(_row(n, base_leaders[n], leaders_before[n], leaders_after[n],
                       f"{bytes_in[n] / 1e6:.1f}", f"{log_mb:.1f}", f"{disk_mb:.1f}"))  # fmt: skip
        print(f"\nunder-replicated partitions (JMX): {under:.0f} with node {victim} dead, "
              f"{healed_under:.0f} after it restarted and caught up")  # fmt: skip

        ok = all(
            r.complete and r.duplicates == 0 and r.unique == run.sent == run.acked == r.records
            for run, r in ((baseline, base_read), (failover, fail_read))
        )
        print("RESULT:", "no loss, no duplicates" if ok else "LOSS OR DUPLICATES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
