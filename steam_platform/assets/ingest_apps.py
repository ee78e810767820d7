"""`app_catalog` and `app_details`: what each app is (names, types, prices, genres), daily.

The catalogue comes from IStoreService/GetAppList (key required, cursor paging); the details of
tracked apps from the store's appdetails (no key, paced to the store's limit). Both are snapshots
of the day they run for. Catalogue events are keyed by their change marker (`last_modified`,
`price_change_number`), so an unchanged app produces the same event id every day.
"""

import time
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from steam_platform.assets.ingest_common import (
    INGEST_RETRY_POLICY,
    POOL_STEAM_API,
    POOL_STEAM_STORE,
    EventBatch,
    fetch_each,
    publish,
)
from steam_platform.constants import GROUP_INGEST, TOPIC_APPS
from steam_platform.partitions import daily_partitions
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import (
    EP_APP_LIST,
    PATHS,
    AppDetails,
    SteamAppError,
    SteamSourceError,
)
from steam_platform.resources.steam_api import SteamApiResource
from steam_platform.tracked import load_tracked

NO_KEY_MESSAGE = "skipped: STEAM_API_KEY is not set and {endpoint} needs a Web API key"


class AppCatalogConfig(dg.Config):
    """Catalogue paging: apps per page (Steam allows up to 50,000) and what to include."""

    page_size: int = Field(default=50_000, ge=1, le=50_000)
    include_dlc: bool = False
    include_software: bool = False


@dg.asset(
    group_name=GROUP_INGEST,
    kinds={"steam", "kafka"},
    partitions_def=daily_partitions,
    deps=["kafka_topics"],
    retry_policy=INGEST_RETRY_POLICY,
    pool=POOL_STEAM_API,
)
def app_catalog(
    context: dg.AssetExecutionContext,
    config: AppCatalogConfig,
    steam: SteamApiResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    """Every app in the Steam store catalogue (id, name, last change), to `steam.apps`.

    Gives every app a name in the app dimension, also apps that are not tracked. Needs the API
    key: without one the run succeeds with nothing produced and says so.
    """
    started = time.monotonic()
    source = PATHS[EP_APP_LIST].rstrip("/")
    if not steam.has_key:
        message = NO_KEY_MESSAGE.format(endpoint=source)
        context.log.warning(message)
        return dg.MaterializeResult(metadata={"skipped_reason": message, "events_total": 0})
    client = steam.client()
    before = steam.stats().snapshot()
    batch = EventBatch(TOPIC_APPS, source, context.partition_key)
    now = datetime.now(UTC)
    source_error: SteamSourceError | None = None
    pages = 0
    try:
        for page in client.app_list(
            max_results=config.page_size,
            include_dlc=config.include_dlc,
            include_software=config.include_software,
        ):
            pages += 1
            for app in page.apps:
                natural = (app["appid"], app.get("last_modified"), app.get("price_change_number"))
                batch.add(str(app["appid"]), natural, app, observed_at=now)
    except SteamAppError as exc:  # a bad page: what came before is kept, the run reports it
        batch.skip(f"page {pages + 1}", f"{exc.reason}: {exc}")
    except SteamSourceError as exc:
        source_error = exc
    return publish(context, kafka, steam, [batch], before, started, source_error, extra={"pages": pages})


class AppDetailsConfig(dg.Config):
    """Store locale for prices and texts."""

    country_code: str = "us"
    language: str = "english"


@dg.asset(
    group_name=GROUP_INGEST,
    kinds={"steam", "kafka"},
    partitions_def=daily_partitions,
    deps=["kafka_topics"],
    retry_policy=INGEST_RETRY_POLICY,
    pool=POOL_STEAM_STORE,
)
def app_details(
    context: dg.AssetExecutionContext,
    config: AppDetailsConfig,
    steam: SteamApiResource,
    kafka: KafkaResource,
) -> dg.MaterializeResult:
    """Store details of every tracked app (type, genres, price, platforms, release), to `steam.apps`.

    Feeds the app dimension behind every dashboard filter. Paced to the store's limit across
    runs; unknown apps (`success: false`) and failed requests are listed in metadata.
    """
    started = time.monotonic()
    apps = load_tracked().apps
    client = steam.client()
    before = steam.stats().snapshot()
    batch = EventBatch(TOPIC_APPS, "store/api/appdetails", context.partition_key)
    now = datetime.now(UTC)
    source_error: SteamSourceError | None = None

    def fetch(appid: int) -> AppDetails:
        return client.app_details(appid, cc=config.country_code, language=config.language)

    try:
        for appid, result in fetch_each(apps, fetch, steam.max_concurrency):
            if isinstance(result, SteamAppError):
                batch.skip(appid, f"{result.reason}: {result}")
            elif not result.success:
                batch.skip(appid, "unknown_app: store answered success=false")
            else:
                batch.add(str(appid), (appid, context.partition_key), result.payload(), observed_at=now)
    except SteamSourceError as exc:
        source_error = exc
    return publish(
        context, kafka, steam, [batch], before, started, source_error, extra={"apps_tracked": len(apps)}
    )
