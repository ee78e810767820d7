"""Search layer: the marts and the news made searchable in Elasticsearch, and Kibana's dashboards.

Each search asset mirrors one lake table behind an alias, one daily partition at a time (see
`steam_platform.search.indexer`). They are not scheduled: their `AutomationCondition` requests a run
as soon as the upstream mart (or `fact_news`) partition is materialised, evaluated by
`search_indexing_sensor` (`steam_platform/sensors.py`), so a new mart partition becomes searchable
within one sensor tick — older partitions too, when a backfill rewrites them.
"""

import hashlib
import time
from pathlib import Path
from typing import Any

import dagster as dg
from elasticsearch import ConnectionError as EsConnectionError
from pydantic import Field

from steam_platform.constants import GROUP_SEARCH
from steam_platform.localstack.paths import REPO_ROOT
from steam_platform.partitions import daily_partitions
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.kibana import KibanaResource
from steam_platform.search import indexer, reader
from steam_platform.search.bulk import summarise
from steam_platform.search.templates import GAME_DAILY, NEWS, NEWS_IMPACT, TOP_GAMES, IndexSpec

KIBANA_DIR = REPO_ROOT / "deploy" / "kibana"

#: Index a partition whenever its upstream partition is (re)materialised, any day, not only today;
#: never while the upstream is missing or still running, never twice at once.
INDEX_ON_UPSTREAM_UPDATE = dg.AutomationCondition.eager().without(
    dg.AutomationCondition.in_latest_time_window()
)

#: An outage of the cluster longer than the in-run back-off: try the whole partition again later.
INDEX_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)


class SearchIndexConfig(dg.Config):
    """Run configuration of a search asset."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the whole index from every partition in the lake into a new versioned "
        "index and swap the alias to it (the old index is removed).",
    )


def _report_metadata(report: indexer.IndexReport) -> dict[str, Any]:
    return {
        "alias": report.alias,
        "index": report.index,
        "mode": report.mode,
        "partitions_indexed": len(report.partitions),
        "rows_in_lake": report.rows,
        "docs_indexed": report.docs_indexed,
        "docs_deleted": report.docs_deleted,
        "docs_failed": len(report.failed),
        "failures": dg.MetadataValue.md(f"```\n{summarise(report.failed)}\n```"),
        "old_indices_removed": ", ".join(report.old_indices_removed) or "none",
        "duration_s": report.duration_s,
    }


def _index_asset(spec: IndexSpec, upstream: str, name: str, description: str) -> dg.AssetsDefinition:
    """A daily search asset that keeps `spec.alias` in step with the `upstream` lake table."""

    @dg.asset(
        name=name,
        group_name=GROUP_SEARCH,
        description=description,
        partitions_def=daily_partitions,
        deps=[dg.AssetDep(upstream)],
        kinds={"elasticsearch", "python"},
        automation_condition=INDEX_ON_UPSTREAM_UPDATE,
        retry_policy=INDEX_RETRY_POLICY,
        pool="elasticsearch",
        metadata={"alias": spec.alias, "source_table": spec.table.name, "schema_hash": spec.schema_hash},
    )
    def _search_asset(
        context: dg.AssetExecutionContext,
        config: SearchIndexConfig,
        elasticsearch: ElasticsearchResource,
        s3: dg.ResourceParam[reader.LakeStore],
    ) -> dg.MaterializeResult:
        fs, root = s3.filesystem(), s3.lake_root()
        dt = context.partition_key
        started = time.monotonic()
        es = elasticsearch.client()
        try:
            report = indexer.sync(
                es,
                spec,
                dt,
                load=lambda day: reader.to_documents(
                    reader.read_partition(fs, root, spec.table, day), spec.fields
                ),
                list_partitions=lambda: reader.list_partitions(fs, root, spec.table),
                replicas=elasticsearch.index_replicas,
                force_full_refresh=config.full_refresh,
                retry=elasticsearch.retry_settings(),
            )
        except indexer.IndexingError as exc:
            exc.report.duration_s = round(time.monotonic() - started, 3)
            # Documents the mapping refuses fail the same way next time: only outages are retried.
            raise dg.Failure(
                description=str(exc),
                metadata=_report_metadata(exc.report),
                allow_retries=any(f.transient for f in exc.report.failed),
            ) from exc
        except EsConnectionError as exc:
            # Raised only after the client's and our back-off retries (see search.bulk).
            raise dg.Failure(
                description=f"Elasticsearch at {elasticsearch.url} unreachable while syncing {spec.alias} "
                f"dt={dt} ({elasticsearch.retry_attempts} attempts with back-off); re-running the "
                "partition is safe (deterministic ids), the retry policy does so.",
                allow_retries=True,
            ) from exc
        except indexer.MappingConflictError as exc:
            raise dg.Failure(
                description=f"mapping conflict for {spec.alias}: {exc}", allow_retries=False
            ) from exc
        finally:
            es.close()
        context.log.info(
            f"{spec.alias}: {report.mode} of dt={dt} -> {report.index}: {report.docs_indexed} indexed, "
            f"{report.docs_deleted} stale deleted in {report.duration_s}s"
        )
        return dg.MaterializeResult(metadata=_report_metadata(report))

    return _search_asset


search_game_daily = _index_asset(
    GAME_DAILY,
    "mart_game_daily",
    "search_game_daily",
    "Each game's daily player figures (peak/avg/min, news posts) searchable in Elasticsearch "
    "(alias mart_game_daily): the per-game player curves in Kibana.",
)
search_top_games = _index_asset(
    TOP_GAMES,
    "mart_top_games",
    "search_top_games",
    "The daily most-played ranking and its change vs the day before, in Elasticsearch "
    "(alias mart_top_games): Kibana's 'most played now' panels.",
)
search_news_impact = _index_asset(
    NEWS_IMPACT,
    "mart_news_impact",
    "search_news_impact",
    "Players before vs after each news post, in Elasticsearch (alias mart_news_impact): which news "
    "moved player counts.",
)
search_news = _index_asset(
    NEWS,
    "fact_news",
    "search_news",
    "Steam news posts full-text searchable in any language, CJK included (alias steam_news): "
    "the news timeline and news search in Kibana.",
)


def _saved_object_files() -> list[Path]:
    return sorted(KIBANA_DIR.glob("*.ndjson"))


def _saved_objects_version() -> str:
    digest = hashlib.sha256()
    for path in _saved_object_files():
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@dg.asset(
    name="kibana_saved_objects",
    group_name=GROUP_SEARCH,
    deps=[search_game_daily, search_top_games, search_news_impact, search_news],
    kinds={"kibana"},
    code_version=_saved_objects_version(),
)
def kibana_saved_objects(context: dg.AssetExecutionContext, kibana: KibanaResource) -> dg.MaterializeResult:
    """Kibana data views and dashboards (most played now, player curves, news timeline, news
    impact) provisioned from `deploy/kibana/*.ndjson`; a no-op that says so when no Kibana is set."""
    files = _saved_object_files()
    if not files:
        raise dg.Failure(description=f"no saved objects found in {KIBANA_DIR}")
    if not kibana.configured:
        context.log.warning(
            "Kibana is not configured (KIBANA_URL unset): saved objects were NOT imported. "
            f"Set KIBANA_URL and re-materialise to provision {len(files)} file(s)."
        )
        return dg.MaterializeResult(
            metadata={
                "provisioned": False,
                "reason": "KIBANA_URL not set: nothing imported",
                "files": ", ".join(p.name for p in files),
            }
        )
    results = [kibana.import_saved_objects(path) for path in files]
    return dg.MaterializeResult(
        metadata={
            "provisioned": True,
            "objects_imported": sum(r.success_count for r in results),
            "files": ", ".join(f"{r.file} ({r.success_count})" for r in results),
        }
    )
