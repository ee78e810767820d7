"""The platform's Kibana dashboards as saved objects, written to `kibana/*.ndjson` beside this
module (package data; `deploy/kibana` links there) for the local Kibana 7.10, and to
`kibana/8.8/*.ndjson` for Kibana 8.8 and later (9.x included): the same dashboards from the same
builders, stamped per `kibana_objects.KibanaTarget`. `KibanaResource` picks the set from the
server's reported version at import time.

Dashboards answer: which games are played most right now and how that changed (top games), each
game's player curve (game daily) and where polls were missed (player-count gaps), the news
timeline, and which news moved player counts (news impact). The ndjson in `kibana/` is what gets
imported; regenerate it after changing a table or a panel with
`python -m steam_platform.assets.search.dashboards` (a unit test fails while the committed files
differ from what this module generates).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from steam_platform.assets.search.kibana_objects import (
    LOCAL,
    TABLE_PARAMS,
    TARGETS,
    KibanaTarget,
    Obj,
    dashboard,
    date_histogram,
    game_picker,
    index_pattern,
    index_pattern_id,
    metric,
    saved_search,
    terms,
    visualization,
    xy_params,
)
from steam_platform.assets.search.templates import (
    GAME_DAILY,
    INDEX_SPECS,
    NEWS,
    NEWS_IMPACT,
    PLAYER_COUNT_GAPS,
    TOP_GAMES,
)


def _top_games_objects(target: KibanaTarget) -> list[Obj]:
    most_played = visualization(
        "steam-vis-most-played-now",
        "Most played now (rank, peak, change vs previous day)",
        TOP_GAMES,
        "table",
        TABLE_PARAMS,
        [
            metric("1", "min", "rank", "Rank"),
            metric("2", "max", "peak_players", "Peak players"),
            metric("3", "max", "rank_change", "Rank change"),
            metric("4", "max", "avg_players", "Avg players"),
            terms("5", "app_name", "1", 25, "bucket", order="asc"),
        ],
        target,
    )
    climbers = visualization(
        "steam-vis-rank-change",
        "Rank change vs previous day",
        TOP_GAMES,
        "horizontal_bar",
        xy_params("horizontal_bar", [("1", "Rank change")], "Places climbed"),
        [metric("1", "max", "rank_change", "Rank change"), terms("2", "app_name", "1", 15, "segment")],
        target,
    )
    top_history = visualization(
        "steam-vis-top-games-history",
        "Top games: daily peak players",
        TOP_GAMES,
        "line",
        xy_params("line", [("1", "Peak players")], "Peak players"),
        [
            metric("1", "max", "peak_players", "Peak players"),
            date_histogram("2", "dt"),
            terms("3", "app_name", "1", 10, "group"),
        ],
        target,
    )
    board = dashboard(
        "steam-dash-most-played",
        "Steam: most played now",
        [(most_played, 0, 0, 24, 20), (climbers, 24, 0, 24, 20), (top_history, 0, 20, 48, 16)],
        "now-1d/d",
        target,
    )
    return [most_played, climbers, top_history, board]


def _missed_polls(target: KibanaTarget) -> Obj:
    """Missed player-count polls per game and hour (`mart_player_count_gaps`): beside the player
    curves, because a gap explains a dip or a flat line in a curve, and a polled game without a
    bar had every poll answered."""
    return visualization(
        "steam-vis-missed-polls",
        "Missed player-count polls per game (per hour)",
        PLAYER_COUNT_GAPS,
        "histogram",
        xy_params("histogram", [("1", "Missed polls")], "Missed polls"),
        [
            metric("1", "sum", "missing_slots", "Missed polls"),
            date_histogram("2", "hour_start", interval="h"),
            terms("3", "app_name", "1", 10, "group"),
        ],
        target,
    )


def _game_curve_objects(target: KibanaTarget) -> list[Obj]:
    curve = visualization(
        "steam-vis-player-curve",
        "Player curve per game (daily peak, average, minimum)",
        GAME_DAILY,
        "line",
        xy_params(
            "line", [("1", "Peak players"), ("2", "Average players"), ("3", "Minimum players")], "Players"
        ),
        [
            metric("1", "max", "peak_players", "Peak players"),
            metric("2", "avg", "avg_players", "Average players"),
            metric("3", "min", "min_players", "Minimum players"),
            date_histogram("4", "dt"),
            terms("5", "app_name", "1", 5, "group"),
        ],
        target,
    )
    daily_table = visualization(
        "steam-vis-game-daily-table",
        "Daily figures per game",
        GAME_DAILY,
        "table",
        TABLE_PARAMS,
        [
            metric("1", "max", "peak_players", "Peak"),
            metric("2", "avg", "avg_players", "Average"),
            metric("3", "min", "min_players", "Minimum"),
            metric("4", "sum", "samples", "Samples"),
            metric("5", "sum", "news_posts", "News posts"),
            terms("6", "app_name", "1", 50, "bucket"),
        ],
        target,
    )
    gaps = _missed_polls(target)
    if target.input_controls:
        picker = game_picker("steam-vis-game-picker", GAME_DAILY, target)
        panels = [(picker, 0, 0, 12, 8), (curve, 12, 0, 36, 20), (daily_table, 0, 20, 48, 16)]
        objects = [picker, curve, daily_table, gaps]
    else:  # no legacy input control: pick games with the query bar or by clicking a table row
        panels = [(curve, 0, 0, 48, 20), (daily_table, 0, 20, 48, 16)]
        objects = [curve, daily_table, gaps]
    panels.append((gaps, 0, 36, 48, 14))
    board = dashboard("steam-dash-player-curves", "Steam: player curves", panels, "now-30d", target)
    return [*objects, board]


def _news_objects(target: KibanaTarget) -> list[Obj]:
    timeline = visualization(
        "steam-vis-news-timeline",
        "News timeline (posts per day by feed)",
        NEWS,
        "histogram",
        xy_params("histogram", [("1", "Posts")], "Posts"),
        [
            metric("1", "count", label="Posts"),
            date_histogram("2", "published_at"),
            terms("3", "feedlabel", "1", 5, "group"),
        ],
        target,
    )
    news_list = saved_search(
        "steam-search-news",
        "Steam news",
        NEWS,
        ["title", "appid", "feedlabel", "author", "url"],
        "published_at",
        target,
    )
    impact_table = visualization(
        "steam-vis-news-impact",
        "News that moved player counts (after vs before, %)",
        NEWS_IMPACT,
        "table",
        TABLE_PARAMS,
        [
            metric("1", "max", "change_pct", "Change %"),
            metric("2", "max", "players_before_avg", "Players before"),
            metric("3", "max", "players_after_avg", "Players after"),
            metric("4", "max", "published_at", "Published"),
            terms("5", "title.keyword", "1", 25, "bucket"),
            terms("6", "app_name", "1", 1, "bucket"),
        ],
        target,
    )
    impact_by_game = visualization(
        "steam-vis-news-impact-by-game",
        "Average player change after news, per game",
        NEWS_IMPACT,
        "horizontal_bar",
        xy_params("horizontal_bar", [("1", "Avg change %")], "Change %"),
        [metric("1", "avg", "change_pct", "Avg change %"), terms("2", "app_name", "1", 15, "segment")],
        target,
    )
    board = dashboard(
        "steam-dash-news",
        "Steam: news timeline and impact",
        [
            (timeline, 0, 0, 48, 14),
            (impact_table, 0, 14, 30, 20),
            (impact_by_game, 30, 14, 18, 20),
            (news_list, 0, 34, 48, 20),
        ],
        "now-30d",
        target,
    )
    return [timeline, news_list, impact_table, impact_by_game, board]


def saved_object_files(target: KibanaTarget = LOCAL) -> dict[str, list[Obj]]:
    """File name -> saved objects in import order, stamped for `target`. Each file is
    self-contained: it carries the data views its panels use, so every reference resolves within
    the file it is imported from."""
    files = {
        "dashboard_most_played.ndjson": _top_games_objects(target),
        "dashboard_player_curves.ndjson": _game_curve_objects(target),
        "dashboard_news.ndjson": _news_objects(target),
    }
    by_id = {index_pattern_id(spec): spec for spec in INDEX_SPECS}
    out: dict[str, list[Obj]] = {}
    for name, objects in files.items():
        used = sorted({r["id"] for o in objects for r in o["references"] if r["type"] == "index-pattern"})
        out[name] = [index_pattern(by_id[i], target) for i in used] + objects
    return out


def render(objects: list[Obj]) -> str:
    """ndjson text: one compact JSON object per line."""
    return "".join(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n" for obj in objects)


def target_dir(root: Path, target: KibanaTarget) -> Path:
    """Where `target`'s files live under `root`: the local set at the top (what the compose stack
    imports), every other set in a folder named by the oldest Kibana it imports into."""
    return root if target == LOCAL else root / target.name


def write_all(root: Path) -> list[Path]:
    """Write every target's ndjson files under `root` (by default the package's `kibana/`, shipped
    as package data)."""
    written = []
    for target in TARGETS:
        directory = target_dir(root, target)
        directory.mkdir(parents=True, exist_ok=True)
        for name, objects in saved_object_files(target).items():
            path = directory / name
            path.write_text(render(objects), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(
        Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "kibana"
    ):
        print(path)
