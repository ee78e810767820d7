"""The soak's end: snapshots polled (run metadata) vs the lake's tables vs Elasticsearch, and Kafka lag.

Read once, after the window and the drain, with the platform's own resources (`build_resources`:
the stack's S3 through pyarrow, its Kafka through confluent-kafka).
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from soak_support import RunWatcher, SearchWatcher

from steam_platform.core import sources


def reconcile(resources: dict[str, Any], runs: RunWatcher, search: SearchWatcher) -> dict[str, Any]:
    """Snapshots polled = `fact_player_counts` rows = `samples` in `mart_game_daily` (ES and lake).

    The mart is compared with the live snapshots: `samples` counts live ones only ('no match' has no
    player count). Snapshots produced after the newest successful lake run was requested are "in
    flight" (the next lake run lands them), not lost; with no lake run seen at all, none is.
    """
    s3, kafka = resources["s3"], resources["kafka"]
    fs, polls = s3.filesystem(), [p for p in runs.polls.values() if p.apps is not None]
    days = sorted({p.day for p in runs.polls.values()})
    lake = lake_counts(fs, s3.lake_path(), days)
    searchable = search.sample() or {}
    landing = runs.last_landing()
    flying = [p for p in polls if landing is not None and (p.produced_at or 0) > landing]
    polled, live = sum(p.apps or 0 for p in polls), sum(p.live or 0 for p in polls)
    due, due_live = polled - sum(p.apps or 0 for p in flying), live - sum(p.live or 0 for p in flying)
    rows, distinct = lake["fact_rows"] or 0, lake["fact_distinct"] or 0
    mart = sum(searchable.get(d, 0) for d in days)
    return {
        "days": days,
        "snapshots_polled": polled,
        "live_snapshots_polled": live,
        "in_flight_polls": len(flying),
        "in_flight_snapshots": polled - due,
        **lake,
        "mart_samples_es": mart,
        "lost_in_fact": max(0, due - distinct),
        "doubled_in_fact": rows - distinct + max(0, distinct - polled),
        "lost_in_mart": max(0, due_live - mart),
        "doubled_in_mart": max(0, mart - live),
        "kafka_lag": kafka_lag(kafka.consumer_config("soak-lag-probe"), fs, s3.lake_path()),
    }


def lake_counts(fs: pafs.FileSystem, lake: str, days: list[str]) -> dict[str, int | None]:
    """`fact_player_counts` rows, distinct event ids and live rows; `samples` in `mart_game_daily`.

    Summed over the `dt=` partitions of `days` (pyarrow on the stack's S3); None for a table of
    which none of those partitions exists.
    """
    fact = _read(fs, f"{lake}/warehouse/fact_player_counts", days, ["event_id", "player_count"])
    mart = _read(fs, f"{lake}/marts/mart_game_daily", days, ["samples"])
    if fact is None:
        totals: dict[str, int | None] = dict.fromkeys(("fact_rows", "fact_distinct", "fact_live"))
    else:
        totals = {
            "fact_rows": fact.num_rows,
            "fact_distinct": len(set(fact.column("event_id").to_pylist())),
            "fact_live": fact.num_rows - fact.column("player_count").null_count,
        }
    totals["mart_samples"] = None if mart is None else sum(v or 0 for v in mart.column("samples").to_pylist())
    return totals


def _read(fs: pafs.FileSystem, table: str, days: list[str], columns: list[str]) -> pa.Table | None:
    """The `dt=` partitions of `days` of one lake table, concatenated; None when none exists."""
    parts = []
    for day in days:
        try:
            parts.append(pq.read_table(f"{table}/dt={day}", filesystem=fs, columns=columns))
        except (FileNotFoundError, OSError):
            continue
    return pa.concat_tables(parts) if parts else None


def kafka_lag(consumer_config: dict[str, Any], fs: pafs.FileSystem, lake: str) -> int | None:
    """Player-count records in Kafka that bronze has not committed yet (end offsets - checkpoint).

    Reads the streaming query's last committed batch (`commits/N`) and its offsets (`offsets/N`)
    from the lake; None when Kafka or the checkpoint cannot be read.
    """
    from confluent_kafka import Consumer, TopicPartition

    topic, base = sources.PLAYER_COUNTS.topic, f"{lake}/_checkpoints/bronze_{sources.PLAYER_COUNTS.topic}"
    try:
        done = fs.get_file_info(pafs.FileSelector(f"{base}/commits", allow_not_found=True))
        batches = [int(i.base_name) for i in done if i.base_name.isdigit()]
        committed: dict[str, int] = {}
        if batches:  # the offsets file's last line: {"<topic>": {"<partition>": <next offset>, ...}}
            with fs.open_input_stream(f"{base}/offsets/{max(batches)}") as stream:
                committed = json.loads(stream.read().decode().splitlines()[-1]).get(topic, {})
        consumer = Consumer(consumer_config)
        try:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        finally:
            consumer.close()
    except Exception:  # an optional figure: when it cannot be read, it is left out
        return None
    return sum(max(0, end - int(committed.get(str(p), 0))) for p, end in ends.items())
