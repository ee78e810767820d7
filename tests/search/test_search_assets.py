"""The search assets as Dagster runs them: a mart partition in the lake (local folder or the stack's
S3 server) becomes searchable with counts equal to the mart's rows and the metadata to prove it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from search_support import (
    KOREAN_TITLE,
    ROWS_FOR,
    LocalLake,
    arrow_schema,
    game_daily_rows,
    news_rows,
    write_partition,
)

from steam_platform.assets.marts.tables import (
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_PLAYER_COUNT_GAPS,
    MART_TOP_GAMES,
)
from steam_platform.assets.search.assets import (
    search_game_daily,
    search_news,
    search_news_impact,
    search_player_count_gaps,
    search_top_games,
)
from steam_platform.assets.search.shard_size import CHECK_SHARD_SIZE
from steam_platform.assets.search.templates import INDEX_SPECS
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.s3 import S3Resource

pytestmark = pytest.mark.integration

DAY = "2026-10-08"
SEARCH_ASSETS = [
    search_game_daily,
    search_top_games,
    search_news_impact,
    search_player_count_gaps,
    search_news,
]


def _materialize(assets: list[Any], lake: Any, es_resource: ElasticsearchResource, **kw: Any) -> Any:
    return dg.materialize(
        assets,
        partition_key=DAY,
        resources={"elasticsearch": es_resource, "s3": lake},
        instance=dg.DagsterInstance.ephemeral(),
        **kw,
    )


def _metadata(result: Any, name: str) -> dict[str, Any]:
    (mat,) = result.asset_materializations_for_node(name)
    return {k: v.value for k, v in mat.metadata.items()}


def test_every_search_asset_indexes_its_partition_from_a_local_lake(
    es: SearchClient, es_resource: ElasticsearchResource, tmp_path: Path
) -> None:
    tables = {MART_GAME_DAILY, MART_TOP_GAMES, MART_NEWS_IMPACT, MART_PLAYER_COUNT_GAPS, FACT_NEWS}
    for table in tables:
        write_partition(tmp_path, table, DAY, ROWS_FOR[table.name](DAY))
    result = _materialize(SEARCH_ASSETS, LocalLake(root=str(tmp_path)), es_resource)
    assert result.success
    for asset, spec in zip(SEARCH_ASSETS, _specs_in_asset_order(), strict=True):
        meta = _metadata(result, asset.key.to_user_string())
        rows = len(ROWS_FOR[spec.table.name](DAY))
        assert meta["alias"] == spec.alias and meta["index"].startswith(spec.index_prefix)
        assert (meta["docs_indexed"], meta["docs_failed"], meta["rows_in_lake"]) == (rows, 0, rows)
        assert meta["mode"] == "full_refresh"  # the first run builds the alias
        assert meta["duration_s"] >= 0 and "no failures" in meta["failures"]
        assert es.count(spec.alias) == rows  # doc count equals the mart's row count
        (size,) = _checks(result, asset.key, CHECK_SHARD_SIZE)
        assert size.passed and size.metadata["primaries"].value == 1, size.description
        assert size.metadata["docs"].value == rows and size.metadata["largest_shard_bytes"].value > 0

    # A known game returns its figures; a Korean word finds the Korean news title.
    hit = es.search("mart_top_games", {"query": {"term": {"rank": 1}}})["hits"]["hits"][0]["_source"]
    top = max(game_daily_rows(DAY), key=lambda r: r["peak_players"])
    assert (hit["appid"], hit["peak_players"], hit["dt"]) == (top["appid"], top["peak_players"], DAY)
    korean = es.search("steam_news", {"query": {"match": {"title": "업데이트"}}})["hits"]["hits"]
    assert [h["_source"]["title"] for h in korean] == [KOREAN_TITLE]
    # A recorded gap is found by game and hour (Kibana's time field), with its missed slots.
    gap = es.search("mart_player_count_gaps", {"query": {"term": {"appid": 570}}})["hits"]["hits"]
    assert [(h["_source"]["hour_start"][:13], h["_source"]["missing_slots"]) for h in gap] == [
        (f"{DAY}T10", 6)
    ]

    # The next materialisation of the same partition is a partition sync into the same index.
    again = _materialize([search_game_daily], LocalLake(root=str(tmp_path)), es_resource)
    meta = _metadata(again, "search_game_daily")
    assert meta["mode"] == "partition" and meta["docs_deleted"] == 0
    assert es.count("mart_game_daily") == len(game_daily_rows(DAY))


def _checks(result: Any, key: dg.AssetKey, name: str) -> list[dg.AssetCheckEvaluation]:
    return [c for c in result.get_asset_check_evaluations() if c.asset_key == key and c.check_name == name]


def _specs_in_asset_order() -> list[Any]:
    by_alias = {spec.alias: spec for spec in INDEX_SPECS}
    return [by_alias[a.metadata_by_key[a.key]["alias"]] for a in SEARCH_ASSETS]


def test_full_refresh_config_rebuilds_and_drops_the_old_index(
    es: SearchClient, es_resource: ElasticsearchResource, tmp_path: Path
) -> None:
    write_partition(tmp_path, MART_GAME_DAILY, DAY, game_daily_rows(DAY))
    lake = LocalLake(root=str(tmp_path))
    first = _metadata(_materialize([search_game_daily], lake, es_resource), "search_game_daily")
    config = dg.RunConfig(ops={"search_game_daily": {"config": {"full_refresh": True}}})
    # The sizing's remedy: more primary shards take effect at the full refresh, behind the same alias.
    two_shards = ElasticsearchResource(url=es_resource.url, retry_attempts=2, index_shards=2)
    result = _materialize([search_game_daily], lake, two_shards, run_config=config)
    second = _metadata(result, "search_game_daily")
    assert second["mode"] == "full_refresh" and second["index"] != first["index"]
    assert second["old_indices_removed"] == first["index"]
    assert list(es.get_alias(name="mart_game_daily")) == [second["index"]]
    (size,) = _checks(result, search_game_daily.key, CHECK_SHARD_SIZE)
    assert (size.metadata["primaries"].value, size.metadata["docs"].value) == (2, len(game_daily_rows(DAY)))
    assert size.metadata["indices"].value == second["index"]


def test_a_conflicting_document_fails_the_run_with_reasons(
    es: SearchClient, es_resource: ElasticsearchResource, tmp_path: Path
) -> None:
    """Contract drift in the lake (a string where the mapping says long) is reported, not swallowed."""
    write_partition(tmp_path, MART_GAME_DAILY, DAY, game_daily_rows(DAY))
    lake = LocalLake(root=str(tmp_path))
    assert _materialize([search_game_daily], lake, es_resource).success
    folder = tmp_path / "marts" / "mart_game_daily" / f"dt={DAY}"
    # A writer that drifted from the contract: peak_players as text, one value not a number.
    rows = [
        {**r, "peak_players": "n/a" if r["appid"] == 570 else str(r["peak_players"])}
        for r in game_daily_rows(DAY)
    ]
    schema = arrow_schema(MART_GAME_DAILY)
    schema = schema.set(schema.get_field_index("peak_players"), pa.field("peak_players", pa.string()))
    (folder / "part-00000.parquet").unlink()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.parquet")

    result = _materialize([search_game_daily], lake, es_resource, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data
    assert "1 of 5 document(s) were not written" in failure.error.message
    assert f"570:{DAY}" in failure.error.message and "mapper_parsing_exception" in failure.error.message
    meta = {k: v.value for k, v in failure.user_failure_data.metadata.items()}
    assert meta["docs_failed"] == 1 and meta["docs_indexed"] == 4
    assert "570" in meta["failures"]
    # A refused document fails the same way every time: the step is not retried.
    assert sum(1 for e in result.all_events if e.is_step_failure) == 1
    assert not any(e.event_type_value == "STEP_RESTARTED" for e in result.all_events)


def test_partition_read_from_the_s3_server(
    es: SearchClient, es_resource: ElasticsearchResource, stack_env: dict[str, str], tmp_path: Path
) -> None:
    lake = S3Resource(
        endpoint_url=stack_env["S3_ENDPOINT_URL"],
        access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
        region=stack_env["AWS_REGION"],
        bucket=stack_env["LAKE_BUCKET"],
    )
    local = write_partition(tmp_path, FACT_NEWS, DAY, news_rows(DAY))
    fs = lake.filesystem()
    target = f"{lake.lake_path()}/warehouse/fact_news/dt={DAY}"
    pafs.copy_files(str(local), target, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    result = _materialize([search_news], lake, es_resource)
    meta = _metadata(result, "search_news")
    assert meta["docs_indexed"] == meta["rows_in_lake"] == len(news_rows(DAY))
    assert es.count("steam_news") == len(news_rows(DAY))
