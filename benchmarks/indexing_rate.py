"""Indexing rate: documents/s into Elasticsearch for a mart partition, vs per-document requests.

Starts its own Elasticsearch 7.10.2 node (local stack, temporary state, free ports) and indexes
`--docs` mart_game_daily documents (from the table contract's mapping) in the same run as:

- baseline: one `index` request per document (what a naive loop does), on the first `--baseline-docs`;
- single bulk: every document in one `_bulk` request (no chunking), into the same mapping;
- partition sync: `indexer.sync_partition` as the search assets run it (chunked `_bulk` with
  retries, stale-document comparison by id, one refresh);
- full refresh: `indexer.full_refresh` (new versioned index, refreshes off while loading, refresh,
  count check, atomic alias swap, old index removed).

Prints docs/s per variant (median of `--repeat` runs) and the ratio to the baseline.

    .venv/bin/python benchmarks/indexing_rate.py [--docs 20000] [--baseline-docs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from steam_devstack.stack import LocalStack
from steam_platform.assets.search import indexer
from steam_platform.assets.search.templates import GAME_DAILY
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings
from steam_platform.resources.es_client import SearchClient

DT = "2026-10-05"
BASELINE = "baseline: one index request per doc"


def documents(n: int) -> list[dict[str, Any]]:
    """`n` mart_game_daily documents for one day (distinct apps)."""
    return [
        {
            "appid": 100_000 + i,
            "app_name": f"Game {i}",
            "dt": DT,
            "peak_players": 1000 + i,
            "avg_players": 600.5 + i,
            "min_players": 300 + i,
            "samples": 96,
            "news_posts": i % 3,
        }
        for i in range(n)
    ]


def fresh_index(es: SearchClient, name: str) -> str:
    """An empty index with the mart's mapping and settings (no alias involved)."""
    es.delete_index(name)
    es.create_index(name, {"settings": GAME_DAILY.settings(), "mappings": GAME_DAILY.mappings()})
    return name


def one_by_one(es: SearchClient, docs: list[dict[str, Any]]) -> None:
    index = fresh_index(es, "bench-one-by-one")
    for doc in docs:
        es.perform("PUT", f"/{index}/_doc/{GAME_DAILY.doc_id(doc)}", body=doc)
    es.refresh(index)


def single_bulk(es: SearchClient, docs: list[dict[str, Any]]) -> None:
    index = fresh_index(es, "bench-single-bulk")
    lines: list[dict[str, Any]] = []
    for d in docs:
        lines += [{"index": {"_index": index, "_id": GAME_DAILY.doc_id(d)}}, d]
    answer = es.bulk(lines)
    assert not answer["errors"]
    es.refresh(index)


def partition_sync(es: SearchClient, docs: list[dict[str, Any]]) -> None:
    index = fresh_index(es, "bench-partition-sync")
    report = indexer.sync_partition(es, GAME_DAILY, index, DT, docs, ElasticsearchRetrySettings())
    assert report.docs_indexed == len(docs) and not report.failed


def full_refresh(es: SearchClient, docs: list[dict[str, Any]]) -> None:
    indexer.ensure_template(es, GAME_DAILY, replicas=0, retry=ElasticsearchRetrySettings())
    report = indexer.full_refresh(es, GAME_DAILY, [DT], lambda _: docs, ElasticsearchRetrySettings())
    assert report.docs_indexed == len(docs) and not report.failed


def measure(
    fn: Callable[[SearchClient, list[dict[str, Any]]], None], es: SearchClient, docs: list[Any]
) -> float:
    started = time.perf_counter()
    fn(es, docs)
    return len(docs) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--baseline-docs", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("elastic_transport").setLevel(logging.ERROR)

    state = Path(tempfile.mkdtemp(prefix="bench-es-"))
    state.chmod(0o711)
    stack = LocalStack(state, only=["elasticsearch"], prefer_default_ports=False)
    try:
        env = stack.up()
        es = ElasticsearchResource(url=env["ELASTICSEARCH_URL"], request_timeout=300).client()
        docs = documents(args.docs)
        variants: list[tuple[str, Callable[..., None], list[dict[str, Any]]]] = [
            (BASELINE, one_by_one, docs[: args.baseline_docs]),
            ("single bulk request", single_bulk, docs),
            ("partition sync (chunked bulk + stale check + refresh)", partition_sync, docs),
            ("full refresh (new index + alias swap)", full_refresh, docs),
        ]
        rates: dict[str, list[float]] = {name: [] for name, _, _ in variants}
        measure(partition_sync, es, docs[:500])  # warm-up: JIT, index creation paths
        for _ in range(args.repeat):  # interleaved, so load from other jobs hits every variant alike
            for name, fn, batch in variants:
                rates[name].append(measure(fn, es, batch))
        base = statistics.median(rates[BASELINE])
        print(f"{args.docs} mart_game_daily docs (baseline on {args.baseline_docs}), median of {args.repeat}")
        print(f"{'variant':<56} {'docs/s':>10} {'ratio':>8}")
        for name, _, _ in variants:
            rate = statistics.median(rates[name])
            print(f"{name:<56} {rate:>10.0f} {rate / base:>7.1f}x")
    finally:
        stack.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
