"""Kafka access for the platform: topic administration and a producer that never loses silently.

The retrospective's Kafka lost data and filled one broker's disk: every topic had one partition
and producers fired and forgot. Here topics are created explicitly (partitions, replication factor,
`min.insync.replicas`, retention, compression; auto-create is off on the brokers), existing topics
with fewer partitions are *reported*, and the producer is idempotent with `acks=all` and checks
every delivery report: a batch that is not fully acknowledged raises with the count.

The SASL password is a secret: it is left out of the resource's repr, goes to librdkafka as its
own setting, and reaches Spark's Java consumer only inside a JAAS line whose values are escaped (a
quote or backslash in the password cannot end the value or inject options). That line is handed to
the Kafka source as an option (never into `spark_config`, which Dagster's UI shows); its key is a
secret's name for `steam_platform.core.redaction`, whose `redact` also scrubs `password="..."` from
a message that quotes the line.

TLS: `ssl_ca_location` (a PEM file) is the CA librdkafka trusts; Spark's Java consumer gets the same
certificates inline as a PEM trust store (`kafka.ssl.truststore.certificates`), so executors need no
file from the driver's disk.

A client the cluster refuses fails at once with what to fix (`check_access`, run before the first
topic operation or produce of a resource instance): a wrong user or password, a broker certificate
the CA does not vouch for, an unreadable CA file. The password is never part of the message, and
nothing has been produced when it is raised, so a rerun with the right settings delivers every
record once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pydantic import ConfigDict, Field, PrivateAttr

from steam_platform.core.redaction import redact


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the platform wants it: name, partition count, and per-topic configs."""

    name: str
    partitions: int = 6
    retention_ms: int = 7 * 24 * 3600 * 1000
    compression: str = "zstd"
    extra_config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicReport:
    """What `ensure_topics` found or did for one topic."""

    name: str
    action: str  # "created" | "exists" | "under-partitioned"
    partitions: int
    wanted_partitions: int
    replication_factor: int

    @property
    def ok(self) -> bool:
        return self.action in ("created", "exists")


@dataclass(frozen=True)
class OutgoingMessage:
    """One record to produce: key spreads load over partitions; headers carry e.g. DLQ reasons."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class DeliverySummary:
    """Per-topic / per-partition counts of acknowledged records, and every failure."""

    acked: Counter[tuple[str, int]] = field(default_factory=Counter)
    bytes_acked: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def acked_total(self) -> int:
        return sum(self.acked.values())

    def per_topic(self) -> dict[str, int]:
        """Acknowledged records per topic."""
        totals: Counter[str] = Counter()
        for (topic, _), n in self.acked.items():
            totals[topic] += n
        return dict(totals)

    def per_partition(self, topic: str) -> dict[int, int]:
        """Acknowledged records per partition of `topic` (how evenly keys spread)."""
        return {p: n for (t, p), n in sorted(self.acked.items()) if t == topic}


class KafkaDeliveryError(RuntimeError):
    """Some records were not acknowledged by the cluster; nothing may be assumed delivered."""


class KafkaAccessError(dg.Failure):
    """The cluster refused this client (login, TLS trust, CA file) or did not answer in time.

    The message names the setting to fix and never holds the password. Refusals are not retried by
    a step's retry policy (the same settings fail the same way); no answer at all may be transient
    and is retried.
    """

    def __init__(self, description: str, *, retryable: bool = False) -> None:
        super().__init__(description=description, allow_retries=retryable)


#: How long `check_access` waits for the cluster to answer (seconds).
ACCESS_TIMEOUT_S = 20.0


def access_problem(
    errors: Iterable[KafkaError],
    *,
    bootstrap_servers: str,
    username: str | None,
    mechanism: str | None,
    ca_location: str | None,
) -> str | None:
    """What to fix, when one of librdkafka's client errors is a refusal (login or TLS); else None.

    The broker's and OpenSSL's own wording follows the advice; neither ever quotes the password.
    """
    for error in errors:
        detail = error.str().split(": ", 1)[-1]  # without librdkafka's "sasl_ssl://host:port/id: "
        if error.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED):
            settings = "KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD"
            if "mechanism" in detail.lower() and "credentials" not in detail.lower():
                settings += " and KAFKA_SASL_MECHANISM"
            return (
                f"Kafka authentication failed for user {username or ''!r} ({mechanism or 'no SASL'}) at "
                f"{bootstrap_servers}: check {settings} (broker: {detail})"
            )
        if error.code() == KafkaError._SSL:
            return _tls_problem(detail, bootstrap_servers, ca_location)
    return None


def _tls_problem(detail: str, bootstrap_servers: str, ca_location: str | None) -> str:
    ca = f"the CA in {ca_location}" if ca_location else "the system CAs (KAFKA_SSL_CA_LOCATION unset)"
    if "certificate verify failed" in detail:
        return (
            f"TLS: broker certificate of {bootstrap_servers} not trusted by {ca}: check "
            f"KAFKA_SSL_CA_LOCATION (the PEM file of the CA that signed the brokers' certificates) "
            f"(OpenSSL: {detail.split(', verify that', 1)[0]})"
        )
    return (
        f"TLS handshake with {bootstrap_servers} failed: {detail}: check KAFKA_SECURITY_PROTOCOL and "
        f"KAFKA_SSL_CA_LOCATION"
    )


#: JAAS login module of each SASL mechanism Spark's Kafka source can log in with by password.
SASL_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def jaas_quoted(value: str) -> str:
    """`value` as a double-quoted JAAS option value.

    Kafka parses JAAS lines with Java's `StreamTokenizer`: inside double quotes a backslash escapes
    the next character and a line break ends the string, so `\\`, `"` and line breaks are escaped;
    everything else (`;`, `=`, spaces, `//`) is literal inside the quotes.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def sasl_jaas_config(mechanism: str, username: str, password: str) -> str:
    """The `sasl.jaas.config` line of a password login for `mechanism` (PLAIN or SCRAM-SHA-*).

    It holds the password: hand it to the Kafka client only, never to logs, metadata or messages.
    """
    module = SASL_LOGIN_MODULES.get(mechanism.upper())
    if module is None:
        known = ", ".join(sorted(SASL_LOGIN_MODULES))
        raise ValueError(f"SASL mechanism {mechanism!r} has no password login for Spark (use one of {known})")
    return f"{module} required username={jaas_quoted(username)} password={jaas_quoted(password)};"


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

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. the password).
    model_config = ConfigDict(hide_input_in_errors=True)

    #: Set once `check_access` succeeded for this instance (one check per run, not per batch).
    _access_checked: bool = PrivateAttr(default=False)

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
        path = Path(self.ssl_ca_location or "")
        try:
            text = path.read_text()
        except OSError as exc:
            raise KafkaAccessError(
                f"KAFKA_SSL_CA_LOCATION={self.ssl_ca_location}: cannot read the CA certificate "
                f"({exc.strerror or exc})"
            ) from None
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise KafkaAccessError(
                f"KAFKA_SSL_CA_LOCATION={self.ssl_ca_location}: no PEM certificate in the file"
            )
        return text

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
            "batch.size": 256 * 1024,
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

    def produce_all(
        self, messages: Iterable[OutgoingMessage], flush_timeout_s: float = 120.0
    ) -> DeliverySummary:
        """Produce every message and wait for all delivery reports; raise if any is not acked.

        A client the cluster refuses fails before the first record (`check_access`).
        """
        self.check_access()
        summary = DeliverySummary()
        producer = self.producer()

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
