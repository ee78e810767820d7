"""Kafka access for the platform: topic administration and a producer that never loses silently.

The retrospective's Kafka lost data and filled one broker's disk: every topic had one partition
and producers fired and forgot. Here topics are created explicitly (partitions, replication factor,
`min.insync.replicas`, retention, compression; auto-create is off on the brokers), existing topics
with fewer partitions are *reported*, and the producer is idempotent with `acks=all` and checks
every delivery report: a batch that is not fully acknowledged raises with the count. A record
larger than its topic takes (`record_limits`: the topic's `max.message.bytes` and the producer's
`message.max.bytes`, whichever is smaller) is refused before anything is produced, so it can never
fail a batch at the broker on every retry; callers divert such records first (ingest dead-letters them).

Security (SASL, TLS) follows `security_protocol`; the JAAS line, the CA handling and what a refused
login means are in `kafka_security.py`. A client the cluster refuses fails at once with what to fix
(`check_access`, before the first topic operation or produce of a resource instance), and nothing
has been produced when it is raised, so a rerun with the right settings delivers every record once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import dagster as dg
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType
from pydantic import ConfigDict, Field, PrivateAttr

from steam_platform.core.redaction import redact
from steam_platform.resources.kafka_records import (
    DeliverySummary,
    KafkaDeliveryError,
    OutgoingMessage,
    RecordTooLarge,
    TopicReport,
    TopicSpec,
    record_size,
)
from steam_platform.resources.kafka_security import (
    ACCESS_TIMEOUT_S,
    KafkaAccessError,
    access_problem,
    read_ca_pem,
    sasl_jaas_config,
)

# Re-exported: callers import the records and the access error with the resource.
__all__ = [
    "DeliverySummary",
    "KafkaAccessError",
    "KafkaDeliveryError",
    "OutgoingMessage",
    "RecordTooLarge",
    "TopicReport",
    "TopicSpec",
]


#: The producer's batch size; lowered to the smallest record limit of the topics one call writes,
#: so a batch never exceeds what its topic takes.
BATCH_BYTES = 256 * 1024
#: How long `record_limits` asks again about a topic the cluster does not know (yet).
UNKNOWN_TOPIC_WAIT_S = 5.0


class KafkaResource(dg.ConfigurableResource):
    """Connection and durability settings for the platform's Kafka cluster.

    `replication_factor` and `min_insync_replicas` follow the cluster: 1/1 on the single local
    broker, 3/2 on a three-node cluster, so one dead broker loses nothing and blocks nothing.
    """

    bootstrap_servers: str = Field(description="Comma-separated host:port list of brokers.")
    client_id: str = "steam-platform"
    replication_factor: int = 1
    min_insync_replicas: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = Field(default=None, repr=False, description="Secret; fill with EnvVar.")
    ssl_ca_location: str | None = Field(
        default=None,
        description="PEM file of the CA that signed the brokers' certificates (SSL/SASL_SSL); "
        "unset: the system's CA certificates.",
    )
    delivery_timeout_ms: int = 120_000
    max_message_bytes: int = Field(
        default=1_000_000,
        description="The producer's largest record (librdkafka `message.max.bytes`); a topic's own "
        "`max.message.bytes` lowers it for that topic.",
    )

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. the password).
    model_config = ConfigDict(hide_input_in_errors=True)

    #: Set once `check_access` succeeded for this instance (one check per run, not per batch).
    _access_checked: bool = PrivateAttr(default=False)
    #: topic -> largest record it takes, read once per instance (`record_limits`).
    _record_limits: dict[str, int] = PrivateAttr(default_factory=dict)

    def _base_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username or ""
            config["sasl.password"] = self.sasl_password or ""
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config

    def client_config(self) -> dict[str, Any]:
        """librdkafka's connection settings (servers, security, CA); holds the password when SASL is on."""
        return self._base_config()

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.upper() in ("SSL", "SASL_SSL")

    def _ca_pem(self) -> str:
        """The CA file's certificates (PEM), or a clear error naming the setting."""
        return read_ca_pem(self.ssl_ca_location or "")

    def check_access(self, timeout_s: float = ACCESS_TIMEOUT_S) -> None:
        """Prove, before anything is produced, that the cluster answers and accepts this client.

        One admin request (describe cluster) with a bounded wait, while librdkafka's client errors are
        watched: a failed login or an untrusted broker certificate raises `KafkaAccessError` naming
        what to fix as soon as it is reported; no answer within `timeout_s` raises a retryable one.
        Succeeds once per resource instance (later calls return at once).
        """
        if self._access_checked:
            return
        if self.uses_tls and self.ssl_ca_location:
            self._ca_pem()
        errors: list[KafkaError] = []
        config: dict[str, Any] = {**self._base_config(), "error_cb": errors.append}
        try:
            admin = AdminClient(config)
        except KafkaException as exc:
            raise KafkaAccessError(
                f"Kafka client settings rejected: {redact(exc.args[0].str(), self.sasl_password)}: check "
                "KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM and KAFKA_SSL_CA_LOCATION"
            ) from None
        future = admin.describe_cluster(request_timeout=timeout_s)
        deadline = time.monotonic() + timeout_s + 1.0
        while not future.done() and time.monotonic() < deadline:
            admin.poll(0.1)
            self._raise_on_refusal(errors)
        admin.poll(0)
        self._raise_on_refusal(errors)
        if future.done() and future.exception() is None:
            self._access_checked = True
            return
        last = errors[-1].str() if errors else "no answer"
        raise KafkaAccessError(
            f"Kafka at {self.bootstrap_servers} did not answer within {timeout_s:.0f}s "
            f"({self.security_protocol}; last client error: {redact(last, self.sasl_password)}): check "
            "that the brokers run and that KAFKA_BOOTSTRAP_SERVERS and KAFKA_SECURITY_PROTOCOL match them",
            retryable=True,
        )

    def _raise_on_refusal(self, errors: list[KafkaError]) -> None:
        problem = access_problem(
            errors,
            bootstrap_servers=self.bootstrap_servers,
            username=self.sasl_username,
            mechanism=self.sasl_mechanism,
            ca_location=self.ssl_ca_location,
        )
        if problem is not None:
            raise KafkaAccessError(redact(problem, self.sasl_password))

    def spark_options(self) -> dict[str, str]:
        """Security options of Spark's Kafka source (the Java consumer): SASL as an escaped JAAS line.

        The result holds the password when SASL is on: pass it to the reader (or a job's environment)
        only, never into `spark_config`, logs or metadata.
        """
        options = {"kafka.security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            options["kafka.sasl.mechanism"] = self.sasl_mechanism
            options["kafka.sasl.jaas.config"] = sasl_jaas_config(
                self.sasl_mechanism, self.sasl_username or "", self.sasl_password or ""
            )
        if self.uses_tls and self.ssl_ca_location:
            # The CA's certificates themselves (public), not the path: executors on other hosts or
            # users read no file of the driver's.
            options["kafka.ssl.truststore.type"] = "PEM"
            options["kafka.ssl.truststore.certificates"] = self._ca_pem()
        return options

    def admin(self) -> AdminClient:
        """An AdminClient for topic management and cluster metadata."""
        return AdminClient(self._base_config())

    def producer_config(self, **overrides: Any) -> dict[str, Any]:
        """Durable producer settings: idempotent, all in-sync replicas ack, compressed batches."""
        config = {
            **self._base_config(),
            "enable.idempotence": True,
            "acks": "all",
            "compression.type": "zstd",
            "linger.ms": 20,
            "batch.size": BATCH_BYTES,
            "message.max.bytes": self.max_message_bytes,
            "delivery.timeout.ms": self.delivery_timeout_ms,
            # Consistent with the Java client's default partitioner, so keys map the same everywhere.
            "partitioner": "murmur2_random",
        }
        config.update(overrides)
        return config

    def producer(self, **overrides: Any) -> Producer:
        """A raw producer with the durable settings (prefer `produce_all`, which checks delivery)."""
        return Producer(self.producer_config(**overrides))

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """Consumer settings reading committed data only, from the earliest offset by default."""
        config = {
            **self._base_config(),
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
        config.update(overrides)
        return config

    def ensure_topics(self, specs: Iterable[TopicSpec], timeout_s: float = 30.0) -> list[TopicReport]:
        """Create missing topics with explicit configs; report (never silently use) short ones.

        Checks access first (`check_access`): a refused client fails here, before anything is produced.
        """
        self.check_access()
        admin = self.admin()
        existing = admin.list_topics(timeout=timeout_s).topics
        reports: list[TopicReport] = []
        to_create: list[NewTopic] = []
        for spec in specs:
            if spec.name in existing:
                meta = existing[spec.name]
                n_parts = len(meta.partitions)
                rf = len(next(iter(meta.partitions.values())).replicas) if meta.partitions else 0
                action = "exists" if n_parts >= spec.partitions else "under-partitioned"
                reports.append(TopicReport(spec.name, action, n_parts, spec.partitions, rf))
                continue
            config = {
                "min.insync.replicas": str(self.min_insync_replicas),
                "retention.ms": str(spec.retention_ms),
                "compression.type": spec.compression,
                "cleanup.policy": "delete",
                **spec.extra_config,
            }
            to_create.append(
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=self.replication_factor,
                    config=config,
                )
            )
        if to_create:
            for name, future in admin.create_topics(to_create, operation_timeout=timeout_s).items():
                try:
                    future.result(timeout=timeout_s)
                except KafkaException as exc:
                    if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise
                spec_partitions = next(t.num_partitions for t in to_create if t.topic == name)
                reports.append(
                    TopicReport(name, "created", spec_partitions, spec_partitions, self.replication_factor)
                )
        return reports

    def record_limits(
        self, topics: Iterable[str], timeout_s: float = 30.0, unknown_wait_s: float = UNKNOWN_TOPIC_WAIT_S
    ) -> dict[str, int]:
        """Largest record (bytes, as `record_size` counts) each topic takes from this producer.

        The smaller of the topic's `max.message.bytes` (the broker's default when the topic does
        not set it) and the producer's `message.max.bytes`, read with the admin client once per
        resource instance and topic. A topic created a moment ago may not be known to every broker
        yet: it is asked again for up to `unknown_wait_s`. A topic that stays unknown, or
        whose configs this client may not describe (ACLs), gets the producer's limit, not cached:
        producing to it then fails (or succeeds) as it would have without the check.
        """
        topics = set(topics)
        wanted = topics - set(self._record_limits)
        found: dict[str, int] = {}
        if wanted:
            self.check_access()
            admin = self.admin()  # kept referenced: a collected client cancels its requests
            deadline = time.monotonic() + unknown_wait_s
            while wanted:
                requests = [ConfigResource(ResourceType.TOPIC, topic) for topic in sorted(wanted)]
                unknown: set[str] = set()
                for resource, future in admin.describe_configs(requests, request_timeout=timeout_s).items():
                    try:
                        entry = future.result(timeout=timeout_s).get("max.message.bytes")
                    except KafkaException as exc:
                        code = exc.args[0].code()
                        if code == KafkaError.UNKNOWN_TOPIC_OR_PART and time.monotonic() < deadline:
                            unknown.add(resource.name)
                        elif code not in (
                            KafkaError.UNKNOWN_TOPIC_OR_PART,
                            KafkaError.TOPIC_AUTHORIZATION_FAILED,
                        ):
                            raise
                        continue
                    if entry is not None and entry.value:
                        self._record_limits[resource.name] = min(int(entry.value), self.max_message_bytes)
                wanted = unknown
                if wanted:
                    time.sleep(0.2)
        for topic in topics:
            found[topic] = self._record_limits.get(topic, self.max_message_bytes)
        return found

    def produce_all(
        self, messages: Iterable[OutgoingMessage], flush_timeout_s: float = 120.0
    ) -> DeliverySummary:
        """Produce every message and wait for all delivery reports; raise if any is not acked.

        A client the cluster refuses fails before the first record (`check_access`); a record larger
        than its topic takes (`record_limits`) raises `RecordTooLarge` before the first record too.
        """
        self.check_access()
        messages = list(messages)
        # No waiting for unknown topics here: a caller that just created its topics asked first.
        limits = self.record_limits({m.topic for m in messages}, unknown_wait_s=0)
        too_large = [(m, record_size(m)) for m in messages if record_size(m) > limits[m.topic]]
        if too_large:
            raise RecordTooLarge(
                f"{len(too_large)} records are larger than their topic takes, nothing was produced: "
                + ", ".join(f"{m.topic} key {m.key}: {n} > {limits[m.topic]} bytes" for m, n in too_large[:5])
            )
        summary = DeliverySummary()
        producer = self.producer(**{"batch.size": min([BATCH_BYTES, *limits.values()])})

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                summary.failures.append(f"{msg.topic()}: {err.str()}")
            else:
                summary.acked[(msg.topic() or "", msg.partition() or 0)] += 1
                summary.bytes_acked += len(msg.value() or b"")

        sent = 0
        for message in messages:
            while True:
                try:
                    producer.produce(
                        message.topic,
                        key=message.key.encode(),
                        value=message.value,
                        headers=list(message.headers),
                        on_delivery=on_delivery,
                    )
                    break
                except BufferError:
                    producer.poll(0.5)  # local queue full: let deliveries drain, then retry
            sent += 1
            producer.poll(0)
        remaining = producer.flush(flush_timeout_s)
        missing = sent - summary.acked_total - len(summary.failures)
        if summary.failures or remaining or missing:
            raise KafkaDeliveryError(
                f"{sent - summary.acked_total} of {sent} records were not acknowledged "
                f"({len(summary.failures)} failed, {max(remaining, missing)} undelivered at timeout); "
                f"first errors: {summary.failures[:3]}"
            )
        return summary
