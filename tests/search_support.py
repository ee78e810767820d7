"""Test data for the search layer: mart partitions written the way Spark lays them out.

`write_partition` writes `<root>/<layer>/<table>/dt=YYYY-MM-DD/part-00000.parquet` without the `dt`
column (Spark keeps it in the folder name) and with the contract's Arrow types. `LocalLake` is the
lake resource over a local folder (the S3 resource offers the same two methods over S3).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from steam_platform.assets.marts.tables import (
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_PLAYER_COUNT_GAPS,
    MART_TOP_GAMES,
)
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.core.contracts import Table

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
}

KOREAN_TITLE = "로스트아크 여름 업데이트 안내"
CHINESE_TITLE = "黑神话：悟空 新版本更新公告"  # noqa: RUF001 - fullwidth colon as Steam sends it

GAMES: dict[int, str] = {
    730: "Counter-Strike 2",
    570: "Dota 2",
    1599340: "로스트아크",
    2358720: "黑神话：悟空",  # noqa: RUF001
    1172470: "Apex Legends",
}


def arrow_schema(table: Table, with_partition_column: bool = False) -> pa.Schema:
    """The contract's columns as an Arrow schema (without `dt` unless asked, like Spark's files)."""
    return pa.schema(
        [
            pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable)
            for c in table.columns
            if with_partition_column or c.name != table.partition_column
        ]
    )


def write_partition(root: Path, table: Table, dt: str, rows: list[dict[str, Any]]) -> Path:
    """Replace the `dt` partition of `table` under the lake folder `root` with `rows`."""
    folder = root / table.layer / table.name / f"dt={dt}"
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(table)
    data = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
    pq.write_table(data, folder / "part-00000.parquet")
    (folder / "_SUCCESS").write_bytes(b"")  # as Spark leaves it; the reader must skip it
    return folder


class LocalLake(dg.ConfigurableResource):
    """The lake in a local folder, with the `filesystem()`/`lake_root()` interface of S3Resource."""

    root: str

    def filesystem(self) -> pafs.FileSystem:
        return pafs.LocalFileSystem()

    def lake_root(self) -> str:
        return self.root


def game_daily_rows(dt: str, scale: int = 1) -> list[dict[str, Any]]:
    """One mart_game_daily row per game for `dt`; figures differ per game and grow with `scale`."""
    rows = []
    for i, (appid, name) in enumerate(GAMES.items()):
        peak = (i + 1) * 100_000 * scale
        rows.append(
            {
                "appid": appid,
                "app_name": name,
                "peak_players": peak,
                "avg_players": peak * 0.6,
                "min_players": peak // 3,
                "samples": 96,
                "news_posts": i % 2,
            }
        )
    return rows


def top_games_rows(dt: str) -> list[dict[str, Any]]:
    """mart_top_games for `dt`, ranked by peak players."""
    ranked = sorted(game_daily_rows(dt), key=lambda r: -r["peak_players"])
    return [
        {
            "rank": rank,
            "appid": r["appid"],
            "app_name": r["app_name"],
            "peak_players": r["peak_players"],
            "avg_players": r["avg_players"],
            "prev_rank": rank + 1 if rank < len(ranked) else None,
            "rank_change": 1 if rank < len(ranked) else None,
        }
        for rank, r in enumerate(ranked, start=1)
    ]


def news_rows(dt: str) -> list[dict[str, Any]]:
    """fact_news for `dt`: an English, a Korean and a Chinese post."""
    day = datetime.combine(date.fromisoformat(dt), datetime.min.time(), tzinfo=UTC)
    posts = [
        (730, "Counter-Strike 2 Update: new map pool", "Release notes for the new map pool."),
        (1599340, KOREAN_TITLE, "여름 업데이트 내용을 안내해 드립니다."),
        (2358720, CHINESE_TITLE, "新版本修复了多个问题。"),
    ]
    return [
        {
            "event_id": f"news-{dt}-{i}",
            "gid": f"{5_000_000_000 + i}{dt.replace('-', '')}",
            "appid": appid,
            "title": title,
            "url": f"https://store.steampowered.com/news/{appid}/{i}",
            "author": "Valve" if appid == 730 else None,
            "feedlabel": "Community Announcements",
            "feed_type": 1,
            "contents_raw": f"[p]{text}[/p]",
            "contents_text": text,
            "word_count": len(text.split()),
            "published_at": day + timedelta(hours=9 + i),
        }
        for i, (appid, title, text) in enumerate(posts)
    ]


def news_impact_rows(dt: str) -> list[dict[str, Any]]:
    """mart_news_impact for the news of `dt` (one has no players before: change_pct null)."""
    rows = []
    for i, post in enumerate(news_rows(dt)):
        before = None if i == 2 else 10_000.0 * (i + 1)
        after = 12_000.0 * (i + 1)
        rows.append(
            {
                "gid": post["gid"],
                "appid": post["appid"],
                "app_name": GAMES[post["appid"]],
                "title": post["title"],
                "url": post["url"],
                "published_at": post["published_at"],
                "window_hours": 6,
                "players_before_avg": before,
                "players_after_avg": after,
                "samples_before": 0 if before is None else 24,
                "samples_after": 24,
                "change_abs": None if before is None else after - before,
                "change_pct": None if before is None else (after - before) / before * 100,
            }
        )
    return rows


def player_count_gaps_rows(dt: str) -> list[dict[str, Any]]:
    """mart_player_count_gaps for `dt`: Dota 2 missed the 10:00 hour, Apex one poll at 14:20."""
    day = datetime.combine(date.fromisoformat(dt), datetime.min.time(), tzinfo=UTC)
    gaps = [(570, 10, "10:00,10:10,10:20,10:30,10:40,10:50"), (1172470, 14, "14:20")]
    return [
        {
            "appid": appid,
            "app_name": GAMES[appid],
            "hour_start": day + timedelta(hours=hour),
            "poll_interval_minutes": 10,
            "expected_slots": 6,
            "observed_slots": 6 - len(times.split(",")),
            "missing_slots": len(times.split(",")),
            "missing_slot_times": times,
            "is_tracked": True,
        }
        for appid, hour, times in gaps
    ]


ROWS_FOR = {
    MART_GAME_DAILY.name: game_daily_rows,
    MART_TOP_GAMES.name: top_games_rows,
    MART_NEWS_IMPACT.name: news_impact_rows,
    MART_PLAYER_COUNT_GAPS.name: player_count_gaps_rows,
    FACT_NEWS.name: news_rows,
}
