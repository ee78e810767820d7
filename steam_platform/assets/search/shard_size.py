"""How large the shards behind a search alias have grown, and when a person should add shards.

Every search index has one primary shard (`ELASTICSEARCH_INDEX_SHARDS`, default 1): measured on a
year of history at 1,000 apps, the largest index is tens of megabytes (docs/elasticsearch.md,
"Sizing"), while Elastic's guidance is to keep a shard under about 50 GB and 200 million documents.
One shard therefore holds decades of these tables, and per-period indices or rollover would only add
moving parts (and index patterns to keep matching). What a deployment needs is to hear about it
long before a shard gets there: every search asset reports its alias's largest primary shard in the
non-blocking `shard_size` check, which warns from `WARN_SHARD_BYTES` or `WARN_SHARD_DOCS` on. The
remedy is a setting and a full refresh (a new generation with more shards behind the same alias,
so Kibana's index patterns keep matching).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg

from steam_platform.assets.search import bulk
from steam_platform.resources.elasticsearch import ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsError, SearchClient

CHECK_SHARD_SIZE = "shard_size"
#: Warn at 30 GiB per primary shard: inside Elastic's 10-50 GB band, with room to act.
WARN_SHARD_BYTES = 30 * 1024**3
#: Warn at 150 million documents per primary shard (guidance: under 200 million).
WARN_SHARD_DOCS = 150_000_000


@dataclass(frozen=True)
class ShardSizes:
    """The primaries behind an alias: how many, their documents, and the largest one."""

    indices: tuple[str, ...]
    primaries: int
    docs: int
    store_bytes: int
    largest_shard_bytes: int
    largest_shard_docs: int


def sizes_from_stats(stats: dict[str, Any]) -> ShardSizes:
    """Primary shards' sizes out of a `_stats/docs,store?level=shards` answer."""
    primaries = [
        copy
        for index in stats.get("indices", {}).values()
        for copies in index.get("shards", {}).values()
        for copy in copies
        if copy.get("routing", {}).get("primary")
    ]
    docs = [int(p.get("docs", {}).get("count", 0)) for p in primaries]
    sizes = [int(p.get("store", {}).get("size_in_bytes", 0)) for p in primaries]
    return ShardSizes(
        indices=tuple(sorted(stats.get("indices", {}))),
        primaries=len(primaries),
        docs=sum(docs),
        store_bytes=sum(sizes),
        largest_shard_bytes=max(sizes, default=0),
        largest_shard_docs=max(docs, default=0),
    )


def measure(es: SearchClient, alias: str, retry: ElasticsearchRetrySettings) -> ShardSizes:
    """The shards behind `alias` now (with the search layer's retries)."""
    return sizes_from_stats(bulk.call(retry, es.shard_stats, alias))


def check_result(alias: str, sizes: ShardSizes | None) -> dg.AssetCheckResult:
    """`shard_size`: passes while the largest primary is under both warning lines, else warns
    (never blocks: the index still serves); `None` (the stats could not be read) warns too."""
    if sizes is None:
        return dg.AssetCheckResult(
            check_name=CHECK_SHARD_SIZE,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"the shard sizes behind {alias} could not be read; indexing itself succeeded",
        )
    over = []
    if sizes.largest_shard_bytes >= WARN_SHARD_BYTES:
        over.append(f"{sizes.largest_shard_bytes / 1024**3:.1f} GiB >= {WARN_SHARD_BYTES / 1024**3:.0f} GiB")
    if sizes.largest_shard_docs >= WARN_SHARD_DOCS:
        over.append(f"{sizes.largest_shard_docs:,} docs >= {WARN_SHARD_DOCS:,}")
    description = (
        f"largest primary shard behind {alias}: " + "; ".join(over) + ". Raise ELASTICSEARCH_INDEX_SHARDS "
        "and run a full refresh of this asset (docs/elasticsearch.md, Sizing)"
        if over
        else f"{sizes.primaries} primary shard(s) behind {alias}, the largest well under the warning lines"
    )
    return dg.AssetCheckResult(
        check_name=CHECK_SHARD_SIZE,
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "indices": ", ".join(sizes.indices),
            "primaries": sizes.primaries,
            "docs": sizes.docs,
            "primary_store_bytes": sizes.store_bytes,
            "largest_shard_bytes": sizes.largest_shard_bytes,
            "largest_shard_docs": sizes.largest_shard_docs,
        },
    )


def measured_or_none(es: SearchClient, alias: str, retry: ElasticsearchRetrySettings) -> ShardSizes | None:
    """`measure`, or None when the cluster does not answer (the check then warns, the run stands)."""
    try:
        return measure(es, alias, retry)
    except EsError:
        return None
