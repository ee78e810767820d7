"""Dagster's own processes: the daemon's heartbeats and when Dagster's storage (Postgres) started.

The platform recovers by itself when the daemon dies (`dagster dev` or the container is started
again) or Postgres restarts (Dagster retries its connections), but a person should still hear of
it: a daemon that keeps dying, or a database that restarts, is a problem brewing. Both are read
from the instance the exporter already holds:

- every daemon thread writes a heartbeat (its type, the id of the daemon process, the errors of
  its latest iteration) to the run storage every 30 s; a restarted daemon writes a new id;
- `pg_postmaster_start_time()` on the run storage's own connection pool, when the run storage is
  Postgres (a SQLite instance has no server to restart: the series is left out).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import sqlalchemy as db
from dagster import DagsterInstance
from dagster._core.storage.legacy_storage import LegacyRunStorage
from dagster_postgres import PostgresRunStorage
from prometheus_client.core import GaugeMetricFamily


def daemon_metrics(instance: DagsterInstance, now: float | None = None) -> Iterator[GaugeMetricFamily]:
    """Per daemon type the age of its latest heartbeat and that heartbeat's error count, and
    `steam_dagster_daemon_info{daemon_id} 1` for each daemon process among the latest heartbeats.
    Nothing when no daemon ever ran against the instance."""
    moment = time.time() if now is None else now
    age = GaugeMetricFamily(
        "steam_dagster_daemon_heartbeat_age_seconds",
        "Seconds since the daemon thread of this type last wrote a heartbeat",
        labels=["daemon_type"],
    )
    errors = GaugeMetricFamily(
        "steam_dagster_daemon_heartbeat_errors",
        "Errors reported in the latest heartbeat of the daemon thread of this type",
        labels=["daemon_type"],
    )
    info = GaugeMetricFamily(
        "steam_dagster_daemon_info",
        "A daemon process whose heartbeat is the latest of some daemon type (a new id: a restart)",
        labels=["daemon_id"],
    )
    heartbeats = instance.get_daemon_heartbeats()
    for daemon_type, beat in sorted(heartbeats.items()):
        age.add_metric([daemon_type], max(0.0, moment - beat.timestamp))
        errors.add_metric([daemon_type], len(beat.errors or []))
    for daemon_id in sorted({beat.daemon_id for beat in heartbeats.values() if beat.daemon_id}):
        info.add_metric([daemon_id], 1)
    yield age
    yield errors
    yield info


def postgres_run_storage(instance: DagsterInstance) -> PostgresRunStorage | None:
    """The instance's run storage when it is Postgres (`run_storage: postgres`, or inside
    `storage: postgres` as `deploy/dagster.yaml` configures it), else None.

    `storage:` wraps the three storages in a `LegacyRunStorage` that offers no public way to the
    one it delegates to; its `_storage` is the `DagsterPostgresStorage` (tests/monitoring's
    Postgres test reads the start time through `deploy/dagster.yaml`, so a Dagster upgrade that
    moves it fails there, not silently in production)."""
    storage = instance.run_storage
    if isinstance(storage, LegacyRunStorage):
        storage = storage._storage.run_storage
    return storage if isinstance(storage, PostgresRunStorage) else None


def storage_metrics(instance: DagsterInstance) -> Iterator[GaugeMetricFamily]:
    """`steam_dagster_storage_start_timestamp_seconds`: when the Postgres server holding Dagster's
    run storage started (Unix time); nothing for any other storage."""
    storage = postgres_run_storage(instance)
    if storage is None:
        return
    with storage.connect() as conn:
        started = conn.execute(db.text("SELECT extract(epoch FROM pg_postmaster_start_time())")).scalar_one()
    started_family = GaugeMetricFamily(
        "steam_dagster_storage_start_timestamp_seconds",
        "When the Postgres server holding Dagster's storage started (Unix time)",
    )
    started_family.add_metric([], float(started))
    yield started_family
