"""The `shard_size` check: primaries picked out of the stats, and a warning only past its lines."""

from __future__ import annotations

from typing import Any

import dagster as dg

from steam_platform.assets.search.shard_size import (
    WARN_SHARD_BYTES,
    WARN_SHARD_DOCS,
    check_result,
    sizes_from_stats,
)


def _copy(primary: bool, docs: int, size: int) -> dict[str, Any]:
    return {"routing": {"primary": primary}, "docs": {"count": docs}, "store": {"size_in_bytes": size}}


STATS = {
    "indices": {
        "mart_game_daily-vabc-1": {
            "shards": {
                "0": [_copy(True, 300, 9_000), _copy(False, 300, 9_100)],
                "1": [_copy(True, 500, 12_000), _copy(False, 500, 12_500)],
            }
        }
    }
}


def test_only_primaries_count_and_the_largest_is_found() -> None:
    sizes = sizes_from_stats(STATS)
    assert (sizes.primaries, sizes.docs, sizes.store_bytes) == (2, 800, 21_000)
    assert (sizes.largest_shard_bytes, sizes.largest_shard_docs) == (12_000, 500)
    assert sizes.indices == ("mart_game_daily-vabc-1",)


def test_small_shards_pass_and_either_line_warns() -> None:
    small = check_result("mart_game_daily", sizes_from_stats(STATS))
    assert small.passed and small.severity == dg.AssetCheckSeverity.WARN
    big = {"indices": {"i": {"shards": {"0": [_copy(True, 10, WARN_SHARD_BYTES)]}}}}
    many = {"indices": {"i": {"shards": {"0": [_copy(True, WARN_SHARD_DOCS, 1)]}}}}
    for stats, named in ((big, "GiB"), (many, "docs")):
        result = check_result("mart_game_daily", sizes_from_stats(stats))
        assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
        text = result.description or ""
        assert named in text and "ELASTICSEARCH_INDEX_SHARDS" in text


def test_unreadable_stats_warn_without_failing_the_run() -> None:
    result = check_result("steam_news", None)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "could not be read" in (result.description or "")
