"""Keeps one alias (e.g. `mart_top_games`) in step with its table in the lake.

Two ways to sync, chosen per call:
- partition: the day's rows are upserted into the index behind the alias (same `_id`s, so re-runs
  overwrite), then documents of that day that the partition no longer contains are deleted
  (ids compared), then one refresh makes the day visible.
- full refresh: every partition goes into a new versioned index built with refreshes off; after a
  refresh and a count check, the alias moves to it in one atomic `_aliases` call and the old
  indices are deleted. Searches on the alias see the old index until the swap, never a half-built
  one. A partition sync becomes a full refresh when the alias does not exist yet or its index was
  built from another schema (mapping changed in code).

Refreshes are deliberate: none per bulk request, one at the end of each sync.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError, RequestError
from elasticsearch.helpers import scan

from steam_platform.search import bulk
from steam_platform.search.bulk import FailedDoc, RetrySettings
from steam_platform.search.templates import IndexSpec

Mode = Literal["partition", "full_refresh"]
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
    old_indices_removed: list[str] = field(default_factory=list)
    duration_s: float = 0.0


def ensure_template(es: Elasticsearch, spec: IndexSpec, replicas: int, retry: RetrySettings) -> None:
    """Install (or update) the alias's index template; a refused template is a mapping conflict."""
    try:
        bulk.call(retry, es.indices.put_index_template, name=spec.template_name, body=spec.template(replicas))
    except RequestError as exc:
        raise MappingConflictError(
            f"Elasticsearch refused index template {spec.template_name}: {exc.error} {exc.info}"
        ) from exc


def alias_indices(es: Elasticsearch, alias: str, retry: RetrySettings) -> list[str]:
    """The concrete indices behind `alias` (empty when the alias does not exist)."""
    try:
        found = bulk.call(retry, es.indices.get_alias, name=alias)
    except NotFoundError:
        return []
    return sorted(found)


def _actions(index: str, spec: IndexSpec, docs: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield {"_op_type": "index", "_index": index, "_id": spec.doc_id(doc), "_source": doc}


def _ids_of_partition(es: Elasticsearch, index: str, spec: IndexSpec, dt: str) -> set[str]:
    query = {"query": {"term": {spec.table.partition_column or "dt": dt}}, "_source": False}
    return {hit["_id"] for hit in scan(es, index=index, query=query, size=1000)}


def sync_partition(
    es: Elasticsearch,
    spec: IndexSpec,
    index: str,
    dt: str,
    docs: Docs,
    retry: RetrySettings,
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
    bulk.call(retry, es.indices.refresh, index=index)
    return report


def new_index_name(spec: IndexSpec, now: datetime | None = None) -> str:
    """A fresh versioned index name: `<alias>-v<schema>-<UTC timestamp to microseconds>`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%S%f")
    return f"{spec.index_prefix}{stamp}"


def full_refresh(
    es: Elasticsearch,
    spec: IndexSpec,
    partitions: list[str],
    load: Callable[[str], Docs],
    retry: RetrySettings,
) -> IndexReport:
    """Build a new index from every partition, swap the alias to it atomically, drop the old ones."""
    index = new_index_name(spec)
    report = IndexReport(alias=spec.alias, index=index, mode="full_refresh", partitions=list(partitions))
    try:
        bulk.call(retry, es.indices.create, index=index, settings={"refresh_interval": "-1"})
    except RequestError as exc:
        raise MappingConflictError(f"creating {index} failed: {exc.error} {exc.info}") from exc
    try:
        for dt in partitions:
            docs = load(dt)
            report.rows += len(docs)
            outcome = bulk.write(es, _actions(index, spec, docs), retry)
            report.docs_indexed += outcome.succeeded
            report.failed += outcome.failed
        if report.failed:
            raise IndexingError(_failure_message(report), report)
        bulk.call(retry, es.indices.put_settings, index=index, body={"index": {"refresh_interval": None}})
        bulk.call(retry, es.indices.refresh, index=index)
        count = bulk.call(retry, es.count, index=index)["count"]
        if count != report.rows:
            raise IndexingError(f"{index} holds {count} documents, expected {report.rows}", report)
        old = alias_indices(es, spec.alias, retry)
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": spec.alias}} for i in old]
        actions.append({"add": {"index": index, "alias": spec.alias}})
        bulk.call(retry, es.indices.update_aliases, body={"actions": actions})
    except BaseException:
        # The alias still points at the old index; drop the half-built one (best effort).
        # The original error matters more than a failed clean-up; the next full refresh cleans up.
        with contextlib.suppress(Exception):
            es.indices.delete(index=index, ignore_unavailable=True)
        raise
    report.old_indices_removed = remove_old_indices(es, spec, keep=index, retry=retry)
    return report


def remove_old_indices(es: Elasticsearch, spec: IndexSpec, keep: str, retry: RetrySettings) -> list[str]:
    """Delete every versioned index of the alias except `keep` (old generations, failed builds)."""
    found = bulk.call(retry, es.indices.get, index=f"{spec.alias}-v*", ignore_unavailable=True)
    old = sorted(name for name in found if name != keep)
    for name in old:
        bulk.call(retry, es.indices.delete, index=name, ignore_unavailable=True)
    return old


def _failure_message(report: IndexReport) -> str:
    return (
        f"{len(report.failed)} of {report.rows} document(s) were not written to {report.index} "
        f"(alias {report.alias}, partitions {', '.join(report.partitions)}):\n"
        + bulk.summarise(report.failed)
    )


def sync(
    es: Elasticsearch,
    spec: IndexSpec,
    dt: str,
    load: Callable[[str], Docs],
    list_partitions: Callable[[], list[str]],
    *,
    replicas: int = 0,
    force_full_refresh: bool = False,
    retry: RetrySettings | None = None,
) -> IndexReport:
    """Bring the alias up to date for partition `dt` (or everything, when a full refresh is due).

    Raises `IndexingError` (with the report) when documents were left unwritten, and
    `MappingConflictError` when the cluster refuses the mapping.
    """
    retry = retry or RetrySettings()
    started = time.monotonic()
    ensure_template(es, spec, replicas, retry)
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
