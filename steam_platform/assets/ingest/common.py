"""What every ingest asset shares: envelopes + validation/DLQ, isolated per-item fetches, metadata.

An ingest run collects events for every tracked item, isolates per-item failures (reported in
metadata with the reason), then produces everything with delivery checks. It fails only when the
source as a whole is unusable (bad key, budget exhausted, store pace, Steam down for several items
in a row); even then, what was collected is produced first, so nothing fetched is lost.

What cannot go to its topic goes to the dead-letter topic instead of failing the partition, one
record per item with the reason (`steam_platform/events/dead_letter.py`): a payload that fails its
contract, an answer Steam sent that could not be read (cut JSON, a field of the wrong type), and a
record larger than its topic takes (measured before producing against `KafkaResource.record_limits`;
a retry could never deliver it). Metadata counts them by reason (`dead_lettered_reasons`).
"""

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import dagster as dg

from steam_platform.assets.bus.topics import topic_specs
from steam_platform.core.constants import GROUP_INGEST
from steam_platform.core.sources import DEAD_LETTER_TOPIC
from steam_platform.events.dead_letter import (
    REASON_CONTRACT,
    REASON_MALFORMED,
    REASON_OVERSIZED,
    dead_letter,
    malformed_dead_letter,
    oversized_dead_letter,
)
from steam_platform.events.envelope import envelope
from steam_platform.events.payloads import validation_error
from steam_platform.resources.kafka import DeliverySummary, KafkaResource, OutgoingMessage
from steam_platform.resources.kafka_records import record_size
from steam_platform.resources.steam import SteamAppError, SteamSourceError, SteamUnavailable
from steam_platform.resources.steam.errors import SteamItemUnavailable, SteamMalformedResponse
from steam_platform.resources.steam.transport import CallStats
from steam_platform.resources.steam_api import SteamApiResource

T = TypeVar("T")
R = TypeVar("R")

#: Steam-down detector: this many items in a row failing with 429/5xx/connection errors.
CONSECUTIVE_UNAVAILABLE_LIMIT = 5

#: Step retries for transient failures outside the Steam client (e.g. Kafka not acknowledging a
#: batch). Steam failures are not retried here: the client retried each call already.
INGEST_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

#: Concurrency pools: one shared by Web API assets (the daily budget), one for the store's pace.
POOL_STEAM_API = "steam_api"
POOL_STEAM_STORE = "steam_store"

NO_KEY_MESSAGE = "skipped: STEAM_API_KEY is not set and {endpoint} needs a Web API key"


def ingest_asset(
    partitions_def: dg.PartitionsDefinition, pool: str = POOL_STEAM_API
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`@dg.asset` as every ingest asset declares it: ingest group, Steam -> Kafka, after the topics.

    Step retries are for Kafka hiccups only (see `INGEST_RETRY_POLICY`); `pool` is the Steam
    budget the asset draws on (Web API or store).
    """
    return dg.asset(
        group_name=GROUP_INGEST,
        kinds={"steam", "kafka"},
        partitions_def=partitions_def,
        deps=["kafka_topics"],
        retry_policy=INGEST_RETRY_POLICY,
        pool=pool,
    )


def skipped_without_key(
    context: dg.AssetExecutionContext, steam: SteamApiResource, endpoint: str
) -> dg.MaterializeResult | None:
    """A successful, empty result saying why, when `endpoint` needs the Web API key and none is set.

    None when the key is there and the run should go on.
    """
    if steam.has_key:
        return None
    message = NO_KEY_MESSAGE.format(endpoint=endpoint)
    context.log.warning(message)
    return dg.MaterializeResult(metadata={"skipped_reason": message, "events_total": 0})


@dataclass
class EventBatch:
    """Events for one topic from one run: valid ones to the topic, invalid ones to the DLQ."""

    topic: str
    source: str
    partition_key: str
    messages: list[OutgoingMessage] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    #: item -> "reason_code: reason" of every dead letter of this batch.
    dead_letters: dict[str, str] = field(default_factory=dict)

    @property
    def dead_lettered(self) -> int:
        """Records of this batch that went to the dead-letter topic."""
        return len(self.dead_letters)

    def _dead_lettered(self, item: str, reason_code: str, reason: str) -> None:
        name, n = item, 1
        while name in self.dead_letters:  # an item may dead-letter several records (news posts)
            n += 1
            name = f"{item}#{n}"
        self.dead_letters[name] = f"{reason_code}: {reason}"

    def add(
        self, key: str, natural_key: tuple[object, ...], payload: dict[str, Any], observed_at: datetime
    ) -> None:
        """Wrap `payload` in the envelope; invalid payloads go to `steam.dlq` with the reason."""
        event = envelope(
            source=self.source,
            natural_key=natural_key,
            observed_at=observed_at,
            partition_key=self.partition_key,
            payload=payload,
        )
        value = event.to_json_bytes()
        reason = validation_error(self.topic, payload)
        if reason is None:
            self.messages.append(OutgoingMessage(self.topic, key, value))
            self.event_ids.append(event.event_id)
        else:
            self.messages.append(
                dead_letter(
                    intended_topic=self.topic, key=key, value=value, reason=reason, source=self.source
                )
            )
            self._dead_lettered(key, REASON_CONTRACT, reason)

    def skip(self, item: object, reason: str) -> None:
        """Record an item that produced no event, and why (metadata `skipped`)."""
        self.skipped[str(item)] = reason

    def malformed(
        self, item: object, error: SteamMalformedResponse, secrets: Iterable[str | None] = ()
    ) -> None:
        """An item whose Steam answer could not be read: skipped, and dead-lettered with the body's start.

        `secrets` (the API key) are scrubbed from the excerpt, as is anything `redact` recognises.
        """
        reason = f"{error.reason}: {error}"
        self.skip(item, reason)
        self.messages.append(
            malformed_dead_letter(
                intended_topic=self.topic,
                key=str(item),
                source=self.source,
                partition_key=self.partition_key,
                reason=str(error),
                body=error.body,
                body_bytes=error.body_bytes,
                secrets=secrets,
            )
        )
        self._dead_lettered(str(item), REASON_MALFORMED, str(error))

    def divert_oversized(self, limits: dict[str, int]) -> None:
        """Replace each record larger than its topic takes (`limits`) by its oversized dead letter.

        Producing it would fail the whole partition on every retry; its stand-in says why and
        keeps the start of the value (`oversized_dead_letter`).
        """
        kept: list[OutgoingMessage] = []
        for message in self.messages:
            size = record_size(message)
            if size <= limits[message.topic]:
                kept.append(message)
                continue
            if message.topic == self.topic:
                self._forget_event(message)
            else:  # an oversized dead letter: counted once, under its new reason
                self._forget_dead_letter(message.key)
            stand_in = oversized_dead_letter(
                message,
                source=self.source,
                partition_key=self.partition_key,
                size=size,
                limit=limits[message.topic],
            )
            kept.append(stand_in)
            self._dead_lettered(message.key, REASON_OVERSIZED, dict(stand_in.headers)["dlq.reason"].decode())
        self.messages = kept

    def _forget_event(self, message: OutgoingMessage) -> None:
        event_id = json.loads(message.value).get("event_id")
        if event_id in self.event_ids:
            self.event_ids.remove(event_id)

    def _forget_dead_letter(self, item: str) -> None:
        for name in [n for n in self.dead_letters if n == item or n.startswith(f"{item}#")][-1:]:
            del self.dead_letters[name]


def fetch_each(
    items: Iterable[T], fetch: Callable[[T], R], workers: int
) -> Iterator[tuple[T, R | SteamAppError]]:
    """(item, result or per-item error) for every item, fetched on `workers` threads.

    Source-level errors (bad key, budget, pace) and a run of consecutive "unavailable" items stop
    new requests; requests already in flight are finished and their results yielded (a call that
    was paid for is not thrown away), then the source error is raised.
    """
    pending = list(items)
    workers = max(1, workers)
    consecutive_unavailable = 0
    abort: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="steam") as pool:
        running: dict[Future[R], T] = {}
        while running or (pending and abort is None):
            while abort is None and pending and len(running) < workers * 2:
                item = pending.pop(0)
                running[pool.submit(fetch, item)] = item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                item = running.pop(future)
                error = future.exception()
                if error is None:
                    consecutive_unavailable = 0
                    yield item, future.result()
                elif isinstance(error, SteamUnavailable):
                    consecutive_unavailable += 1
                    if consecutive_unavailable >= CONSECUTIVE_UNAVAILABLE_LIMIT and abort is None:
                        abort = SteamUnavailable(
                            f"Steam looks down: {consecutive_unavailable} items in a row failed; "
                            f"last: {error}"
                        )
                    yield item, SteamItemUnavailable(str(error))
                elif isinstance(error, SteamAppError):
                    consecutive_unavailable = 0
                    yield item, error
                elif abort is None:
                    abort = error
    if abort is not None:
        raise abort


def _delivery_metadata(summary: DeliverySummary) -> dict[str, Any]:
    return {
        "events_per_topic": dg.MetadataValue.json(summary.per_topic()),
        "events_per_partition": dg.MetadataValue.json(
            {t: {str(p): n for p, n in summary.per_partition(t).items()} for t in summary.per_topic()}
        ),
        "events_total": summary.acked_total,
        "bytes_produced": summary.bytes_acked,
    }


def run_metadata(
    batches: list[EventBatch],
    summary: DeliverySummary,
    steam: SteamApiResource,
    calls: CallStats,
    started: float,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata for one ingest materialisation: calls, events per topic/partition, skipped items."""
    skipped: dict[str, str] = {}
    dead: dict[str, str] = {}
    for batch in batches:
        skipped.update(batch.skipped)
        dead.update(batch.dead_letters)
    reasons = Counter(reason.split(":", 1)[0] for reason in skipped.values())
    return {
        **_delivery_metadata(summary),
        "steam_calls": calls.total_calls,
        "steam_calls_detail": dg.MetadataValue.json(calls.as_metadata()),
        **steam.usage(),
        "dead_lettered": sum(b.dead_lettered for b in batches),
        "dead_lettered_reasons": dg.MetadataValue.json(
            dict(Counter(r.split(":", 1)[0] for b in batches for r in b.dead_letters.values()))
        ),
        "dead_lettered_items": dg.MetadataValue.json(dict(list(dead.items())[:200])),
        "skipped_count": len(skipped),
        "skipped_reasons": dg.MetadataValue.json(dict(reasons)),
        "skipped": dg.MetadataValue.json(dict(list(skipped.items())[:200])),
        "duration_s": round(time.monotonic() - started, 3),
        **(extra or {}),
    }


def publish(
    context: dg.AssetExecutionContext,
    kafka: KafkaResource,
    steam: SteamApiResource,
    batches: list[EventBatch],
    calls_before: CallStats,
    started: float,
    source_error: SteamSourceError | None = None,
    extra: dict[str, Any] | None = None,
) -> dg.MaterializeResult:
    """Produce every batch (delivery checked), then succeed with metadata or fail on a source error."""
    topics = {m.topic for b in batches for m in b.messages}
    if topics:
        # A schedule can fire before anyone materialised `kafka_topics` (a fresh `make dev`): create
        # missing topics with the platform's explicit configs (brokers never auto-create them). The
        # dead-letter topic too: a record too large for its topic is diverted there.
        topics.add(DEAD_LETTER_TOPIC)
        kafka.ensure_topics([spec for spec in topic_specs() if spec.name in topics])
        limits = kafka.record_limits(topics)
        for batch in batches:
            batch.divert_oversized(limits)
    messages = [m for b in batches for m in b.messages]
    summary = kafka.produce_all(messages) if messages else DeliverySummary()
    calls = steam.stats().since(calls_before)
    metadata = run_metadata(batches, summary, steam, calls, started, extra)
    for batch in batches:
        for item, reason in list(batch.skipped.items())[:20]:
            context.log.warning(f"{batch.topic}: skipped {item}: {reason}")
        for item, reason in list(batch.dead_letters.items())[:20]:
            context.log.warning(f"{batch.topic}: dead-lettered {item}: {reason[:300]}")
    if source_error is not None:
        raise dg.Failure(
            description=f"{source_error.reason}: {source_error} "
            f"({summary.acked_total} events collected before the failure were produced)",
            metadata=metadata,
            # The client already retried every call with backoff; the instance's run retries
            # re-run the whole run later. The step policy is for Kafka hiccups.
            allow_retries=False,
        )
    context.log.info(
        f"{summary.acked_total} events, {calls.total_calls} Steam calls, "
        f"{metadata['skipped_count']} skipped, {metadata['dead_lettered']} dead-lettered, "
        f"{metadata['duration_s']}s"
    )
    return dg.MaterializeResult(metadata=metadata)


class IngestRun:
    """One ingest materialisation from its first Steam call to `publish`.

    Holds what every ingest asset tracks the same way: the start time and observation time, the
    Steam client and its call counter at the start, and a source-level failure. The failure is
    kept (not raised) while collecting, so that what was fetched before it is still produced.
    """

    def __init__(
        self, context: dg.AssetExecutionContext, steam: SteamApiResource, kafka: KafkaResource
    ) -> None:
        self.context = context
        self.steam = steam
        self.kafka = kafka
        # A cluster that refuses this client (login, TLS trust) fails the run here, before the
        # first Steam call: no budget is spent on data that could not be delivered.
        kafka.check_access()
        self.started = time.monotonic()
        self.now = datetime.now(UTC)
        self.client = steam.client()
        self.calls_before = steam.stats().snapshot()
        self.source_error: SteamSourceError | None = None

    def batch(self, topic: str, source: str) -> EventBatch:
        """An empty batch of events for `topic` from `source`, in this run's partition."""
        return EventBatch(topic, source, self.context.partition_key)

    @contextmanager
    def collecting(self) -> Iterator[None]:
        """Run the fetch loop; a source-level failure stops it and is held for `publish`."""
        try:
            yield
        except SteamSourceError as exc:
            self.source_error = exc

    def fetch_each(
        self, items: Iterable[T], fetch: Callable[[T], R], skipped: EventBatch
    ) -> Iterator[tuple[T, R]]:
        """`fetch_each` on the resource's concurrency; failed items go to `skipped` with the reason.

        An answer that could not be read is also dead-lettered (`EventBatch.malformed`).
        """
        for item, result in fetch_each(items, fetch, self.steam.max_concurrency):
            if isinstance(result, SteamMalformedResponse):
                skipped.malformed(item, result, secrets=(self.steam.api_key,))
                continue
            if isinstance(result, SteamAppError):
                skipped.skip(item, f"{result.reason}: {result}")
                continue
            yield item, result

    def publish(self, batches: list[EventBatch], extra: dict[str, Any] | None = None) -> dg.MaterializeResult:
        """Produce the batches and finish the run (see `publish`)."""
        return publish(
            self.context,
            self.kafka,
            self.steam,
            batches,
            self.calls_before,
            self.started,
            self.source_error,
            extra,
        )
