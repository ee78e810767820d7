"""`news`: every news post of the tracked apps published on the partition's day (backfillable).

GetNewsForApp returns posts older than `enddate`, so a day is fetched by paging back from the
day's end until a page reaches the day's start. The event id is the post's `gid`, so a backfill
and a re-run produce the same ids.
"""

import dagster as dg
from pydantic import Field

from steam_platform.assets.ingest.common import IngestRun, ingest_asset
from steam_platform.core import sources
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.tracked import load_tracked
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import EP_NEWS, PATHS
from steam_platform.resources.steam_api import SteamApiResource


class NewsConfig(dg.Config):
    """Paging of GetNewsForApp: items per call and a cap on calls per app and day."""

    page_size: int = Field(default=50, ge=1, le=500)
    max_pages_per_app: int = Field(default=20, ge=1)


@ingest_asset(daily_partitions)
def news(
    context: dg.AssetExecutionContext,
    config: NewsConfig,
    steam: SteamApiResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    """News posts (patch notes, announcements, press) of tracked apps for one day, to `steam.news`.

    Feeds the news timeline, full-text search and "news impact on players" marts. Contents stay
    as Steam sent them (HTML or BBCode); apps whose news cannot be read are listed in metadata.
    """
    window = context.partition_time_window
    start, end = int(window.start.timestamp()), int(window.end.timestamp())
    apps = load_tracked().apps
    run = IngestRun(context, steam, kafka)
    batch = run.batch(sources.NEWS.topic, PATHS[EP_NEWS].rstrip("/"))

    def fetch(appid: int) -> list[dict]:
        return run.client.news_between(
            appid, start, end, page_size=config.page_size, max_pages=config.max_pages_per_app
        )

    apps_with_news = 0
    with run.collecting():
        for appid, result in run.fetch_each(apps, fetch, skipped=batch):
            apps_with_news += bool(result)
            for item in result:
                batch.add(str(appid), (item["gid"],), item, observed_at=run.now)
    return run.publish(
        [batch],
        extra={
            "day_start": window.start.isoformat(),
            "day_end": window.end.isoformat(),
            "apps_tracked": len(apps),
            "apps_with_news": apps_with_news,
        },
    )
