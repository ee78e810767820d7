"""Elasticsearch stopped in the middle of indexing a partition, restarted, and the partition re-run:
the failure names what was not indexed, and afterwards nothing is missing and nothing is doubled.

The test starts its own Elasticsearch node (not the session's) so it can stop and start it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pytest
from search_support import game_daily_rows, write_partition

from steam_devstack.stack import LocalStack
from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search import indexer, reader
from steam_platform.assets.search.templates import GAME_DAILY
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings

pytestmark = pytest.mark.integration

DAY1, DAY2 = "2026-10-10", "2026-10-11"
ROWS = 3000
CHUNK = 200
RETRY = ElasticsearchRetrySettings(attempts=3, initial_wait_s=0.2, max_wait_s=1.0, chunk_size=CHUNK)


@pytest.fixture
def own_es(stack_state_dir: Callable[[str], Path]) -> Iterator[LocalStack]:
    stack = LocalStack(stack_state_dir("es-outage"), only=["elasticsearch"], prefer_default_ports=False)
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def _many_games(dt: str) -> list[dict[str, Any]]:
    template = game_daily_rows(dt)[0]
    return [
        {**template, "appid": 10_000 + i, "app_name": f"Game {i}", "peak_players": i} for i in range(ROWS)
    ]


def test_outage_mid_partition_then_rerun_leaves_no_gaps_and_no_duplicates(
    own_es: LocalStack, tmp_path: Path
) -> None:
    url = own_es.endpoints()["ELASTICSEARCH_URL"]
    es = ElasticsearchResource(url=url, max_retries=1, request_timeout=10).client()
    spec = GAME_DAILY
    fs = pafs.LocalFileSystem()
    write_partition(tmp_path, MART_GAME_DAILY, DAY1, game_daily_rows(DAY1))
    write_partition(tmp_path, MART_GAME_DAILY, DAY2, _many_games(DAY2))

    def run() -> indexer.IndexReport:
        return indexer.sync(
            es,
            spec,
            DAY2,
            load=lambda d: reader.to_documents(
                reader.read_partition(fs, str(tmp_path), spec.table, d), spec.fields
            ),
            list_partitions=lambda: [DAY1],  # the first run builds the alias from DAY1 and DAY2
            retry=RETRY,
        )

    # The alias exists (full refresh of DAY1 with a small DAY2), so the big run is a partition sync.
    write_partition(tmp_path, MART_GAME_DAILY, DAY2, game_daily_rows(DAY2))
    assert run().mode == "full_refresh"
    write_partition(tmp_path, MART_GAME_DAILY, DAY2, _many_games(DAY2))

    # Stop the node just before the third bulk request leaves: two chunks are in, the rest is not.
    calls = {"n": 0}
    original_bulk = es.bulk

    def bulk_then_outage(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            own_es.down()
        return original_bulk(*args, **kwargs)

    es.bulk = bulk_then_outage  # type: ignore[method-assign]
    with pytest.raises(indexer.IndexingError) as excinfo:
        run()
    es.bulk = original_bulk  # type: ignore[method-assign]
    report = excinfo.value.report
    assert report.mode == "partition"
    assert report.docs_indexed == 2 * CHUNK
    assert len(report.failed) == ROWS - 2 * CHUNK  # every missing document is listed...
    assert {f.status for f in report.failed} == {"N/A"}  # ...as a connection failure
    assert "ConnectionError" in report.failed[0].reason
    message = str(excinfo.value)
    assert f"{ROWS - 2 * CHUNK} of {ROWS} document(s) were not written" in message
    assert report.failed[0].doc_id in message
    # Each transient failure was retried in rounds before giving up: more bulk calls than chunks.
    assert calls["n"] > ROWS // CHUNK

    own_es.up()  # same data folder: what was acknowledged before the outage is still there
    again = run()
    assert again.mode == "partition" and again.failed == []
    assert again.docs_indexed == ROWS

    # The small first version of DAY2 was replaced: its documents were deleted as stale.
    assert again.docs_deleted == len(game_daily_rows(DAY2))
    rows = [{**r, "dt": DAY1} for r in game_daily_rows(DAY1)] + [{**r, "dt": DAY2} for r in _many_games(DAY2)]
    expected = {spec.doc_id(r) for r in rows}
    stored = [hit["_id"] for hit in es.scroll_hits(spec.alias, {"_source": False})]
    assert len(stored) == len(set(stored)) == es.count(spec.alias)  # no duplicates
    assert set(stored) == expected  # nothing missing, nothing extra
