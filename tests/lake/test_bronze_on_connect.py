"""Bronze lands on the Spark Connect server: every event once, bad records in quarantine, its checks.

Runs attached to Spark Connect start no driver of their own, bronze's landing included: its
`foreachBatch` runs in the server's Python worker, checks the run's lease in the store and reports
each batch back through the lease folder (`streaming/bronze_connect.py`). The platform's bronze
asset, built for a topic of the test's own, lands it twice from a run process attached to the
stack's Connect server (`connect_bronze_run.py`), parsing with bronze's own parser (the server's
session extensions) and appending in place (the query-wide commit protocol the run sets); the lake
is then read here. A `foreachBatch`
whose lease was taken over by another writer writes nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from lake_support import at, bronze_event_ids, event_ids, player_count_message, produce, raw_message
from pyspark.sql import SparkSession

from steam_devstack.services.spark import connector_jars
from steam_devstack.services.spark_connect import SparkConnectService
from steam_platform.resources.kafka import KafkaResource, TopicSpec
from steam_platform.resources.s3 import S3Resource
from streaming.checkpoint_lease import lease_location
from streaming.envelope_schema import QUARANTINE_SCHEMA
from streaming.lake_paths import checkpoint_path, quarantine_path
from streaming.tables_io import read_table
from streaming.worker_forkserver import LOG_PREFIX as FORKED_LOG
from streaming.worker_launcher import FOREACH_BATCH_WORKER

pytestmark = pytest.mark.integration

CONNECT_BRONZE_RUN = Path(__file__).with_name("connect_bronze_run.py")


def _run_attached(
    spark_connect: SparkConnectService, s3: S3Resource, topic: str, env_file: Path, report: Path, *extra: str
) -> dict[str, Any]:
    argv = [
        sys.executable, str(CONNECT_BRONZE_RUN), "--remote", spark_connect.remote, "--bucket", s3.bucket,
        "--topic", topic, "--env", str(env_file), "--report", str(report),
        "--jars", ":".join(str(p) for p in connector_jars()), *extra,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, Any] = json.loads(report.read_text())
    assert found["jvm_started"] is False  # the landing ran on the server
    return found


def _forked_workers(spark_connect: SparkConnectService) -> int:
    """How many `foreachBatch` workers the server's fork server started so far (its log says)."""
    (server,) = spark_connect.processes()
    text = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
    return text.count(f"{FORKED_LOG} started {FOREACH_BATCH_WORKER}")


def test_bronze_lands_on_spark_connect_once_with_quarantine_checks_and_its_lease(
    spark: SparkSession,
    lake_kafka: KafkaResource,
    fresh_s3: Callable[[], S3Resource],
    spark_connect: SparkConnectService,
    stack_env: dict[str, str],
    tmp_path: Path,
) -> None:
    forked_before = _forked_workers(spark_connect)
    s3 = fresh_s3()
    topic, fenced = (f"test.connect.{name}.{uuid.uuid4().hex[:8]}" for name in ("bronze", "fenced"))
    lake_kafka.ensure_topics([TopicSpec(topic, partitions=3), TopicSpec(fenced, partitions=1)])
    env_file = tmp_path / "stack-env.json"
    env_file.touch(0o600)
    env_file.write_text(json.dumps(stack_env))
    start = at("2026-10-01T23:00")
    good = [player_count_message(topic, 100 + i % 20, start + timedelta(minutes=i), i) for i in range(300)]
    bad = [
        raw_message(topic, b"not json"),
        raw_message(
            topic, b'{"event_id": "abcdefabcdefabcdef", "source": "s", "observed_at": "2026-10-01T00:00:00Z"}'
        ),
    ]

    produce(lake_kafka, good[:200])
    first = _run_attached(spark_connect, s3, topic, env_file, tmp_path / "first.json")["metadata"]
    assert (first["rows_landed"], first["rows_quarantined"]) == (200, 0)
    assert first["envelope_parser"] == "jvm"  # the server's sessions have bronze's parser (its extensions)
    assert first["days_landed"] == ["2026-10-01", "2026-10-02"]

    produce(lake_kafka, good[200:250] + bad + good[250:])
    produce(lake_kafka, [player_count_message(fenced, 1, start, 1)])
    second = _run_attached(
        spark_connect, s3, topic, env_file, tmp_path / "second.json", "--stale-lease-topic", fenced
    )
    assert (second["metadata"]["rows_landed"], second["metadata"]["rows_quarantined"]) == (100, 2)
    assert second["metadata"]["days_landed"] == ["2026-10-02"]

    landed = bronze_event_ids(s3, topic)
    assert sorted(landed) == sorted(event_ids(good))  # every event once, across both runs
    quarantine = read_table(spark, quarantine_path(s3.lake_root(), topic), QUARANTINE_SCHEMA)
    assert sorted(r.reason for r in quarantine.collect()) == [
        "not a JSON envelope or event_id missing",
        "payload missing",
    ]
    # The batch reports went with the run that read them: only the lease's own objects stay.
    lease_folder = lease_location(checkpoint_path(s3.lake_root(), topic)).split(f"{s3.bucket}/", 1)[1]
    left = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=lease_folder).get("Contents", [])
    assert not [o["Key"] for o in left if "/report-" in o["Key"]]

    # Appends wrote in place (the query-wide protocol the run set): nothing staged, no `_SUCCESS`.
    listed = s3.client().list_objects_v2(Bucket=s3.bucket).get("Contents", [])  # a fresh bucket: < 1,000
    keys = [o["Key"] for o in listed]
    bronze_keys = [k for k in keys if "/bronze/" in k or "/quarantine/" in k]
    assert bronze_keys and not [k for k in bronze_keys if k.endswith("_SUCCESS") or "staging" in k], keys

    # Each query's `foreachBatch` worker was forked ready-made by the server's fork server
    # (streaming/worker_forkserver.py), not started as a fresh interpreter.
    forked = _forked_workers(spark_connect) - forked_before
    assert forked >= 3, forked  # one per query: two landings, the fenced writer's

    assert "was taken over by the test's new writer" in second["stale_lease_error"]
    written = s3.filesystem().get_file_info(f"{s3.lake_path()}/bronze/{fenced}")
    assert written.type == pafs.FileType.NotFound  # nothing landed
