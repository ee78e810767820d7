"""Keeps one alias (e.g. `mart_top_games`) in step with its table in the lake.

Two ways to sync, chosen per call:
- partition: the day's rows are upserted into the index behind the alias (same `_id`s, so re-runs
  overwrite), then documents of that day that the partition no longer contains are deleted
  (ids compared), then one refresh makes the day visible.
- full refresh: every partition goes into a new versioned index built with refreshes off; after a
  refresh and a count check, the alias moves to it in one atomic `_aliases` call that also deletes
  the index it replaces. Searches on the alias see the old index until the swap, never a half-built
  one. A partition sync becomes a full refresh when the alias does not exist yet or its index was
  built from another schema (mapping changed in code).

Full refreshes of one alias may overlap (daemon runs overlap, the Elasticsearch pool may allow more
than one slot): a build older than the live one when it is ready is dropped and reported as
`full_refresh_superseded` (not a failure); see `generations.py` for the forward-only swap.

Refreshes are deliberate: none per bulk request, one at the end of each sync.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from steam_platform.assets.search import bulk
from steam_platform.assets.search.bulk import FailedDoc
from steam_platform.assets.search.generations import (
    Swap,
    alias_indices,
    new_index_name,
    newest_after,
    remove_stale_indices,
    swap_alias,
)
from steam_platform.assets.search.templates import IndexSpec
from steam_platform.resources.elasticsearch import ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsBadRequest, EsNotFound, SearchClient

Mode = Literal["partition", "full_refresh", "full_refresh_superseded"]
Docs = list[dict[str, Any]]


class MappingConflictError(RuntimeError):
    """Elasticsearch refused a template or mapping: the code's contract and the cluster disagree."""


class IndexingError(RuntimeError):
    """Some documents could not be written; `report` lists which, and why."""

    def __init__(self, message: str, report: IndexReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class IndexReport:
    """What one sync did, for asset metadata and logs."""

    alias: str
    index: str
    mode: Mode
    partitions: list[str]
    rows: int = 0
    docs_indexed: int = 0
    docs_deleted: int = 0
    failed: list[FailedDoc] = field(default_factory=list)
    #: Older generations this run deleted: the alias's previous target and stale leftovers.
    old_indices_removed: list[str] = field(default_factory=list)
    #: A full refresh that lost the race: the newer build the alias already pointed at (this run's
    #: own build, `index`, was dropped).
    superseded_by: str | None = None
    duration_s: float = 0.0


def ensure_template(
    es: SearchClient, spec: IndexSpec, replicas: int, retry: ElasticsearchRetrySettings, shards: int = 1
) -> None:
    """Install (or update) the alias's index template; a refused template is a mapping conflict.

    The template shapes the next index built (a full refresh): a changed shard count applies there.
    """
    try:
        bulk.call(retry, es.put_index_template, spec.template_name, spec.template(replicas, shards))
    except EsBadRequest as exc:
        raise MappingConflictError(
            f"Elasticsearch refused index template {spec.template_name}: {exc.error_type}: {exc.reason}"
        ) from exc


def _actions(index: str, spec: IndexSpec, docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield {"_op_type": "index", "_index": index, "_id": spec.doc_id(doc), "_source": doc}


def _ids_of_partition(es: SearchClient, index: str, spec: IndexSpec, dt: str) -> set[str]:
    body = {"query": {"term": {spec.table.partition_column or "dt": dt}}, "_source": False}
    return {hit["_id"] for hit in es.scroll_hits(index, body, page_size=1000)}


def sync_partition(
    es: SearchClient,
    spec: IndexSpec,
    index: str,
    dt: str,
    docs: Docs,
    retry: ElasticsearchRetrySettings,
) -> IndexReport:
    """Upsert one day's documents into `index`, delete that day's documents no longer in the lake."""
    report = IndexReport(alias=spec.alias, index=index, mode="partition", partitions=[dt], rows=len(docs))
    outcome = bulk.write(es, _actions(index, spec, docs), retry)
    report.docs_indexed = outcome.succeeded
    report.failed += outcome.failed
    if report.failed:
        return report  # keep stale documents until the day is fully written; a re-run cleans up
    keep = {spec.doc_id(d) for d in docs}
    existing = bulk.call(retry, _ids_of_partition, es, index, spec, dt)
    stale = sorted(existing - keep)
    deletes = ({"_op_type": "delete", "_index": index, "_id": doc_id} for doc_id in stale)
    deleted = bulk.write(es, deletes, retry)
    report.docs_deleted = deleted.succeeded
    report.failed += deleted.failed
    bulk.call(retry, es.refresh, index)
    return report


def _build(
    es: SearchClient,
    spec: IndexSpec,
    index: str,
    partitions: list[str],
    load: Callable[[str], Docs],
    retry: ElasticsearchRetrySettings,
    report: IndexReport,
) -> None:
    """Write every partition into `index`, make it searchable and check it holds every row."""
    for dt in partitions:
        docs = load(dt)
        report.rows += len(docs)
        outcome = bulk.write(es, _actions(index, spec, docs), retry)
        report.docs_indexed += outcome.succeeded
        report.failed += outcome.failed
    if report.failed:
        raise IndexingError(_failure_message(report), report)
    bulk.call(retry, es.put_settings, index, {"index": {"refresh_interval": None}})
    bulk.call(retry, es.refresh, index)
    count = bulk.call(retry, es.count, index)
    if count != report.rows:
        raise IndexingError(f"{index} holds {count} documents, expected {report.rows}", report)


def _build_and_swap(
    es: SearchClient,
    spec: IndexSpec,
    index: str,
    partitions: list[str],
    load: Callable[[str], Docs],
    retry: ElasticsearchRetrySettings,
    report: IndexReport,
) -> Swap:
    """Build `index` and swap the alias to it; a build overtaken by a newer live one is superseded."""
    try:
        _build(es, spec, index, partitions, load, retry, report)
    except (IndexingError, EsNotFound):
        # A newer run that went live meanwhile deletes our older build as stale (documents then
        # go missing, or the index is gone): nothing of this build could be used any more anyway.
        winner = newest_after(spec, alias_indices(es, spec.alias, retry), index)
        if winner is None:
            raise
        report.failed = []
        return Swap([], superseded_by=winner)
    return swap_alias(es, spec, index, retry)


def full_refresh(
    es: SearchClient,
    spec: IndexSpec,
    partitions: list[str],
    load: Callable[[str], Docs],
    retry: ElasticsearchRetrySettings,
) -> IndexReport:
    """Build a new index from every partition and swap the alias to it, then drop stale indices.

    When another full refresh of the alias went live with a newer build first, this run's build is
    dropped and the report says so (`full_refresh_superseded`, `superseded_by`): not a failure, the
    alias already serves fresher data.
    """
    index = new_index_name(spec)
    report = IndexReport(alias=spec.alias, index=index, mode="full_refresh", partitions=list(partitions))
    try:
        bulk.call(retry, es.create_index, index, {"settings": {"refresh_interval": "-1"}})
    except EsBadRequest as exc:
        raise MappingConflictError(f"creating {index} failed: {exc.error_type}: {exc.reason}") from exc
    try:
        swap = _build_and_swap(es, spec, index, partitions, load, retry, report)
    except BaseException:
        # The alias still points at the old index; drop the half-built one (best effort).
        # The original error matters more than a failed clean-up; the next full refresh cleans up.
        with contextlib.suppress(Exception):
            es.delete_index(index)
        raise
    if swap.superseded_by is not None:
        # Deleting our build also takes it off the alias, should a concurrent first swap have added it.
        bulk.call(retry, es.delete_index, index)
        report.mode, report.superseded_by = "full_refresh_superseded", swap.superseded_by
        return report
    removed = swap.replaced + remove_stale_indices(es, spec, swapped_to=index, retry=retry)
    report.old_indices_removed = sorted(set(removed))
    return report


def _failure_message(report: IndexReport) -> str:
    return (
        f"{len(report.failed)} of {report.rows} document(s) were not written to {report.index} "
        f"(alias {report.alias}, partitions {', '.join(report.partitions)}):\n"
        + bulk.summarise(report.failed)
    )


def sync(
    es: SearchClient,
    spec: IndexSpec,
    dt: str,
    load: Callable[[str], Docs],
    list_partitions: Callable[[], list[str]],
    *,
    replicas: int = 0,
    shards: int = 1,
    force_full_refresh: bool = False,
    retry: ElasticsearchRetrySettings | None = None,
) -> IndexReport:
    """Bring the alias up to date for partition `dt` (or everything, when a full refresh is due).

    Raises `IndexingError` (with the report) when documents were left unwritten, and
    `MappingConflictError` when the cluster refuses the mapping.
    """
    retry = retry or ElasticsearchRetrySettings()
    started = time.monotonic()
    ensure_template(es, spec, replicas, retry, shards)
    current = alias_indices(es, spec.alias, retry)
    compatible = len(current) == 1 and current[0].startswith(spec.index_prefix)
    if force_full_refresh or not compatible:
        partitions = sorted(set(list_partitions()) | {dt})
        report = full_refresh(es, spec, partitions, load, retry)
    else:
        report = sync_partition(es, spec, current[0], dt, load(dt), retry)
    report.duration_s = round(time.monotonic() - started, 3)
    if report.failed:
        raise IndexingError(_failure_message(report), report)
    return report
