"""`steam-platform load` on the session's stack: 100,000 events through every stage, each exactly once.

The issue's "a 100,000-event run is a test": player counts of 1,000 apps every 10 minutes plus 1,000
news posts, produced with the platform's producer, landed to bronze, built into the warehouse
facts and the daily mart, and indexed, all under the run's own topics, lake root and aliases
(removed at the end). The figures the command prints and writes (`--json`) are checked for
presence and sanity; the accounting itself is unit-tested in `test_load_accounting.py`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.fs as pafs
from rich.console import Console

from steam_devstack.kafka_drill import stack_kafka
from steam_devstack.load.plan import LoadPlan, new_run_id
from steam_devstack.load.report import print_report, write_json
from steam_devstack.load.run import run_load
from steam_devstack.stack import LocalStack
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.s3 import S3Resource

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EVENTS, APPS = 100_000, 1000


def test_a_100000_event_load_arrives_exactly_once_in_every_stage(
    local_stack: LocalStack,
    s3: S3Resource,
    spark: SparkSession,
    es_resource: ElasticsearchResource,
    tmp_path: Path,
) -> None:
    plan = LoadPlan(new_run_id(), events=EVENTS, apps=APPS)
    kafka = stack_kafka(local_stack)
    console = Console(file=io.StringIO(), width=160)
    result = run_load(
        plan, stack=local_stack, kafka=kafka, s3=s3, spark=spark, elasticsearch=es_resource, console=console
    )
    assert result.problems == [] and result.exit_code == 0

    # Exact rows per stage: 99,000 snapshots + 1,000 posts; one day of 1,000 apps in the mart;
    # the mart's rows plus the posts in Elasticsearch.
    rows = {s.name: s.rows for s in result.stages}
    assert rows == {
        "produce": EVENTS,
        "bronze": EVENTS,
        "warehouse": EVENTS,
        "marts": APPS,
        "search": APPS + 1000,
    }
    checks = {c.stage: (c.expected, c.rows, c.distinct, c.lost, c.doubled) for c in result.id_checks}
    assert checks == {
        "bronze player_counts": (99_000, 99_000, 99_000, 0, 0),
        "bronze news": (1000, 1000, 1000, 0, 0),
        "fact_player_counts": (99_000, 99_000, 99_000, 0, 0),
        "fact_news": (1000, 1000, 1000, 0, 0),
    }
    assert len(result.comparisons) == 8 and all(c.ok for c in result.comparisons)

    write_json(result, tmp_path / "load.json")
    figures = json.loads((tmp_path / "load.json").read_text())
    assert (figures["lost"], figures["doubled"], figures["ok"]) == (0, 0, True)
    for stage in ("produce", "bronze", "warehouse", "marts", "search"):
        assert figures["stages"][stage]["rows_per_s"] > 0 and figures["stages"][stage]["mb_per_s"] > 0
    spread = figures["kafka"]["spread"][plan.players_topic]
    assert sum(spread["per_partition"].values()) == 99_000 and len(spread["per_partition"]) == 6
    assert 1.0 <= spread["max_over_mean"] < 1.5  # 1,000 keys hash evenly over 6 partitions
    assert figures["kafka"]["bytes_per_broker"]["1"] > 0
    memory = figures["memory"]
    assert {"kafka-1", "s3", "elasticsearch", "spark-driver"} <= set(memory["peak_rss_mib"])
    assert memory["servers_died"] == [] and memory["samples"] >= 10
    assert {j["process"] for j in memory["jvms"]} >= {"kafka-1", "s3", "elasticsearch", "spark-driver"}
    assert all(j["within_cap"] and 0 < j["peak_rss_mib"] < j["cap_mib"] for j in memory["jvms"])

    print_report(result, console)
    assert "RESULT: every event exactly once in every stage" in console.file.getvalue()  # type: ignore[attr-defined]

    # Nothing of the run is left behind.
    assert result.not_removed == []
    assert not set(plan.topics) & set(kafka.admin().list_topics(timeout=10).topics)
    # No object of the run under its lake root, data or marker. (Twice in ~6 suite runs the root
    # itself was still listed as a folder with nothing under it, which the S3 server alone does:
    # the run left nothing; steam_devstack/load/cleanup.py deletes every marker it can see.)
    root = f"{s3.bucket}/load/{plan.run_id}"
    left = s3.filesystem().get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    assert left == [], [(i.path, i.type.name) for i in left]
    bucket, _, prefix = root.partition("/")
    objects = s3.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
    assert objects == [], [o["Key"] for o in objects]
    es = es_resource.client()
    try:
        assert es.get_indices(f"load-{plan.run_id}-*") == []
    finally:
        es.close()
