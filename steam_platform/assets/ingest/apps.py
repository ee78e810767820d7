"""`app_catalog` and `app_details`: what each app is (names, types, prices, genres), daily.

The catalogue comes from IStoreService/GetAppList (key required, cursor paging); the details of
tracked apps from the store's appdetails (no key, paced to the store's limit). Both are snapshots
of the day they run for. Catalogue events are keyed by their change marker (`last_modified`,
`price_change_number`), so an unchanged app produces the same event id every day.
"""

import dagster as dg
from pydantic import Field

from steam_platform.assets.ingest.common import (
    POOL_STEAM_STORE,
    IngestRun,
    ingest_asset,
    skipped_without_key,
)
from steam_platform.core import sources
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.tracked import load_tracked
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam import (
    EP_APP_LIST,
    PATHS,
    AppDetails,
    SteamAppError,
    SteamMalformedResponse,
)
from steam_platform.resources.steam_api import SteamApiResource


class AppCatalogConfig(dg.Config):
    """Catalogue paging: apps per page (Steam allows up to 50,000) and what to include."""

    page_size: int = Field(default=50_000, ge=1, le=50_000)
    include_dlc: bool = False
    include_software: bool = False


@ingest_asset(daily_partitions)
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
    source = PATHS[EP_APP_LIST].rstrip("/")
    skipped = skipped_without_key(context, steam, source)
    if skipped is not None:
        return skipped
    run = IngestRun(context, steam, kafka)
    batch = run.batch(sources.APPS.topic, source)
    pages = 0
    with run.collecting():
        try:
            for page in run.client.app_list(
                max_results=config.page_size,
                include_dlc=config.include_dlc,
                include_software=config.include_software,
            ):
                pages += 1
                for app in page.apps:
                    natural = (app["appid"], app.get("last_modified"), app.get("price_change_number"))
                    batch.add(str(app["appid"]), natural, app, observed_at=run.now)
        except SteamMalformedResponse as exc:  # an unreadable page: kept in the DLQ, reported
            batch.malformed(f"page {pages + 1}", exc, secrets=(steam.api_key,))
        except SteamAppError as exc:  # a bad page: what came before is kept, the run reports it
            batch.skip(f"page {pages + 1}", f"{exc.reason}: {exc}")
    return run.publish([batch], extra={"pages": pages})


class AppDetailsConfig(dg.Config):
    """Store locale for prices and texts."""

    country_code: str = "us"
    language: str = "english"


@ingest_asset(daily_partitions, pool=POOL_STEAM_STORE)
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
    apps = load_tracked().apps
    run = IngestRun(context, steam, kafka)
    batch = run.batch(sources.APPS.topic, "store/api/appdetails")

    def fetch(appid: int) -> AppDetails:
        return run.client.app_details(appid, cc=config.country_code, language=config.language)

    with run.collecting():
        for appid, result in run.fetch_each(apps, fetch, skipped=batch):
            if not result.success:
                batch.skip(appid, "unknown_app: store answered success=false")
            else:
                batch.add(str(appid), (appid, context.partition_key), result.payload(), observed_at=run.now)
    return run.publish([batch], extra={"apps_tracked": len(apps)})
