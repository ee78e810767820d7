"""Search layer: the marts and the news made searchable in Elasticsearch, and Kibana's dashboards.

Each search asset mirrors one lake table behind an alias, one daily partition at a time (see
`steam_platform.assets.search.indexer`); a run may cover a range of days (a backfill), synced day by day.
They are not scheduled: `lake_refresh_sensor` indexes a day in the same run that rebuilt its marts
(so a poll is searchable as soon as that run ends, backfilled days too), and for past days whose
mart changed outside such a run the assets' `AutomationCondition` requests them (evaluated by
`search_automation_sensor`, see `definitions.py`), never while the mart's blocking checks fail.
"""

import hashlib
import time
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from steam_platform.assets.search import indexer, reader, shard_size
from steam_platform.assets.search.bulk import summarise
from steam_platform.assets.search.templates import (
    GAME_DAILY,
    NEWS,
    NEWS_IMPACT,
    PLAYER_COUNT_GAPS,
    TOP_GAMES,
    IndexSpec,
)
from steam_platform.core import sources
from steam_platform.core.automation_conditions import (
    FOLLOW_UPSTREAM_PAST_DAYS,
    PROVISION_WHEN_MISSING_OR_CHANGED,
)
from steam_platform.core.backfill import SINGLE_RUN_BACKFILL
from steam_platform.core.cadence import Cadence, freshness
from steam_platform.core.constants import GROUP_SEARCH
from steam_platform.core.partitions import daily_partitions
from steam_platform.core.sources import SteamSource
from steam_platform.core.step_priority import step_priority_tags
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import EsUnavailable
from steam_platform.resources.kibana import KibanaResource

#: The saved objects ship inside the package (package data), so any install can provision them.
KIBANA_DIR = Path(__file__).resolve().parent / "kibana"

#: An outage of the cluster longer than the in-run back-off: try the whole partition again later.
INDEX_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL)


class SearchIndexConfig(dg.Config):
    """Run configuration of a search asset."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the whole index from every partition in the lake into a new versioned "
        "index and swap the alias to it (the old index is removed).",
    )


def _report_metadata(*reports: indexer.IndexReport) -> dict[str, Any]:
    """What the run's syncs did (one per day of the run), summed; index and mode of the last."""
    last = reports[-1]
    failed = [f for r in reports for f in r.failed]
    return {
        "alias": last.alias,
        "index": last.index,
        "mode": ", ".join(sorted({r.mode for r in reports})),
        "partitions_indexed": len({p for r in reports for p in r.partitions}),
        "rows_in_lake": sum(r.rows for r in reports),
        "docs_indexed": sum(r.docs_indexed for r in reports),
        "docs_deleted": sum(r.docs_deleted for r in reports),
        "docs_failed": len(failed),
        "failures": dg.MetadataValue.md(f"```\n{summarise(failed)}\n```"),
        "old_indices_removed": ", ".join(i for r in reports for i in r.old_indices_removed) or "none",
        "superseded_by": ", ".join(r.superseded_by for r in reports if r.superseded_by) or "none",
        "duration_s": round(sum(r.duration_s for r in reports), 3),
    }


def failed_upstream_checks(instance: dg.DagsterInstance, upstream: str, dt: str, run_id: str) -> list[str]:
    """Blocking checks that failed in the run which last materialised `upstream`'s partition `dt`.

    A mart rebuilt by another run whose blocking check failed must not reach Elasticsearch, even
    when an automation condition (which judges checks per asset, not per partition) let this run
    start. In the run that built the mart itself, Dagster's blocking checks already stop us.
    """
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(upstream), asset_partitions=[dt]), limit=1
    ).records
    if not latest or not latest[0].run_id or latest[0].run_id == run_id:
        return []
    failed = []
    for entry in instance.all_logs(latest[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        if entry.dagster_event is None:
            continue
        evaluation = entry.dagster_event.asset_check_evaluation_data
        same_day = evaluation.partition in (dt, None)
        ours = evaluation.asset_key == dg.AssetKey(upstream) and same_day and evaluation.blocking
        if ours and not evaluation.passed:
            failed.append(evaluation.check_name)
    return sorted(set(failed))


def _index_asset(
    spec: IndexSpec, upstream: str, name: str, description: str, cadence: Cadence
) -> dg.AssetsDefinition:
    """A daily search asset that keeps `spec.alias` in step with the `upstream` lake table."""

    @dg.asset(
        name=name,
        group_name=GROUP_SEARCH,
        description=description,
        partitions_def=daily_partitions,
        deps=[dg.AssetDep(upstream)],
        kinds={"elasticsearch", "python"},
        automation_condition=FOLLOW_UPSTREAM_PAST_DAYS,
        retry_policy=INDEX_RETRY_POLICY,
        backfill_policy=SINGLE_RUN_BACKFILL,  # one run for a range: days are synced in turn
        freshness_policy=freshness(cadence),
        pool="elasticsearch",
        op_tags=step_priority_tags(name),
        metadata={"alias": spec.alias, "source_table": spec.table.name, "schema_hash": spec.schema_hash},
        check_specs=[
            dg.AssetCheckSpec(
                shard_size.CHECK_SHARD_SIZE,
                asset=name,
                blocking=False,
                description="The largest primary shard behind the alias is under the sizing's warning "
                "lines (30 GiB, 150 million documents)",
            )
        ],
    )
    def _search_asset(
        context: dg.AssetExecutionContext,
        config: SearchIndexConfig,
        elasticsearch: ElasticsearchResource,
        s3: dg.ResourceParam[reader.LakeStore],
    ) -> dg.MaterializeResult:
        fs, root = s3.filesystem(), s3.lake_root()
        reports: list[indexer.IndexReport] = []
        dt = context.partition_keys[0]
        started = time.monotonic()
        es = elasticsearch.client()
        refused = {
            day: checks
            for day in context.partition_keys
            if (checks := failed_upstream_checks(context.instance, upstream, day, context.run.run_id))
        }
        try:
            for dt in (k for k in context.partition_keys if k not in refused):
                report = indexer.sync(
                    es,
                    spec,
                    dt,
                    load=lambda day: reader.to_documents(
                        reader.read_partition(fs, root, spec.table, day), spec.fields
                    ),
                    list_partitions=lambda: reader.list_partitions(fs, root, spec.table),
                    replicas=elasticsearch.index_replicas,
                    shards=elasticsearch.index_shards,
                    force_full_refresh=config.full_refresh,
                    retry=elasticsearch.retry_settings(),
                )
                reports.append(report)
                if report.mode != "partition":
                    break  # a full refresh indexed every day in the lake: the run's other days too
            sizes = shard_size.measured_or_none(es, spec.alias, elasticsearch.retry_settings())
        except indexer.IndexingError as exc:
            exc.report.duration_s = round(time.monotonic() - started, 3)
            # Documents the mapping refuses fail the same way next time: only outages are retried.
            raise dg.Failure(
                description=str(exc),
                metadata=_report_metadata(*reports, exc.report),
                allow_retries=any(f.transient for f in exc.report.failed),
            ) from exc
        except EsUnavailable as exc:
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
        for report in reports:
            context.log.info(
                f"{spec.alias}: {report.mode} of {', '.join(report.partitions)} -> {report.index}: "
                f"{report.docs_indexed} indexed, {report.docs_deleted} stale deleted in {report.duration_s}s"
            )
        if refused:
            why = "; ".join(f"dt={day}: {', '.join(checks)}" for day, checks in sorted(refused.items()))
            raise dg.Failure(
                description=f"not indexed into {spec.alias}: {upstream} failed blocking checks ({why}); "
                "fix and rebuild the mart, then this day is indexed again",
                metadata=_report_metadata(*reports) if reports else None,
                allow_retries=False,
            )
        return dg.MaterializeResult(
            metadata=_report_metadata(*reports), check_results=[shard_size.check_result(spec.alias, sizes)]
        )

    return _search_asset


def _source_index_asset(source: SteamSource, spec: IndexSpec, description: str) -> dg.AssetsDefinition:
    """The search asset of a source's own silver table: named and as fresh as its source says."""
    if source.search_asset is None or spec.table.name not in source.silver_tables:
        raise ValueError(f"{source.topic} declares no search asset for {spec.table.name}")
    return _index_asset(spec, spec.table.name, source.search_asset, description, source.cadence)


search_game_daily = _index_asset(
    GAME_DAILY,
    "mart_game_daily",
    "search_game_daily",
    "Each game's daily player figures (peak/avg/min, news posts) searchable in Elasticsearch "
    "(alias mart_game_daily): the per-game player curves in Kibana.",
    Cadence.POLL,
)
search_top_games = _index_asset(
    TOP_GAMES,
    "mart_top_games",
    "search_top_games",
    "The daily most-played ranking and its change vs the day before, in Elasticsearch "
    "(alias mart_top_games): Kibana's 'most played now' panels.",
    Cadence.POLL,
)
search_news_impact = _index_asset(
    NEWS_IMPACT,
    "mart_news_impact",
    "search_news_impact",
    "Players before vs after each news post, in Elasticsearch (alias mart_news_impact): which news "
    "moved player counts.",
    Cadence.POLL,
)
search_player_count_gaps = _index_asset(
    PLAYER_COUNT_GAPS,
    "mart_player_count_gaps",
    "search_player_count_gaps",
    "Missed player-count polls per app and hour, in Elasticsearch (alias mart_player_count_gaps): "
    "Kibana's 'missed polls' panel shows where a player curve has holes and why.",
    Cadence.POLL,
)
search_news = _source_index_asset(
    sources.NEWS,
    NEWS,
    "Steam news posts full-text searchable in any language, CJK included (alias steam_news): "
    "the news timeline and news search in Kibana.",
)


def _saved_object_files() -> list[Path]:
    return sorted(KIBANA_DIR.glob("*.ndjson"))


def _saved_objects_version() -> str:
    """The code version of `kibana_saved_objects`: a hash of every set of saved objects (the oldest
    set and each per-Kibana-version set below it), so a change to any set re-provisions."""
    digest = hashlib.sha256()
    for path in sorted(KIBANA_DIR.rglob("*.ndjson")):
        digest.update(path.relative_to(KIBANA_DIR).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()[:12]


@dg.asset(
    name="kibana_saved_objects",
    group_name=GROUP_SEARCH,
    deps=[search_game_daily, search_top_games, search_news_impact, search_player_count_gaps, search_news],
    kinds={"kibana"},
    code_version=_saved_objects_version(),
    automation_condition=PROVISION_WHEN_MISSING_OR_CHANGED,
)
def kibana_saved_objects(context: dg.AssetExecutionContext, kibana: KibanaResource) -> dg.MaterializeResult:
    """Kibana data views and dashboards (most played now, player curves and missed polls, news
    timeline, news impact) provisioned from the packaged `kibana/*.ndjson`; a no-op that says so
    when no Kibana is set."""
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
