"""Indexing marts and news into the real Elasticsearch 7.10.2 node: counts, figures, CJK search,
partition replacement, alias swap during a full refresh, and partial bulk failures with reasons."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from search_support import (
    CHINESE_TITLE,
    KOREAN_TITLE,
    game_daily_rows,
    news_rows,
    write_partition,
)

from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search import generations, indexer, reader
from steam_platform.assets.search.templates import GAME_DAILY, NEWS, IndexSpec
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings
from steam_platform.resources.es_client import SearchClient

pytestmark = pytest.mark.integration

DAY1, DAY2 = "2026-10-05", "2026-10-06"
FAST_RETRY = ElasticsearchRetrySettings(attempts=2, initial_wait_s=0.1, max_wait_s=0.5)


@pytest.fixture(scope="module")
def es(stack_env: dict[str, str]) -> SearchClient:
    return ElasticsearchResource(url=stack_env["ELASTICSEARCH_URL"], request_timeout=60).client()


@pytest.fixture
def spec_of(es: SearchClient) -> Iterator[Any]:
    """Specs under unique aliases, so tests share the node without seeing each other's indices."""
    made: list[IndexSpec] = []

    def make(base: IndexSpec) -> IndexSpec:
        spec = dataclasses.replace(base, alias=f"t{uuid.uuid4().hex[:6]}_{base.alias}")
        made.append(spec)
        return spec

    yield make
    for spec in made:
        es.delete_index(f"{spec.alias}-v*")
        es.delete_index_template(spec.template_name)


def _sync(es: SearchClient, spec: IndexSpec, lake: Path, dt: str, **kw: Any) -> indexer.IndexReport:
    fs = pafs.LocalFileSystem()
    return indexer.sync(
        es,
        spec,
        dt,
        load=lambda d: reader.to_documents(reader.read_partition(fs, str(lake), spec.table, d), spec.fields),
        list_partitions=lambda: reader.list_partitions(fs, str(lake), spec.table),
        retry=FAST_RETRY,
        **kw,
    )


def _count(es: SearchClient, index: str, **query: Any) -> int:
    return es.count(index, {"term": query} if query else None)


def test_partitions_indexed_with_counts_figures_and_stale_docs_removed(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    write_partition(tmp_path, MART_GAME_DAILY, DAY1, game_daily_rows(DAY1))
    write_partition(tmp_path, MART_GAME_DAILY, DAY2, game_daily_rows(DAY2, scale=2))

    first = _sync(es, spec, tmp_path, DAY2)  # no alias yet: a full refresh of every partition
    assert first.mode == "full_refresh" and first.partitions == [DAY1, DAY2]
    assert first.docs_indexed == first.rows == 10
    assert _count(es, spec.alias) == 10

    hit = es.search(
        spec.alias, {"query": {"bool": {"filter": [{"term": {"appid": 730}}, {"term": {"dt": DAY2}}]}}}
    )
    (doc,) = hit["hits"]["hits"]
    assert doc["_id"] == f"730:{DAY2}"
    assert doc["_source"]["peak_players"] == 200_000 and doc["_source"]["app_name"] == "Counter-Strike 2"
    by_name = es.search(spec.alias, {"query": {"match": {"app_name.text": "counter strike"}}})
    assert {h["_source"]["appid"] for h in by_name["hits"]["hits"]} == {730}

    # The day is rewritten without Apex Legends and with new figures: a partition sync replaces it.
    rewritten = [r for r in game_daily_rows(DAY2, scale=3) if r["appid"] != 1172470]
    write_partition(tmp_path, MART_GAME_DAILY, DAY2, rewritten)
    second = _sync(es, spec, tmp_path, DAY2)
    assert second.mode == "partition" and second.index == first.index
    assert (second.docs_indexed, second.docs_deleted, second.failed) == (4, 1, [])
    assert _count(es, spec.alias, dt=DAY2) == 4
    assert _count(es, spec.alias, dt=DAY1) == 5  # the other day is untouched
    assert es.get_document(spec.alias, f"730:{DAY2}")["peak_players"] == 300_000

    # Re-running the same partition changes nothing: same ids, no duplicates.
    again = _sync(es, spec, tmp_path, DAY2)
    assert (again.docs_indexed, again.docs_deleted) == (4, 0)
    assert _count(es, spec.alias) == 9


def test_news_titles_searchable_in_korean_and_chinese(es: SearchClient, spec_of: Any, tmp_path: Path) -> None:
    spec = spec_of(NEWS)
    write_partition(tmp_path, FACT_NEWS, DAY1, news_rows(DAY1))
    report = _sync(es, spec, tmp_path, DAY1)
    assert report.docs_indexed == 3 and _count(es, spec.alias) == 3

    def titles(query: str, field: str = "title") -> list[str]:
        hits = es.search(spec.alias, {"query": {"match": {field: query}}})["hits"]["hits"]
        return [h["_source"]["title"] for h in hits]

    assert titles("업데이트") == [KOREAN_TITLE]  # a Korean word inside the title
    assert titles("로스트아크") == [KOREAN_TITLE]
    assert titles("悟空") == [CHINESE_TITLE]  # a Chinese word, no spaces around it
    assert titles("更新") == [CHINESE_TITLE]
    assert titles("map pool") == ["Counter-Strike 2 Update: new map pool"]
    assert titles("修复", field="contents_text") == [CHINESE_TITLE]
    mapping = es.get_mapping(spec.alias)
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert "contents_raw" not in props and props["title"]["fields"]["keyword"]["type"] == "keyword"


def test_alias_swap_keeps_searches_working_and_removes_old_index(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    for dt in (DAY1, DAY2):
        write_partition(tmp_path, MART_GAME_DAILY, dt, game_daily_rows(dt))
    old = _sync(es, spec, tmp_path, DAY1).index

    fs = pafs.LocalFileSystem()

    def slow_load(dt: str) -> list[dict[str, Any]]:
        time.sleep(1.0)  # a long rebuild, so searches run while it is under way
        return reader.to_documents(reader.read_partition(fs, str(tmp_path), spec.table, dt), spec.fields)

    result: dict[str, Any] = {}

    def rebuild() -> None:
        try:
            result["report"] = indexer.sync(
                es, spec, DAY1, slow_load, lambda: [DAY1, DAY2], force_full_refresh=True, retry=FAST_RETRY
            )
        except Exception as exc:  # surfaced by the assertion below
            result["error"] = exc

    worker = threading.Thread(target=rebuild)
    worker.start()
    counts = []
    deadline = time.monotonic() + 60
    while worker.is_alive() and time.monotonic() < deadline:
        counts.append(_count(es, spec.alias))  # raises if the alias ever disappears
        time.sleep(0.05)
    worker.join(timeout=60)
    assert "error" not in result, result.get("error")
    report: indexer.IndexReport = result["report"]
    counts.append(_count(es, spec.alias))
    assert len(counts) > 5 and set(counts) == {10}  # every search during the rebuild saw all docs
    assert report.index != old and report.old_indices_removed == [old]
    assert list(es.get_alias(name=spec.alias)) == [report.index]
    assert not es.index_exists(old)


def test_mapping_conflict_is_reported_with_reasons_and_the_rest_indexed(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    write_partition(tmp_path, MART_GAME_DAILY, DAY1, game_daily_rows(DAY1))
    index = _sync(es, spec, tmp_path, DAY1).index
    docs = reader.to_documents(
        reader.read_partition(pafs.LocalFileSystem(), str(tmp_path), spec.table, DAY1), spec.fields
    )
    docs[0]["peak_players"] = "lots"  # conflicts with the long mapping
    docs[1]["unexpected"] = 1  # not in the strict mapping
    with pytest.raises(indexer.IndexingError) as excinfo:
        indexer.sync(es, spec, DAY1, load=lambda _: docs, list_partitions=lambda: [DAY1], retry=FAST_RETRY)
    report = excinfo.value.report
    assert report.index == index and report.docs_indexed == 3
    bad0, bad1 = f"{docs[0]['appid']}:{DAY1}", f"{docs[1]['appid']}:{DAY1}"
    reasons = {f.doc_id: (f.status, f.reason) for f in report.failed}
    assert set(reasons) == {bad0, bad1}
    assert reasons[bad0][0] == 400 and "mapper_parsing_exception" in reasons[bad0][1]
    assert "strict_dynamic_mapping_exception" in reasons[bad1][1]
    message = str(excinfo.value)
    assert f"2 of 5 document(s) were not written to {index}" in message
    assert bad0 in message and "mapper_parsing_exception" in message
    # Permanent refusals are not retried (they would fail again) and the good documents are in.
    assert es.get_document(spec.alias, bad0)["peak_players"] == 100_000


def test_an_index_built_from_another_schema_is_rebuilt_not_written_into(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    # What an older release left behind: the alias on an index whose mapping disagrees with the code.
    legacy = f"{spec.alias}-v00000000-20260101t000000000000"
    es.create_index(legacy, {"mappings": {"properties": {"peak_players": {"type": "keyword"}}}})
    es.update_aliases([{"add": {"index": legacy, "alias": spec.alias}}])
    write_partition(tmp_path, MART_GAME_DAILY, DAY1, game_daily_rows(DAY1))
    report = _sync(es, spec, tmp_path, DAY1)
    assert report.mode == "full_refresh" and report.old_indices_removed == [legacy]
    (live,) = es.get_alias(name=spec.alias)
    assert live.startswith(spec.index_prefix) and not es.index_exists(legacy)
    mapping = es.get_mapping(spec.alias)[live]["mappings"]
    assert mapping["properties"]["peak_players"]["type"] == "long"


def test_a_template_the_cluster_refuses_is_reported_as_a_mapping_conflict(
    es: SearchClient, spec_of: Any
) -> None:
    @dataclasses.dataclass(frozen=True)
    class BrokenSpec(IndexSpec):
        def mappings(self) -> dict[str, Any]:
            return {"properties": {"peak_players": {"type": "no_such_type"}}}

    spec = spec_of(BrokenSpec(MART_GAME_DAILY, alias="broken"))
    with pytest.raises(indexer.MappingConflictError, match="no_such_type") as excinfo:
        indexer.sync(es, spec, DAY1, load=lambda _: [], list_partitions=lambda: [], retry=FAST_RETRY)
    assert spec.template_name in str(excinfo.value)
    assert not es.exists(f"/_alias/{spec.alias}")


# Overlapping full refreshes of one alias. Each test drives real runs of `indexer.sync` and makes them
# interleave deterministically: a run blocks on an event until the other run has reached a given
# point, either in its `load` (called per partition while it builds) or between its alias swap and
# its clean-up of stale indices.

WAIT_S = 60
Holds = dict[threading.Thread, tuple[threading.Event, threading.Event]]


def _versioned(es: SearchClient, spec: IndexSpec) -> list[str]:
    """Every versioned index of the alias on the node."""
    return sorted(es.get_indices(f"{spec.alias}-v*"))


def _live(es: SearchClient, spec: IndexSpec) -> list[str]:
    return sorted(es.get_alias(name=spec.alias))


@pytest.fixture
def cleanup_holds(monkeypatch: pytest.MonkeyPatch) -> Holds:
    """Runs (by thread) that stop between their alias swap and their clean-up until released."""
    holds: Holds = {}
    real = generations.remove_stale_indices

    def holding(*args: Any, **kwargs: Any) -> list[str]:
        hold = holds.get(threading.current_thread())
        if hold is not None:
            reached, go = hold
            reached.set()
            assert go.wait(WAIT_S), "clean-up never released"
        return real(*args, **kwargs)

    monkeypatch.setattr(indexer, "remove_stale_indices", holding)
    return holds


class _Run:
    """One `indexer.sync(force_full_refresh=True)` in a thread, optionally held at two points.

    `hold_at`: its `load` of that partition waits (earlier partitions are written, this one not);
    `cleanup_holds`: it waits after swapping the alias, before deleting stale indices.
    """

    def __init__(
        self,
        es: SearchClient,
        spec: IndexSpec,
        lake: Path,
        hold_at: str | None = None,
        cleanup_holds: Holds | None = None,
    ) -> None:
        self.loading, self.go = threading.Event(), threading.Event()
        self.swapped, self.cleanup_go = threading.Event(), threading.Event()
        self.report: indexer.IndexReport | None = None
        self.error: BaseException | None = None
        fs = pafs.LocalFileSystem()

        def load(dt: str) -> list[dict[str, Any]]:
            docs = reader.to_documents(reader.read_partition(fs, str(lake), spec.table, dt), spec.fields)
            if dt == hold_at:
                self.loading.set()
                assert self.go.wait(WAIT_S), "never released"
            return docs

        def run() -> None:
            try:
                self.report = indexer.sync(
                    es, spec, DAY1, load, lambda: [DAY1, DAY2], force_full_refresh=True, retry=FAST_RETRY
                )
            except BaseException as exc:  # surfaced by finish()
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        if cleanup_holds is not None:
            cleanup_holds[self.thread] = (self.swapped, self.cleanup_go)

    def start(self) -> _Run:
        self.thread.start()
        return self

    def wait(self, event: threading.Event) -> None:
        assert event.wait(WAIT_S), "the run never got there"
        assert self.error is None, self.error

    def finish(self) -> indexer.IndexReport:
        """Release every hold and return the run's report (raising what it raised)."""
        self.go.set()
        self.cleanup_go.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the run did not finish"
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report


def _searchable(es: SearchClient, spec: IndexSpec) -> None:
    """All ten documents of both days answer searches through the alias."""
    assert _count(es, spec.alias) == 10
    hits = es.search(spec.alias, {"query": {"match": {"app_name.text": "counter strike"}}})["hits"]["hits"]
    assert sorted(h["_id"] for h in hits) == [f"730:{DAY1}", f"730:{DAY2}"]


def _lake_with_two_days(tmp_path: Path) -> None:
    for dt in (DAY1, DAY2):
        write_partition(tmp_path, MART_GAME_DAILY, dt, game_daily_rows(dt))


def test_overlapping_full_refreshes_keep_the_newer_build_in_progress_and_remove_stale_ones(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    _lake_with_two_days(tmp_path)
    first = _sync(es, spec, tmp_path, DAY1).index
    # Leftovers that must not leak: a build that crashed long ago, and an older schema's index.
    crashed = generations.new_index_name(spec, now=datetime(2020, 1, 2, tzinfo=UTC))
    other_schema = f"{spec.alias}-v0badbad-20200103t000000000000"
    unknown = f"{spec.alias}-vmanual"  # not named by the indexer: never provably stale, kept
    for name in (crashed, other_schema, unknown):
        es.create_index(name)

    fs = pafs.LocalFileSystem()
    newer = _Run(es, spec, tmp_path, hold_at=DAY2)

    def load_ours(dt: str) -> list[dict[str, Any]]:
        if dt == DAY1:  # our build index exists: the other run starts after it, builds DAY1, holds
            newer.start().wait(newer.loading)
        return reader.to_documents(reader.read_partition(fs, str(tmp_path), spec.table, dt), spec.fields)

    ours = indexer.sync(
        es, spec, DAY1, load_ours, lambda: [DAY1, DAY2], force_full_refresh=True, retry=FAST_RETRY
    )
    (in_progress,) = set(_versioned(es, spec)) - {ours.index, unknown}
    assert generations.started_after(spec, in_progress, ours.index)
    assert ours.mode == "full_refresh" and ours.superseded_by is None
    assert _live(es, spec) == [ours.index]
    # Our clean-up removed the previous generation and the stale leftovers, not the newer build.
    assert ours.old_indices_removed == sorted([first, crashed, other_schema])
    assert _versioned(es, spec) == sorted([ours.index, in_progress, unknown])
    es.refresh(in_progress)
    assert _count(es, in_progress) == 5  # its first day, written before it was held, is intact
    _searchable(es, spec)

    later = newer.finish()  # the newer build completes after ours went live: it goes live
    assert later.mode == "full_refresh" and later.index == in_progress
    assert later.old_indices_removed == [ours.index]
    assert _live(es, spec) == [in_progress]
    assert _versioned(es, spec) == sorted([in_progress, unknown])
    _searchable(es, spec)


def test_a_stale_build_still_running_when_a_newer_one_goes_live_is_dropped_not_swapped_in(
    es: SearchClient, spec_of: Any, tmp_path: Path
) -> None:
    spec = spec_of(GAME_DAILY)
    _lake_with_two_days(tmp_path)
    first = _sync(es, spec, tmp_path, DAY1).index
    stale = _Run(es, spec, tmp_path, hold_at=DAY2).start()
    stale.wait(stale.loading)  # started first, so its build is the older one; DAY1 is written
    (stale_build,) = set(_versioned(es, spec)) - {first}

    newer = _sync(es, spec, tmp_path, DAY1, force_full_refresh=True)
    assert newer.mode == "full_refresh" and generations.started_after(spec, newer.index, stale_build)
    # The older build can never go live any more: the newer run's clean-up removes it too.
    assert newer.old_indices_removed == sorted([first, stale_build])
    assert _live(es, spec) == [newer.index]

    report = stale.finish()  # it writes its last day (re-creating its index) and finds it short
    assert report.mode == "full_refresh_superseded" and report.index == stale_build
    assert report.superseded_by == newer.index and report.failed == []
    assert report.old_indices_removed == []
    assert _live(es, spec) == [newer.index]  # not moved backwards
    assert _versioned(es, spec) == [newer.index]  # its re-created build was dropped, not leaked
    _searchable(es, spec)


def test_a_stale_build_ready_after_a_newer_one_went_live_does_not_move_the_alias_back(
    es: SearchClient, spec_of: Any, tmp_path: Path, cleanup_holds: Holds
) -> None:
    spec = spec_of(GAME_DAILY)
    _lake_with_two_days(tmp_path)
    first = _sync(es, spec, tmp_path, DAY1).index
    stale = _Run(es, spec, tmp_path, hold_at=DAY1).start()
    stale.wait(stale.loading)  # the older build, nothing written yet
    (stale_build,) = set(_versioned(es, spec)) - {first}
    newer = _Run(es, spec, tmp_path, cleanup_holds=cleanup_holds).start()
    newer.wait(newer.swapped)  # live, but its clean-up has not run: the stale build is complete next
    (newer_build,) = _live(es, spec)
    assert generations.started_after(spec, newer_build, stale_build)

    report = stale.finish()
    assert report.mode == "full_refresh_superseded" and report.index == stale_build
    assert (report.superseded_by, report.docs_indexed, report.failed) == (newer_build, 10, [])
    assert report.old_indices_removed == []
    assert _live(es, spec) == [newer_build]  # the complete but older build did not go live
    assert not es.index_exists(stale_build)

    done = newer.finish()
    assert done.mode == "full_refresh" and done.old_indices_removed == [first]
    assert _versioned(es, spec) == [newer_build]
    _searchable(es, spec)


def test_a_swap_racing_another_runs_swap_is_detected_and_decided_again(
    es: SearchClient,
    spec_of: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cleanup_holds: Holds,
) -> None:
    """The alias moves between our read of its target and our swap: the swap must not go through blindly."""
    spec = spec_of(GAME_DAILY)
    _lake_with_two_days(tmp_path)
    first = _sync(es, spec, tmp_path, DAY1).index
    older = _Run(es, spec, tmp_path, hold_at=DAY1, cleanup_holds=cleanup_holds).start()
    older.wait(older.loading)  # an older build, held before writing anything

    real_read = generations.alias_indices
    state: dict[str, Any] = {"armed": False, "reads": []}

    def racing_read(client: SearchClient, alias: str, retry: ElasticsearchRetrySettings) -> list[str]:
        seen = real_read(client, alias, retry)
        if threading.current_thread() is not threading.main_thread():
            return seen
        state["reads"].append(seen)
        if state["armed"]:
            # Our run just read the target for its swap. The older run now finishes its build and
            # swaps first; it is held before its clean-up, so only the swap itself moved the alias.
            state["armed"] = False
            older.go.set()
            older.wait(older.swapped)
            state["live_meanwhile"] = _live(es, spec)
        return seen

    monkeypatch.setattr(generations, "alias_indices", racing_read)  # the swap's read
    monkeypatch.setattr(indexer, "alias_indices", racing_read)  # the superseded check's read
    fs = pafs.LocalFileSystem()

    def load_ours(dt: str) -> list[dict[str, Any]]:
        if dt == DAY2:  # the last partition: the next alias read is the swap's
            state["armed"] = True
        return reader.to_documents(reader.read_partition(fs, str(tmp_path), spec.table, dt), spec.fields)

    ours = indexer.sync(
        es, spec, DAY1, load_ours, lambda: [DAY1, DAY2], force_full_refresh=True, retry=FAST_RETRY
    )
    other = older.finish()
    assert generations.started_after(spec, ours.index, other.index)
    assert state["live_meanwhile"] == [other.index]
    # Our swap expected `first` behind the alias; that failed, the alias was read again and, the
    # other build being older, swapped from it.
    assert state["reads"][-2:] == [[first], [other.index]]
    assert ours.mode == "full_refresh" and ours.old_indices_removed == [other.index]
    assert other.mode == "full_refresh" and other.old_indices_removed == [first]
    assert _live(es, spec) == [ours.index]
    assert _versioned(es, spec) == [ours.index]
    _searchable(es, spec)
