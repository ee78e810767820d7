"""Producing the load: the platform's own producer (`KafkaResource.produce_all`: acks=all, idempotent,
every delivery report checked), flat out or paced to a target rate.

Making the events (the simulator's values, the envelope's JSON) costs Python time per event, as
sending them does; the next batch is made while the previous one is being delivered (one delivery
thread), so the two overlap. A batch that is not fully acknowledged raises `KafkaDeliveryError`
(nothing is assumed delivered), which ends the run as a loss.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from steam_devstack.kafka_drill import ProduceRun
from steam_platform.resources.kafka import DeliverySummary, KafkaResource, OutgoingMessage


@dataclass
class Produced:
    """What Kafka acknowledged: totals and timing (`run`) and records per (topic, partition)."""

    run: ProduceRun = field(default_factory=ProduceRun)
    acked: Counter[tuple[str, int]] = field(default_factory=Counter)

    def record(self, sent: int, summary: DeliverySummary, seconds: float) -> None:
        self.run.sent += sent
        self.run.acked += summary.acked_total
        self.run.bytes_acked += summary.bytes_acked
        self.run.batch_seconds.append(seconds)
        self.acked.update(summary.acked)


def _deliver(kafka: KafkaResource, batch: list[OutgoingMessage]) -> tuple[DeliverySummary, float]:
    started = time.perf_counter()
    summary = kafka.produce_all(batch)
    return summary, time.perf_counter() - started


def produce(
    kafka: KafkaResource,
    batches: Iterable[list[OutgoingMessage]],
    rate: float | None = None,
    on_acked: Callable[[int], None] = lambda n: None,
) -> Produced:
    """Produce every batch (at most `rate` records per second when given); `on_acked(n)` after each.

    One batch is in delivery while the next is made; a batch starts no earlier than its share of
    the rate allows.
    """
    produced = Produced()
    started = time.perf_counter()
    handed = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-produce") as pool:
        pending: tuple[Future[tuple[DeliverySummary, float]], int] | None = None
        for batch in batches:
            if rate is not None:
                time.sleep(max(0.0, started + handed / rate - time.perf_counter()))
            if pending is not None:
                _collect(produced, *pending, on_acked)
            pending = (pool.submit(_deliver, kafka, batch), len(batch))
            handed += len(batch)
        if pending is not None:
            _collect(produced, *pending, on_acked)
    produced.run.seconds = time.perf_counter() - started
    return produced


def _collect(
    produced: Produced,
    future: Future[tuple[DeliverySummary, float]],
    sent: int,
    on_acked: Callable[[int], None],
) -> None:
    summary, seconds = future.result()  # KafkaDeliveryError: not every record was acknowledged
    produced.record(sent, summary, seconds)
    on_acked(summary.acked_total)
