"""Silver transforms: bronze envelopes -> typed, deduplicated facts and the app dimension.

Each function takes bronze rows (BRONZE_SCHEMA) and returns the table's rows; callers `conform`
them to the contract and write them with `tables_io.write_days`. One row per `event_id` and day: a
record that reached Kafka twice (a producer retry, a re-run ingest partition) keeps its first landing.

A fact builder takes the days to build: one (a poll's run) or a range (a backfill, history), built
as one plan whatever the range's length, and giving for each day exactly the rows a build of that
day alone gives (rows are selected and deduplicated per day, `FACT_DAY`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from streaming.news_text import text_and_words

RESULT_OK = 1  # GetNumberOfCurrentPlayers' `result` when the app is live

PLAYER_COUNT_PAYLOAD = "appid long, result int, player_count long"
PLAYTIME_PAYLOAD = "steamid string, appid long, playtime_forever long, playtime_2weeks long"
NEWS_PAYLOAD = (
    "gid string, appid long, title string, url string, author string, feedlabel string, "
    "feed_type int, contents string, date long"
)
APP_PAYLOAD = (
    "appid long, name string, type string, is_free boolean, developers array<string>, "
    "publishers array<string>, genres array<struct<id:string,description:string>>, "
    "release_date struct<coming_soon:boolean,date:string>, price_overview struct<final:long>"
)
#: What a store details answer (`store/api/appdetails`) tells about an app besides its name.
DETAILS_ATTRIBUTES = (
    "type",
    "is_free",
    "developers",
    "publishers",
    "genres",
    "release_date",
    "price_cents",
)
APP_ATTRIBUTES = ("name", *DETAILS_ATTRIBUTES)
#: The endpoint of the store details in an app event's `source`; the catalogue's carries names only.
STORE_DETAILS_ENDPOINT = "appdetails"
#: The column a selection (`events_observed_on`, `news_published_on`) adds: the fact day a bronze
#: row belongs to, which facts are deduplicated and reconciled per.
FACT_DAY = "fact_day"


def dedupe_events(bronze: DataFrame, per: str | None = None) -> DataFrame:
    """One row per event_id (per value of the column `per`, when given): the earliest observation,
    ties broken by Kafka position."""
    keys = ["event_id"] if per is None else [per, "event_id"]
    first = Window.partitionBy(*keys).orderBy("observed_at", "kafka_partition", "kafka_offset")
    return bronze.withColumn("_n", F.row_number().over(first)).where("_n = 1").drop("_n")


def _with_payload(bronze: DataFrame, ddl: str) -> DataFrame:
    return bronze.withColumn("p", F.from_json("payload", ddl))


def _first_of_each_day(selected: DataFrame, ddl: str) -> DataFrame:
    """A selection's rows deduplicated per fact day, with the payload parsed as `p`."""
    return _with_payload(dedupe_events(selected, per=FACT_DAY), ddl)


def fact_player_counts(bronze: DataFrame, day: date) -> DataFrame:
    """Player-count snapshots observed on `day` (bronze `dt = day`)."""
    return fact_player_counts_of_days(bronze, [day])


def fact_player_counts_of_days(bronze: DataFrame, days: Sequence[date]) -> DataFrame:
    """Player-count snapshots observed on `days`, each day's as `fact_player_counts` gives them."""
    rows = _first_of_each_day(events_observed_on(bronze, days), PLAYER_COUNT_PAYLOAD)
    live = F.col("p.result") == RESULT_OK
    return rows.select(
        "event_id",
        F.col("p.appid").alias("appid"),
        F.when(live, F.col("p.player_count")).alias("player_count"),
        live.alias("is_live"),
        "observed_at",
        "dt",
    ).where(F.col("appid").isNotNull())


def fact_playtime(bronze: DataFrame, day: date) -> DataFrame:
    """Playtime per tracked player and game polled on `day`; `source` is the endpoint's method."""
    return fact_playtime_of_days(bronze, [day])


def fact_playtime_of_days(bronze: DataFrame, days: Sequence[date]) -> DataFrame:
    """Playtime polled on `days`, each day's as `fact_playtime` gives it."""
    rows = _first_of_each_day(events_observed_on(bronze, days), PLAYTIME_PAYLOAD)
    return rows.select(
        "event_id",
        F.col("p.steamid").alias("steamid"),
        F.col("p.appid").alias("appid"),
        F.col("p.playtime_2weeks").alias("playtime_2weeks"),
        F.col("p.playtime_forever").alias("playtime_forever"),
        F.regexp_extract("source", r"(GetRecentlyPlayedGames|GetOwnedGames)", 1).alias("source"),
        "observed_at",
        "dt",
    ).where(F.col("appid").isNotNull() & F.col("steamid").isNotNull())


def events_observed_on(bronze: DataFrame, days: Sequence[date]) -> DataFrame:
    """Bronze rows observed on `days` (the selection of player counts and playtime); a row's fact
    day is its bronze `dt`."""
    return bronze.where(F.col("dt").isin(list(days))).withColumn(FACT_DAY, F.col("dt"))


def news_published_on(bronze: DataFrame, days: Sequence[date]) -> DataFrame:
    """Bronze news rows whose post was published on one of `days`, whenever it was observed; a
    row's fact day is its publication day.

    Only bronze days from the publication day on count: a post is never observed before it exists.
    """
    published = F.to_date(F.timestamp_seconds(F.get_json_object("payload", "$.date").cast("long")))
    return (
        bronze.withColumn(FACT_DAY, published)
        .where(F.col(FACT_DAY).isin(list(days)))
        .where(F.col("dt") >= F.col(FACT_DAY))
    )


def fact_news(bronze: DataFrame, day: date) -> DataFrame:
    """News posts published on `day` (UTC) with their plain text and word count."""
    return fact_news_of_days(bronze, [day])


def fact_news_of_days(bronze: DataFrame, days: Sequence[date]) -> DataFrame:
    """News posts published on `days`, each day's as `fact_news` gives them."""
    rows = _first_of_each_day(news_published_on(bronze, days), NEWS_PAYLOAD)
    rows = rows.withColumn("published_at", F.timestamp_seconds(F.col("p.date")))
    text = text_and_words(F.col("p.contents"))
    return rows.select(
        "event_id",
        F.col("p.gid").alias("gid"),
        F.col("p.appid").alias("appid"),
        F.col("p.title").alias("title"),
        F.col("p.url").alias("url"),
        F.col("p.author").alias("author"),
        F.col("p.feedlabel").alias("feedlabel"),
        F.col("p.feed_type").alias("feed_type"),
        F.col("p.contents").alias("contents_raw"),
        text["text"].alias("contents_text"),
        text["words"].alias("word_count"),
        "published_at",
        F.to_date("published_at").alias("dt"),
    ).where(F.col("gid").isNotNull() & F.col("appid").isNotNull())


def _app_observations(events: DataFrame) -> DataFrame:
    """Each (deduplicated) app event's attributes; list fields joined as comma-separated text."""
    rows = _with_payload(events, APP_PAYLOAD)
    return rows.select(
        F.col("p.appid").alias("appid"),
        "observed_at",
        "kafka_partition",
        "kafka_offset",
        F.col("source").contains(STORE_DETAILS_ENDPOINT).alias("is_details"),
        F.col("p.name").alias("name"),
        F.col("p.type").alias("type"),
        F.col("p.is_free").alias("is_free"),
        F.array_join("p.developers", ", ").alias("developers"),
        F.array_join("p.publishers", ", ").alias("publishers"),
        F.array_join(F.transform("p.genres", lambda g: g["description"]), ", ").alias("genres"),
        F.col("p.release_date.date").alias("release_date"),
        F.col("p.price_overview.final").alias("price_cents"),
    ).where(F.col("appid").isNotNull())


def dim_app(bronze: DataFrame) -> DataFrame:
    """App versions with validity (SCD type 2) from every app observation in bronze.

    The catalogue and the store details arrive as separate events. The catalogue carries names
    only: the name is the latest any event gave. The store details are a snapshot of the store
    page: the other attributes are those of the latest details answer as a whole, carried forward
    through catalogue events (a catalogue refresh does not erase the genres), while a field the
    latest answer lacks is gone (an app that went free has no price any more). A new version
    starts whenever these attributes change; `valid_to` is the next version's `valid_from`.
    """
    return _versions(_app_observations(dedupe_events(bronze)))


def dim_app_since(
    previous: DataFrame, since: datetime, bronze_since: DataFrame, earlier_event_ids: DataFrame
) -> DataFrame:
    """The app dimension after the days from `since` on were (re)landed, without reading history.

    `previous` is the dimension built before (DIM_APP rows), `bronze_since` the app bronze days
    from `since` (a UTC midnight) on, `earlier_event_ids` the `event_id`s of `bronze_since` first
    observed before `since` (`earlier_event_ids` below finds them without reading history). The rows
    equal `dim_app` of all bronze, provided the days before `since` have not changed since
    `previous` was built: versions that start before `since` are kept; each app's last one is the
    seed of its history from `since` on (its name and store details carried, as `dim_app` carries
    them; its `valid_to` recomputed); an event first observed before `since` is not observed again
    (as `dim_app` keeps an event's first observation).
    """
    kept = previous.where(F.col("valid_from") < F.lit(since))
    last = Window.partitionBy("appid").orderBy(F.col("valid_from").desc())
    ranked = kept.withColumn("_n", F.row_number().over(last))
    seeds = ranked.where("_n = 1").select(
        "appid",
        F.col("valid_from").alias("observed_at"),
        F.lit(-1).cast("int").alias("kafka_partition"),
        F.lit(-1).cast("long").alias("kafka_offset"),
        # The seed carries the state its version had: all-null details behave as no details.
        F.lit(True).alias("is_details"),
        *APP_ATTRIBUTES,
    )
    first_seen = dedupe_events(bronze_since).join(earlier_event_ids, "event_id", "left_anti")
    observations = _app_observations(first_seen)
    later = _versions(seeds.unionByName(observations.select(*seeds.columns)))
    earlier = ranked.where("_n > 1").drop("_n")
    return earlier.unionByName(later.select(*earlier.columns))


# Which events of the rebuilt days were observed before, without reading every older day. A store
# details event's id is its app and ingest partition day (a re-run of that day re-observes it), and a
# partition's run never happens before its day: the days from that partition day on hold any earlier
# observation. A catalogue event's id is its app and last change: it recurs every day the app is
# unchanged, so the dimension keeps the first observation of each catalogue id it has seen (one row
# per app and catalogue change, not per day).

#: The catalogue ids record kept with the dimension: each catalogue event id and its first observation.
CATALOGUE_IDS_DDL = "event_id string, first_observed_at timestamp"


def catalogue_first_observations(bronze: DataFrame) -> DataFrame:
    """Each catalogue event id in `bronze` with its first observation (CATALOGUE_IDS_DDL)."""
    catalogue = bronze.where(~F.col("source").contains(STORE_DETAILS_ENDPOINT))
    return catalogue.groupBy("event_id").agg(F.min("observed_at").alias("first_observed_at"))


def catalogue_ids_since(previous_ids: DataFrame, since: datetime, bronze_since: DataFrame) -> DataFrame:
    """The catalogue ids record after the days from `since` on were (re)built."""
    kept = previous_ids.where(F.col("first_observed_at") < F.lit(since))
    fresh = catalogue_first_observations(bronze_since).join(kept, "event_id", "left_anti")
    return kept.unionByName(fresh)


def details_lookback_day(bronze_since: DataFrame, first_day: date) -> date | None:
    """The oldest bronze day that may hold an earlier observation of a store details event of
    `bronze_since`: its oldest ingest partition day before `first_day` (a re-run of an older day);
    None when every details event belongs to `first_day` or later; `date.min` when a partition is
    not a day (read every older day)."""
    details = bronze_since.where(F.col("source").contains(STORE_DETAILS_ENDPOINT))
    day = F.substring("partition_key", 1, 10).try_cast("date")
    row = details.select(
        F.min(day).alias("oldest"), F.sum(F.when(day.isNull(), 1).otherwise(0)).alias("undated")
    ).first()
    if row is None:
        return None
    if row["undated"]:
        return date.min
    oldest: date | None = row["oldest"]
    return oldest if oldest is not None and oldest < first_day else None


def earlier_event_ids(previous_ids: DataFrame, since: datetime, details_days_before: DataFrame) -> DataFrame:
    """`event_id`s observed before `since` that the rebuilt days may observe again: the catalogue
    ids first seen before it and the ids of the bronze days `details_lookback_day` named."""
    catalogue = previous_ids.where(F.col("first_observed_at") < F.lit(since)).select("event_id")
    return catalogue.unionByName(details_days_before.select("event_id"))


def _versions(observations: DataFrame) -> DataFrame:
    """SCD type 2 versions of ordered app observations (`dim_app`'s rules)."""
    obs = observations
    ordered = Window.partitionBy("appid").orderBy("observed_at", "kafka_partition", "kafka_offset")
    history = ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    snapshot = F.when(F.col("is_details"), F.struct(*DETAILS_ATTRIBUTES))
    obs = obs.withColumn("name", F.last("name", ignorenulls=True).over(history)).withColumn(
        "_details", F.last(snapshot, ignorenulls=True).over(history)
    )
    for attr in DETAILS_ATTRIBUTES:
        obs = obs.withColumn(attr, F.col("_details")[attr])
    obs = obs.withColumn("_state", F.sha2(F.to_json(F.struct(*APP_ATTRIBUTES)), 256))
    changed = F.lag("_state").over(ordered).isNull() | (F.lag("_state").over(ordered) != F.col("_state"))
    versions = obs.withColumn("_changed", changed).where("_changed")
    by_version = Window.partitionBy("appid").orderBy("observed_at", "kafka_partition", "kafka_offset")
    valid_to = F.lead("observed_at").over(by_version)
    return versions.select(
        "appid",
        *APP_ATTRIBUTES,
        F.col("observed_at").alias("valid_from"),
        valid_to.alias("valid_to"),
        valid_to.isNull().alias("is_current"),
    )
