"""Index templates follow the table contracts; the lake reader returns contract rows as JSON-ready
documents from partitions laid out like Spark's; an unreachable cluster fails within bounded retries."""

from __future__ import annotations

import dataclasses
import math
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from search_support import arrow_schema, game_daily_rows, news_rows, write_partition

from steam_devstack.health import free_port
from steam_platform.assets.marts.tables import MART_GAME_DAILY
from steam_platform.assets.search import bulk, indexer, reader
from steam_platform.assets.search.templates import GAME_DAILY, INDEX_SPECS, NEWS, NEWS_IMPACT, TEXT_ANALYZER
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.resources.elasticsearch import ElasticsearchResource, ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsUnavailable

ES_TYPES = {"long": "long", "int": "integer", "double": "double", "boolean": "boolean"}


@pytest.mark.parametrize("spec", INDEX_SPECS, ids=lambda s: s.alias)
def test_mapping_covers_every_contract_column_with_its_type(spec: indexer.IndexSpec) -> None:
    mappings = spec.mappings()
    assert mappings["dynamic"] == "strict"
    props = mappings["properties"]
    omitted = {c for c, role in spec.roles.items() if role == "omit"}
    assert set(props) == set(spec.table.column_names) - omitted
    for column in spec.table.columns:
        if column.name in omitted:
            continue
        mapped = props[column.name]
        if column.type in ES_TYPES:
            assert mapped["type"] == ES_TYPES[column.type]
        elif column.type == "date":
            assert (mapped["type"], mapped["format"]) == ("date", "strict_date")
        elif column.type == "timestamp":
            assert mapped["type"] == "date"
        else:
            assert mapped["type"] in {"keyword", "text"}
            sub = mapped.get("fields", {})
            # text fields sort and aggregate on a keyword sub-field; names are searchable as text
            assert mapped["type"] == "keyword" or sub["keyword"]["type"] == "keyword"
    assert spec.time_field in props and props[spec.time_field]["type"] == "date"
    template = spec.template()
    assert template["index_patterns"] == [f"{spec.alias}-v*"]
    assert (
        template["template"]["settings"]["analysis"]["analyzer"][TEXT_ANALYZER]["filter"][-1] == "cjk_bigram"
    )


def test_news_text_is_analysed_for_any_script_and_raw_markup_left_out() -> None:
    props = NEWS.mappings()["properties"]
    assert props["title"]["analyzer"] == props["contents_text"]["analyzer"] == TEXT_ANALYZER
    assert "contents_raw" not in props and "contents_raw" not in NEWS.fields
    assert NEWS_IMPACT.mappings()["properties"]["app_name"]["fields"]["text"]["analyzer"] == TEXT_ANALYZER


def test_ids_are_deterministic_and_schema_changes_change_the_index_prefix() -> None:
    row = {"appid": 730, "dt": date(2026, 10, 5)}
    assert GAME_DAILY.doc_id(row) == GAME_DAILY.doc_id({"appid": 730, "dt": "2026-10-05"}) == "730:2026-10-05"
    with pytest.raises(ValueError, match="key column 'appid' is null"):
        GAME_DAILY.doc_id({"appid": None, "dt": "2026-10-05"})
    renamed = dataclasses.replace(GAME_DAILY, roles={"app_name": "text"})
    assert renamed.schema_hash != GAME_DAILY.schema_hash
    assert GAME_DAILY.index_prefix == f"mart_game_daily-v{GAME_DAILY.schema_hash}-"


def test_reader_takes_dt_from_the_folder_and_skips_spark_markers(tmp_path: Path) -> None:
    write_partition(tmp_path, MART_GAME_DAILY, "2026-10-05", game_daily_rows("2026-10-05"))
    write_partition(tmp_path, MART_GAME_DAILY, "2026-10-06", game_daily_rows("2026-10-06"))
    fs = pafs.LocalFileSystem()
    # A lake root with a scheme (`s3a://bucket/lake`, as Spark uses it) reads the same folder.
    assert reader.list_partitions(fs, f"s3a://{tmp_path}", MART_GAME_DAILY) == ["2026-10-05", "2026-10-06"]
    assert reader.list_partitions(fs, str(tmp_path), MART_GAME_DAILY) == ["2026-10-05", "2026-10-06"]
    data = reader.read_partition(fs, str(tmp_path), MART_GAME_DAILY, "2026-10-05")
    assert data.column_names == list(MART_GAME_DAILY.column_names)
    docs = reader.to_documents(data, GAME_DAILY.fields)
    assert len(docs) == 5 and {d["dt"] for d in docs} == {"2026-10-05"}
    assert docs[0]["appid"] == 730 and isinstance(docs[0]["avg_players"], float)


def test_reader_returns_an_empty_day_for_a_missing_folder_and_rejects_bad_keys(tmp_path: Path) -> None:
    fs = pafs.LocalFileSystem()
    assert reader.read_partition(fs, str(tmp_path), MART_GAME_DAILY, "2026-10-05").num_rows == 0
    assert reader.list_partitions(fs, str(tmp_path), MART_GAME_DAILY) == []
    with pytest.raises(ValueError):
        reader.read_partition(fs, str(tmp_path), MART_GAME_DAILY, "2026-13-45")


def test_reader_names_missing_contract_columns(tmp_path: Path) -> None:
    folder = tmp_path / "marts" / "mart_game_daily" / "dt=2026-10-05"
    folder.mkdir(parents=True)
    schema = arrow_schema(MART_GAME_DAILY)
    partial = pa.Table.from_pylist(game_daily_rows("2026-10-05"), schema=schema).drop_columns(["samples"])
    pq.write_table(partial, folder / "part-0.parquet")
    with pytest.raises(reader.ContractError, match=r"mart_game_daily dt=2026-10-05 lacks.*'samples'"):
        reader.read_partition(pafs.LocalFileSystem(), str(tmp_path), MART_GAME_DAILY, "2026-10-05")


def test_documents_are_json_ready() -> None:
    data = pa.table(
        {
            "published_at": pa.array(
                [datetime(2026, 10, 5, 9, 30, tzinfo=UTC)], pa.timestamp("us", tz="UTC")
            ),
            "naive": pa.array([datetime(2026, 10, 5, 9, 30)], pa.timestamp("ms")),
            "change_pct": pa.array([math.nan]),
            "title": pa.array(["로스트아크"]),
        }
    )
    (doc,) = reader.to_documents(data, ("published_at", "naive", "change_pct", "title"))
    assert doc == {
        "published_at": "2026-10-05T09:30:00Z",
        "naive": "2026-10-05T09:30:00Z",
        "change_pct": None,
        "title": "로스트아크",
    }


def test_news_rows_round_trip_through_the_lake(tmp_path: Path) -> None:
    write_partition(tmp_path, FACT_NEWS, "2026-10-05", news_rows("2026-10-05"))
    data = reader.read_partition(pafs.LocalFileSystem(), str(tmp_path), FACT_NEWS, "2026-10-05")
    docs = reader.to_documents(data, NEWS.fields)
    assert [d["title"] for d in docs] == [r["title"] for r in news_rows("2026-10-05")]
    assert docs[0]["published_at"] == "2026-10-05T09:00:00Z"


def test_unreachable_cluster_fails_after_bounded_back_off() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    es = ElasticsearchResource(url=url, max_retries=0, request_timeout=2).client()
    retry = ElasticsearchRetrySettings(attempts=3, initial_wait_s=0.1, max_wait_s=0.2)
    started = time.monotonic()
    with pytest.raises(EsUnavailable):
        indexer.sync(es, GAME_DAILY, "2026-10-05", load=lambda _: [], list_partitions=lambda: [], retry=retry)
    assert time.monotonic() - started < 10
    outcome = bulk.write(es, [{"_op_type": "index", "_index": "x", "_id": "1", "_source": {}}], retry)
    assert outcome.succeeded == 0
    (failed,) = outcome.failed
    assert (failed.doc_id, failed.status, failed.transient) == ("1", "N/A", True)
    assert "ConnectionError" in failed.reason
    assert "1 x N/A" in bulk.summarise(outcome.failed)
