"""Kafka authentication and TLS for the platform's clients: the JAAS line and what a refusal means.

- `sasl_jaas_config` builds the `sasl.jaas.config` line Spark's Java consumer logs in with; its
  values are escaped (`jaas_quoted`), so a quote or backslash in the password cannot end the value
  or inject options. The line holds the password: it goes to the Kafka client only.
- `access_problem` turns librdkafka's client errors into what to fix (a wrong user or password, a
  broker certificate the CA does not vouch for), raised as `KafkaAccessError`; the password is
  never part of the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from confluent_kafka import KafkaError


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


def read_ca_pem(location: str) -> str:
    """The certificates (PEM) of the CA file `location`, or a clear error naming the setting.

    Spark's Java consumer gets them inline (`kafka.ssl.truststore.certificates`), so executors need
    no file from the driver's disk; the certificates are public.
    """
    try:
        text = Path(location).read_text()
    except OSError as exc:
        raise KafkaAccessError(
            f"KAFKA_SSL_CA_LOCATION={location}: cannot read the CA certificate ({exc.strerror or exc})"
        ) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise KafkaAccessError(f"KAFKA_SSL_CA_LOCATION={location}: no PEM certificate in the file")
    return text
