"""Gold transforms: per-day game stats, news impact on players, and daily rankings.

Inputs are silver tables (already typed and deduplicated); outputs carry exactly the mart
contracts' columns once conformed. Every function is pure: the rows of the days it needs in, the
rows of one day out, so a partition can be rebuilt any time with the same result. Each has a
range form (`..._of_days`) that builds several days in one plan, every day's rows exactly those of
the one-day form (days are grouping keys, never mixed); the one-day form is the range form of one day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def current_names(dim_app: DataFrame) -> DataFrame:
    """appid -> app_name from the current version of each app."""
    return dim_app.where("is_current").select("appid", F.col("name").alias("app_name"))


def mart_game_daily(counts: DataFrame, news: DataFrame, dim_app: DataFrame, day: date) -> DataFrame:
    """Per app on `day`: peak/avg/min concurrent players over its samples, and news posts.

    Apps with a player-count row or a news post that day appear; `samples` counts the live
    samples (a 'no match' answer has no count), so the stats are null when it is 0.
    """
    return mart_game_daily_of_days(counts, news, dim_app, [day])


def mart_game_daily_of_days(
    counts: DataFrame, news: DataFrame, dim_app: DataFrame, days: Sequence[date]
) -> DataFrame:
    """`mart_game_daily` of each of `days`, in one plan."""
    on_days = F.col("dt").isin(list(days))
    stats = (
        counts.where(on_days)
        .groupBy("appid", "dt")
        .agg(
            F.max("player_count").alias("peak_players"),
            F.avg("player_count").alias("avg_players"),
            F.min("player_count").alias("min_players"),
            F.count("player_count").alias("samples"),
        )
    )
    posts = news.where(on_days).groupBy("appid", "dt").agg(F.count("*").alias("news_posts"))
    return (
        stats.join(posts, ["appid", "dt"], "full_outer")
        .join(current_names(dim_app), "appid", "left")
        .select(
            "appid",
            "app_name",
            "dt",
            "peak_players",
            "avg_players",
            "min_players",
            F.coalesce("samples", F.lit(0)).alias("samples"),
            F.coalesce("news_posts", F.lit(0)).alias("news_posts"),
        )
    )


def mart_news_impact(
    news: DataFrame, counts: DataFrame, dim_app: DataFrame, day: date, window_hours: int
) -> DataFrame:
    """Per post published on `day`: mean players in the `window_hours` before vs after it.

    Before = [published_at - w, published_at), after = [published_at, published_at + w). With
    w <= 24 h the windows reach at most into the previous and next day, so `counts` must hold
    `day - 1 .. day + 1` for posts near midnight to be measured fully.
    """
    return mart_news_impact_of_days(news, counts, dim_app, [day], window_hours)


def mart_news_impact_of_days(
    news: DataFrame, counts: DataFrame, dim_app: DataFrame, days: Sequence[date], window_hours: int
) -> DataFrame:
    """`mart_news_impact` of each of `days`, in one plan: a post is measured on the counts of its
    own day and its two neighbours only, as a build of its day alone reads them."""
    if not 0 < window_hours <= 24:
        raise ValueError(f"window_hours must be in 1..24, got {window_hours}")
    posts = news.where(F.col("dt").isin(list(days))).select(
        "gid", "appid", "title", "url", "published_at", "dt"
    )
    samples = counts.where(F.col("player_count").isNotNull()).select(
        F.col("appid").alias("s_appid"), F.col("dt").alias("s_dt"), "observed_at", "player_count"
    )
    width = F.expr(f"INTERVAL {window_hours} HOURS")
    before = (F.col("observed_at") >= F.col("published_at") - width) & (
        F.col("observed_at") < F.col("published_at")
    )
    after = (F.col("observed_at") >= F.col("published_at")) & (
        F.col("observed_at") < F.col("published_at") + width
    )
    neighbour = F.abs(F.datediff(F.col("s_dt"), F.col("dt"))) <= 1
    joined = posts.join(samples, (F.col("s_appid") == F.col("appid")) & neighbour & (before | after), "left")
    measured = joined.groupBy("gid", "appid", "title", "url", "published_at", "dt").agg(
        F.avg(F.when(before, F.col("player_count"))).alias("players_before_avg"),
        F.avg(F.when(after, F.col("player_count"))).alias("players_after_avg"),
        F.count(F.when(before, F.lit(1))).alias("samples_before"),
        F.count(F.when(after, F.lit(1))).alias("samples_after"),
    )
    change = F.col("players_after_avg") - F.col("players_before_avg")
    return measured.join(current_names(dim_app), "appid", "left").select(
        "gid",
        "appid",
        "app_name",
        "title",
        "url",
        "published_at",
        "dt",
        F.lit(window_hours).alias("window_hours"),
        "players_before_avg",
        "players_after_avg",
        "samples_before",
        "samples_after",
        change.alias("change_abs"),
        F.when(F.col("players_before_avg") > 0, change / F.col("players_before_avg") * 100).alias(
            "change_pct"
        ),
    )


def _ranked(game_daily: DataFrame, days: Sequence[date]) -> DataFrame:
    """Apps with a peak on each of `days`, ranked 1.. per day by peak (ties: lower appid first)."""
    order = Window.partitionBy("dt").orderBy(F.col("peak_players").desc(), F.col("appid").asc())
    return (
        game_daily.where(F.col("dt").isin(list(days)) & F.col("peak_players").isNotNull())
        .withColumn("rank", F.row_number().over(order))
        .select("appid", "dt", "app_name", "peak_players", "avg_players", "rank")
    )


def mart_top_games(game_daily: DataFrame, day: date, previous_day: date) -> DataFrame:
    """The ranking of `day` by peak players with each app's rank the previous day and the change."""
    today = _ranked(game_daily, [day])
    before = _ranked(game_daily, [previous_day]).select("appid", F.col("rank").alias("prev_rank"))
    return _with_previous_rank(today.join(before, "appid", "left"))


def mart_top_games_of_days(game_daily: DataFrame, days: Sequence[date]) -> DataFrame:
    """`mart_top_games` of each of `days` against the day before it, in one plan (`game_daily` must
    hold the day before the first too)."""
    today = _ranked(game_daily, days)
    previous = sorted({day - timedelta(days=1) for day in days})
    before = _ranked(game_daily, previous).select(
        "appid", F.date_add("dt", 1).alias("dt"), F.col("rank").alias("prev_rank")
    )
    return _with_previous_rank(today.join(before, ["appid", "dt"], "left"))


def _with_previous_rank(ranked: DataFrame) -> DataFrame:
    return ranked.select(
        "dt",
        "rank",
        "appid",
        "app_name",
        "peak_players",
        "avg_players",
        "prev_rank",
        (F.col("prev_rank") - F.col("rank")).alias("rank_change"),
    )
