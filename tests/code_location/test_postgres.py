"""Dagster's instance storage on the local stack's real PostgreSQL, checked from the database side.

Runs, materialisations and schedule state must survive the webserver and daemon restarting and be
shared between them: that holds only if `deploy/dagster.yaml` really points Dagster at PostgreSQL.
The run is therefore verified with plain SQL against the server, not through Dagster's own API.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

from steam_devstack.health import StackError, free_port
from steam_devstack.paths import REPO_ROOT
from steam_devstack.process import is_alive, process_tree
from steam_devstack.services.base import StackContext
from steam_devstack.services.postgres import PostgresService
from steam_devstack.services.postgres_tools import find_binaries
from steam_devstack.stack import LocalStack
from steam_platform.core.instance_storage import PooledPostgresStorage

DAGSTER_YAML = REPO_ROOT / "deploy" / "dagster.yaml"


@dg.asset
def steam_probe() -> dg.MaterializeResult:
    """A stand-in for a platform asset: one materialisation with metadata."""
    return dg.MaterializeResult(metadata={"players": 1_862_531})


@pytest.fixture
def instance(
    stack_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance built from the repository's `deploy/dagster.yaml` in a fresh DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for key, value in stack_env.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as inst:
        yield inst


def _connect(env: dict[str, str]) -> psycopg2.extensions.connection:
    return psycopg2.connect(
        host=env["DAGSTER_PG_HOST"],
        port=int(env["DAGSTER_PG_PORT"]),
        user=env["DAGSTER_PG_USER"],
        password=env["DAGSTER_PG_PASSWORD"],
        dbname=env["DAGSTER_PG_DB"],
    )


def _sessions_opened(env: dict[str, str]) -> int:
    """Connections Postgres has accepted to the Dagster database so far (this one included)."""
    with _connect(env) as conn, conn.cursor() as cur:
        cur.execute("select sessions from pg_stat_database where datname = %s", (env["DAGSTER_PG_DB"],))
        (sessions,) = cur.fetchone()
    conn.close()
    return int(sessions)


def test_the_instance_config_selects_postgres_retries_and_pools(instance: dg.DagsterInstance) -> None:
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.get_ref().storage, PooledPostgresStorage)  # what run workers load
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"


def test_a_materialization_lands_in_the_postgres_tables(
    instance: dg.DagsterInstance, stack_env: dict[str, str]
) -> None:
    result = dg.materialize([steam_probe], instance=instance)
    assert result.success

    with _connect(stack_env) as conn, conn.cursor() as cur:
        cur.execute("select status from runs where run_id = %s", (result.run_id,))
        assert cur.fetchall() == [("SUCCESS",)]
        cur.execute(
            "select asset_key from event_logs where run_id = %s and dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        rows = cur.fetchall()
    conn.close()
    assert [json.loads(key) for (key,) in rows] == [["steam_probe"]]
    # And Dagster reads back what it wrote (same database, through its own storage layer).
    event = instance.get_latest_materialization_event(dg.AssetKey("steam_probe"))
    assert event is not None and event.run_id == result.run_id


def test_the_instance_reuses_its_connections(instance: dg.DagsterInstance, stack_env: dict[str, str]) -> None:
    """dagster-postgres alone opens a connection per query (~7 ms of CPU each on this machine);
    the platform's storage keeps one per storage and process: 60 queries, at most 3 new sessions
    (one per storage not yet used) plus the 2 of `_sessions_opened` itself."""
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        assert type(storage._engine.pool).__name__ == "QueuePool"  # type: ignore[attr-defined]
    before = _sessions_opened(stack_env)
    for _ in range(20):
        instance.get_runs(limit=1)
        instance.get_latest_materialization_event(dg.AssetKey("steam_probe"))
        instance.all_instigator_state()
    opened = _sessions_opened(stack_env) - before
    assert opened <= 3 + 1, f"{opened} connections for 60 queries"


def test_a_disposed_instance_leaves_no_connection_open(
    stack_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code server makes an instance per sensor tick: its pooled connections must close with it."""

    def open_now() -> int:
        with _connect(stack_env) as conn, conn.cursor() as cur:
            cur.execute("select count(*) from pg_stat_activity where application_name = 'dagster'")
            (count,) = cur.fetchone()
        conn.close()
        return int(count)

    before = open_now()
    with _instance_on(stack_env, tmp_path / "home", monkeypatch) as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        assert open_now() >= before + 2  # kept open while the instance lives
    assert open_now() == before


def test_the_dagster_role_is_no_superuser_and_owns_its_database(stack_env: dict[str, str]) -> None:
    with _connect(stack_env) as conn, conn.cursor() as cur:
        cur.execute("select rolsuper, rolcreatedb from pg_roles where rolname = current_user")
        assert cur.fetchone() == (False, False)
        cur.execute(
            "select pg_get_userbyid(datdba), pg_encoding_to_char(encoding) from pg_database "
            "where datname = current_database()"
        )
        assert cur.fetchone() == ("dagster", "UTF8")
        cur.execute("show listen_addresses")
        assert cur.fetchone() == ("127.0.0.1",)
    conn.close()


def test_secrets_stay_out_of_the_log_and_are_private(local_stack: LocalStack) -> None:
    service = next(s for s in local_stack.services if isinstance(s, PostgresService))
    assert stat.S_IMODE(service.credentials_file.stat().st_mode) == 0o600
    password = service.endpoints()["DAGSTER_PG_PASSWORD"]
    assert len(password) >= 24
    assert password not in service.process().log_file.read_text()


@contextlib.contextmanager
def _instance_on(
    env: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    """An instance of `deploy/dagster.yaml` on the server whose `DAGSTER_PG_*` are `env`."""
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    with monkeypatch.context() as patched:
        patched.setenv("DAGSTER_HOME", str(home))
        for key, value in env.items():
            patched.setenv(key, value)
        with dg.DagsterInstance.get() as instance:
            yield instance


def test_stop_leaves_no_process_and_a_restart_reuses_the_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second, private server: stop must end the postmaster *and* its (own-session) children."""
    ctx = StackContext(state_dir=tmp_path / "pgstate", cache_dir=tmp_path / "cache")
    ctx.ports["postgres"] = free_port()
    service = PostgresService(ctx)
    try:
        service.start()
        pid = service.process().pid()
        assert pid is not None
        tree = process_tree(pid)
        assert len(tree) >= 4  # postmaster, checkpointer, background writer, walwriter, ...
        assert service.stop() == ["postgres"]
        assert not [p for p in tree if is_alive(p)]
        assert not service.is_running() and not service.healthy()

        password = service.endpoints()["DAGSTER_PG_PASSWORD"]
        service.start()  # same cluster, same credentials; role and database setup is idempotent
        assert service.healthy()
        with _instance_on(service.endpoints(), tmp_path / "home", monkeypatch) as instance:
            instance.get_runs(limit=1)  # a pooled connection, kept open
            service.stop()
            service.start()
            # The kept connection died with the server: the pool notices before lending it.
            assert instance.get_runs(limit=1) == []
        service.stop()
        service.start()
        assert service.healthy()
        assert service.endpoints()["DAGSTER_PG_PASSWORD"] == password
        assert "database system was shut down at" in service.process().log_file.read_text()
        assert "was interrupted" not in service.process().log_file.read_text()  # no crash recovery
        service.stop()

        # Lost passwords cannot be recovered from the cluster: say so instead of timing out.
        service.credentials_file.rename(service.credentials_file.with_suffix(".bak"))
        with pytest.raises(StackError, match="purge"):
            service.start()
        assert not service.is_running()
    finally:
        service.stop()
    assert not service.is_running()


def test_missing_binaries_point_at_make_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEAM_PG_BINDIR", str(tmp_path))
    with pytest.raises(StackError, match="make install"):
        find_binaries()
    assert os.environ["STEAM_PG_BINDIR"] == str(tmp_path)
