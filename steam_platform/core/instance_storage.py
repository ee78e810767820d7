"""Dagster's Postgres storage with pooled connections, for a platform that runs unattended.

`dagster-postgres` opens a new database connection for every query outside the webserver
(SQLAlchemy `NullPool`). The daemon, the code server (sensor ticks) and every run worker query the
instance many times a second, so a running platform opened ~600 connections a minute while idle
and ~1,700 in a minute with a lake run. Each connection costs a TCP and SCRAM handshake on both
ends and a forked Postgres backend (~7 ms of CPU measured here): on its own that was a third of
the CPU budget of a platform polling every 10 minutes (issue #17).

`PooledPostgresStorage` is the same storage (same tables, same `postgres_db` config, so
`deploy/dagster.yaml` only names the class) whose three engines keep one connection per process
open and reuse it, the pooling Dagster itself gives its webserver. Unlike the webserver's, the pool
checks a connection before lending it (`pool_pre_ping`), so a Postgres restart costs one ping, not
one failed query per process, and sets no statement timeout (run workers and the daemon may run
long queries that the webserver must not).
"""

from __future__ import annotations

from typing import Any

import dagster._check as check
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

#: Connections a process keeps open per storage (run, event log, schedule) between queries.
POOL_SIZE = 1
#: Extra connections a busy process (the daemon's threads, a webserver) may open at once; closed
#: again when returned, so they cost what every connection costs without the pool.
MAX_OVERFLOW = 10
#: Reopen a kept connection after this long, so none outlives a server-side idle limit.
POOL_RECYCLE_S = 3600


def pooled_engine(storage: Any) -> Any:
    """A pooled engine for one of Dagster's Postgres storages (its URL and token provider)."""
    return create_pg_engine(
        storage.postgres_url,
        getattr(storage, "_token_provider", None),
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=POOL_RECYCLE_S,
        pool_pre_ping=True,
    )


def _dispose_also(storage: Any, *engines: Any) -> None:
    """Make `storage.dispose()` (called by `instance.dispose()`) close `engines`' kept connections
    too, so a process that makes an instance per task (the code server, per sensor tick) leaves no
    idle connection behind."""
    dispose = storage.dispose

    def dispose_with_pools() -> None:
        dispose()
        for engine in engines:
            engine.dispose()

    storage.dispose = dispose_with_pools


class PooledPostgresStorage(DagsterPostgresStorage):
    """`DagsterPostgresStorage` whose run, event-log and schedule storages reuse their connections."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
    ) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        storages = (self._run_storage, self._event_log_storage, self._schedule_storage)
        for storage in storages:
            replaced, storage._engine = storage._engine, pooled_engine(storage)
            replaced.dispose()
        # Dagster disposes the run and event-log storages only: the run storage takes the
        # schedule storage's pool along.
        _dispose_also(self._run_storage, self._run_storage._engine, self._schedule_storage._engine)
        _dispose_also(self._event_log_storage, self._event_log_storage._engine)

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledPostgresStorage:
        check.mapping_param(config_value, "config_value")
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
