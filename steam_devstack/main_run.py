"""The README's main command: stack up, then materialise the pipeline end to end, recorded in the
same Dagster instance `make dev` shows (Postgres storage from `deploy/dagster.yaml`).

The pipeline mixes unpartitioned, hourly and daily assets, which Dagster runs as separate jobs.
`plan_stages` orders them layer by layer (bus -> ingest -> lake -> warehouse -> marts -> search) and
picks the partition in progress for each partitioned stage, so one command leaves every layer
materialised for "now" — exactly what the schedules and sensors do over time.

`steam-platform run --brokers 3 --kafka-security sasl_ssl --state-dir DIR` runs the same pipeline
against a three-node cluster that authenticates every client (SCRAM-SHA-512 over TLS): the stack's
env carries the user, password and CA, and every Kafka client of the run (ingest producer, admin,
Spark's Kafka source) uses them.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from steam_devstack.health import StackError
from steam_devstack.paths import REPO_ROOT, make_private, private_dir
from steam_devstack.services.kafka_tls import KafkaSecurity
from steam_devstack.stack import LocalStack
from steam_platform.core.constants import (
    GROUP_BUS,
    GROUP_INGEST,
    GROUP_LAKE,
    GROUP_MARTS,
    GROUP_SEARCH,
    GROUP_WAREHOUSE,
)
from steam_platform.core.redaction import redact
from steam_platform.core.settings import Environment, KafkaSettings, SearchSettings, SteamSettings

#: Layers in data-flow order; groups not listed run last, in name order.
GROUP_ORDER = (GROUP_BUS, GROUP_INGEST, GROUP_LAKE, GROUP_WAREHOUSE, GROUP_MARTS, GROUP_SEARCH)


#: Step-level INFO logs on the console (DEBUG lists every engine event); the UI keeps everything.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass(frozen=True)
class Stage:
    """One run of the main job: assets of one layer sharing a partitioning, and the partition."""

    group: str
    asset_keys: tuple[dg.AssetKey, ...]
    partition_key: str | None

    @property
    def label(self) -> str:
        keys = ", ".join(k.to_user_string() for k in self.asset_keys)
        where = f" [{self.partition_key}]" if self.partition_key else ""
        return f"{self.group}{where}: {keys}"


def _partition_in_progress(partitions_def: dg.PartitionsDefinition, now: datetime) -> str:
    """The partition holding `now` (time-window partitions), else the last one."""
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        key = partitions_def.get_partition_key_for_timestamp(now.timestamp())
        if partitions_def.has_partition_key(key):
            return key
    last = partitions_def.get_last_partition_key()
    if last is None:
        raise ValueError(f"{partitions_def} has no partitions to materialise")
    return last


def plan_stages(defs: dg.Definitions, now: datetime | None = None) -> list[Stage]:
    """Every asset of `defs` in runs ordered by layer, each with the partition to materialise."""
    now = now or datetime.now(UTC)
    by_stage: dict[tuple[str, str], list[dg.AssetKey]] = {}
    partitions_of: dict[tuple[str, str], dg.PartitionsDefinition | None] = {}
    for spec in defs.resolve_all_asset_specs():
        if not defs.resolve_assets_def(spec.key).is_executable:
            continue
        group = spec.group_name or "default"
        pdef = spec.partitions_def
        slot = (group, repr(pdef) if pdef is not None else "")
        by_stage.setdefault(slot, []).append(spec.key)
        partitions_of[slot] = pdef

    def order(slot: tuple[str, str]) -> tuple[int, str, str]:
        group, pdef_repr = slot
        rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
        return (rank, group, pdef_repr)

    stages = []
    for slot in sorted(by_stage, key=order):
        pdef = partitions_of[slot]
        key = _partition_in_progress(pdef, now) if pdef is not None else None
        stages.append(Stage(slot[0], tuple(sorted(by_stage[slot])), key))
    return stages


def prepare_dagster_home(stack: LocalStack) -> Path:
    """A private (0700) DAGSTER_HOME inside the stack's state folder, using the repo's instance
    config: run storage, compute logs and the event log's local files stay the owner's."""
    home = private_dir(stack.state_dir / "dagster_home")
    config = REPO_ROOT / "deploy" / "dagster.yaml"
    if config.exists():
        shutil.copyfile(config, home / "dagster.yaml")
        make_private(home / "dagster.yaml")
    return home


def run_stages(defs: dg.Definitions, instance: dg.DagsterInstance, stages: list[Stage]) -> bool:
    """Run each stage in order, stopping at the first failure; prints one line per stage."""
    for stage in stages:
        started = time.monotonic()
        print(f"==> {stage.label}", flush=True)
        job = defs.resolve_implicit_job_def_def_for_assets(list(stage.asset_keys))
        if job is None:
            print(f"    no job covers {stage.label}", file=sys.stderr)
            return False
        result = job.execute_in_process(
            instance=instance,
            partition_key=stage.partition_key,
            asset_selection=list(stage.asset_keys),
            raise_on_error=False,
            run_config=QUIET_LOGS,
            tags={"steam_devstack/main_run": "true"},
        )
        materialised = sum(1 for e in result.all_events if e.is_step_materialization)
        status = "ok" if result.success else "FAILED"
        print(
            f"    run {result.run_id}: {status} in {time.monotonic() - started:.0f}s, "
            f"{materialised} materialisations",
            flush=True,
        )
        if not result.success:
            return False
    return True


def print_where_to_look(env: dict[str, str], dagster_home: Path) -> None:
    """Tell the newcomer where the results are: the UI, the lake, the search indices."""
    print("\nWhere to look:")
    print(f"  Dagster UI:      make dev, then http://127.0.0.1:3000 (DAGSTER_HOME={dagster_home})")
    if "S3_ENDPOINT_URL" in env:
        bucket = env.get("LAKE_BUCKET", "steam-lake")
        print(f"  Lake (S3):       aws --endpoint-url {env['S3_ENDPOINT_URL']} s3 ls s3://{bucket}/lake/")
    if "ELASTICSEARCH_URL" in env:
        es = env["ELASTICSEARCH_URL"]
        print(f"  Elasticsearch:   curl '{es}/_cat/aliases?v'")
        print(f"                   curl '{es}/mart_top_games/_search?q=rank:1&pretty'")
        print(f"                   curl '{es}/steam_news/_search?q=title:update&pretty'")
    kibana = SearchSettings.load(Environment.LOCAL).kibana_url
    print(
        f"  Kibana:          {kibana}"
        if kibana
        else "  Kibana:          not configured (set KIBANA_URL; docker compose starts one)"
    )


def kafka_summary(kafka: KafkaSettings) -> str:
    """Where and how the run reaches Kafka (servers, protocol, user, CA), without the password."""
    line = f"{kafka.bootstrap_servers} ({kafka.security_protocol}"
    if kafka.sasl_mechanism:
        line += f", {kafka.sasl_mechanism} user {kafka.sasl_username or ''!r}"
    if kafka.ssl_ca_location:
        line += f", CA {kafka.ssl_ca_location}"
    return line + ")"


def run_main(
    state_dir: Path | None = None,
    brokers: int | None = None,
    kafka_security: KafkaSecurity | str | None = None,
) -> int:
    """Bring the stack up and materialise every layer for the period in progress; an exit code.

    `state_dir` (default `.stack/` or `$STEAM_STACK_DIR`) holds the stack and the Dagster instance;
    `brokers` and `kafka_security` choose the Kafka cluster (kept in the folder's `stack.json`).
    """
    started = time.monotonic()
    try:
        stack = LocalStack(state_dir, brokers=brokers, kafka_security=kafka_security)
        env = stack.up()
    except StackError as exc:
        print(f"stack up failed: {redact(str(exc))}", file=sys.stderr)
        return 1
    os.environ["STEAM_STACK_DIR"] = str(stack.state_dir)  # its env file backs LocalEndpoints
    for key, value in env.items():  # what the caller set wins, e.g. STEAM_API_BASE_URL for real Steam
        os.environ.setdefault(key, value)
    print(f"Steam Web API: {SteamSettings.load(Environment.LOCAL).api_base_url}")
    print(f"Kafka: {kafka_summary(KafkaSettings.load(Environment.LOCAL))}")
    dagster_home = prepare_dagster_home(stack)
    os.environ["DAGSTER_HOME"] = str(dagster_home)  # for DagsterInstance.get() and the runs

    from steam_platform.definitions import defs

    stages = plan_stages(defs)
    with dg.DagsterInstance.get() as instance:
        ok = run_stages(defs, instance, stages)
    print(
        f"\npipeline {'SUCCESS' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s, {len(stages)} runs"
    )
    print_where_to_look(env, dagster_home)
    return 0 if ok else 1
