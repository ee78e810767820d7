"""Attach a lake job to a running Spark Connect server instead of starting a driver in its process.

A Connect server that stays up (the local stack's `--spark-connect`, or the endpoint in front of a
cluster) saves every run the driver's start (~10 s on the local machine) and its JVM's memory.
This module opens such a session, bounded in time, with the platform's per-session SQL settings,
and tells the rest of `streaming/` which kind of session it was given (`is_connect`), so the few
classic-only helpers (the Hadoop FileSystem through the JVM, the Hadoop configuration) can take
their Connect-safe path without their callers branching.

One process, one kind: PySpark picks the Connect or the classic implementation of `functions`,
`Column` and `DataFrame` from a process-wide switch (`SPARK_CONNECT_MODE_ENABLED`), which
`attach` turns on once the server answered. A Dagster step runs in its own process; a process that
attached stays on Connect.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from pyspark.sql import SparkSession

#: PySpark's process-wide switch to its Connect implementation of the DataFrame API.
CONNECT_MODE_ENV = "SPARK_CONNECT_MODE_ENABLED"
#: How long a call retries a server that went away (gRPC UNAVAILABLE): 8 retries, 50 ms growing 4x
#: to at most 10 s (~45 s in all) instead of PySpark's default of ~10 minutes. Enough for the local
#: stack's supervisor to start the server again (~5-10 s); a server gone for longer fails the step
#: (its retry then attaches again or falls back to an in-process driver) and the session's release
#: at teardown does not hold the step's process for minutes.
RETRIES, MAX_BACKOFF_MS = 8, 10_000
#: Settings a Connect client may change per session: SQL runtime settings. Static ones (memory,
#: jars, master, the Hadoop configuration) belong to the server.
SESSION_CONF_PREFIX = "spark.sql."


class ConnectUnavailableError(RuntimeError):
    """The Connect server did not answer within the bound; the message says why (no secrets)."""


def is_connect(spark: Any) -> bool:
    """True for a Spark Connect session (or a DataFrame's), False for a classic in-process one."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def session_conf(conf: Mapping[str, str]) -> dict[str, str]:
    """The per-session SQL settings of a platform conf (time zone, partition overwrite, ...)."""
    return {k: v for k, v in conf.items() if k.startswith(SESSION_CONF_PREFIX)}


def _address(remote: str) -> tuple[str, int]:
    parts = urlsplit(remote)
    if parts.scheme != "sc" or not parts.hostname:
        raise ConnectUnavailableError(f"not a Spark Connect URL (sc://host:port): {parts.scheme}://...")
    return parts.hostname, parts.port or 15002


def server_answers(remote: str, timeout_s: float) -> bool:
    """True when the server at `remote` completes a gRPC (HTTP/2) handshake within `timeout_s`."""
    import grpc

    host, port = _address(remote)
    try:  # a refused connection needs no handshake wait
        socket.create_connection((host, port), timeout=min(timeout_s, 2.0)).close()
    except OSError:
        return False
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout_s)
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()
    return True


def attach(remote: str, conf: Mapping[str, str], *, timeout_s: float) -> SparkSession:
    """A new session on the Connect server `remote` with the SQL settings of `conf` applied.

    Raises `ConnectUnavailableError` when the server does not answer its gRPC handshake, or does
    not accept the settings, within `timeout_s` (each bound separately): the caller falls back.
    """
    if not server_answers(remote, timeout_s):
        raise ConnectUnavailableError(f"no gRPC answer from {remote} within {timeout_s:.0f} s")
    from pyspark.sql.connect.client.retries import DefaultPolicy
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    outcome: dict[str, Any] = {}

    def open_session() -> None:
        try:
            session = ConnectSession.builder.remote(remote).create()
            retries = DefaultPolicy(max_retries=RETRIES, max_backoff=MAX_BACKOFF_MS)
            session.client.set_retry_policies([retries])
            settings = session_conf(conf)
            for key, value in settings.items():
                session.conf.set(key, value)
            session.version  # noqa: B018 - one round trip: the server runs Spark SQL
            outcome["session"] = session
        except Exception as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    worker = threading.Thread(target=open_session, name="spark-connect-attach", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if "session" not in outcome:
        error = outcome.get("error")
        why = f"{type(error).__name__}" if error is not None else f"no answer within {timeout_s:.0f} s"
        raise ConnectUnavailableError(f"{remote} did not open a session ({why})")
    os.environ[CONNECT_MODE_ENV] = "1"
    return cast(SparkSession, outcome["session"])
