"""`search_restore_sensor`: a wiped Elasticsearch (or Kibana) is rebuilt from the lake, with nobody acting.

Elasticsearch is a copy: every index is rebuilt from the lake's mart and news tables, the Kibana
saved objects from the packaged ndjson. What was missing is knowing that the copy is gone. Dagster
records what it built, not what the cluster still holds: after a wipe every search partition and
`kibana_saved_objects` still count as materialised, so the declarative conditions see nothing to
do. Today's marts came back with the next lake run (a partition sync of a missing alias is a full
refresh), the news only with the next news ingest, past days and the Kibana objects never.

So each tick (every `STEAM_SEARCH_RESTORE_INTERVAL_S`, default 60 s) this sensor asks Elasticsearch
whether every search alias the platform built still exists and holds documents, and Kibana whether
it still holds the platform's saved objects (`restore.py`). When something is lost it requests ONE
run of `search_restore_job`: a full refresh (`full_refresh: true`, every lake partition into a new
index behind the alias) of each lost index, and `kibana_saved_objects` when Kibana lost objects.
The run is for the latest partition the lost indices materialised (a full refresh reads every
partition in the lake whatever the run's day; that day passed its mart's blocking checks when it
was last indexed).

- No storm: nothing is requested while a restore run is queued or running (its indices are being
  rebuilt and may look lost until the alias swaps). The run key names the lost assets, the latest
  materialisation of each (a restore materialises them again, so a second wipe after a restore is
  a new loss at once) and a 15-minute window: a restore that failed is requested again in the next
  window, not on every tick.
- An outage is not a wipe: when Elasticsearch does not answer, or answers with an error (a red
  cluster, a 503 while it recovers), the tick is skipped and says so; nothing is requested. When
  Kibana cannot be reached its check is left to the next tick; the indices are still restored.

Why a sensor and not an `AutomationCondition`: conditions evaluate Dagster's own records
(materialisations, observations, runs, checks), so the loss would first have to be observed by
something polling the cluster, i.e. a sensor anyway; and a condition-launched run carries no run
config, so it could not ask for the full refresh. An observable source asset does not fit either:
the search assets are materialisable assets (an observation of them would change no condition's
answer), and a separate "cluster" source asset would need its own observation schedule and a
condition that maps one observation to a configured run: the same sensor, in more parts.
"""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg
import requests

from steam_platform.assets.search.assets import KIBANA_DIR
from steam_platform.assets.search.restore import (
    KIBANA_ASSET,
    Loss,
    lost_indices,
    lost_saved_objects,
    search_indices,
)
from steam_platform.core.constants import GROUP_SEARCH
from steam_platform.core.run_limits import lake_run_tags
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import EsError, SearchClient
from steam_platform.resources.es_transport import connect
from steam_platform.resources.kibana import KibanaImportError, KibanaResource

#: Tag of every restore run: the sensor waits while one is in flight.
RESTORE_TAG = "steam/search_restore"
#: A loss is requested at most once per window (the run key holds the window's start).
RETRY_WINDOW = timedelta(minutes=15)
#: The checks ask a few cheap questions: a cluster that does not answer fast is down, not wiped.
PROBE_TIMEOUT_S = 10.0

_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

#: What restore runs may hold: every search index and the saved objects (each run selects the lost).
search_restore_job = dg.define_asset_job(
    "search_restore_job",
    selection=dg.AssetSelection.groups(GROUP_SEARCH),
    tags={**lake_run_tags(), RESTORE_TAG: "true"},
    description="Rebuilds search indices and Kibana saved objects that Elasticsearch lost (full "
    "refresh from the lake); launched by `search_restore_sensor`.",
)


def restore_in_flight(instance: dg.DagsterInstance) -> dg.DagsterRun | None:
    """A restore run that is queued, starting, running or cancelling, if any."""
    runs = instance.get_runs(dg.RunsFilter(tags={RESTORE_TAG: "true"}, statuses=_ACTIVE), limit=1)
    return runs[0] if runs else None


def restore_request(losses: Sequence[Loss], now: datetime) -> dg.RunRequest:
    """ONE run for every loss: a full refresh of each lost index, the saved objects if lost."""
    window = int(now.timestamp() // RETRY_WINDOW.total_seconds()) * int(RETRY_WINDOW.total_seconds())
    stamp = datetime.fromtimestamp(window, UTC).strftime("%Y%m%dT%H%M")
    names = sorted(loss.key.to_user_string() for loss in losses)
    days = [loss.partition for loss in losses if loss.partition is not None]
    indices = [loss.key for loss in losses if loss.key != KIBANA_ASSET]
    ops = {key.path[-1]: {"config": {"full_refresh": True}} for key in indices}
    return dg.RunRequest(
        run_key=f"search-restore:{'+'.join(names)}:{max(loss.built for loss in losses)}:{stamp}",
        asset_selection=sorted({loss.key for loss in losses}, key=lambda k: k.to_user_string()),
        partition_key=max(days) if days else None,
        run_config={"ops": ops} if ops else {},
        tags={RESTORE_TAG: "true"},
    )


def probe_client(elasticsearch: ElasticsearchResource) -> SearchClient:
    """A client for the checks: one retry and a short timeout, so a hanging cluster ends the tick
    quickly (the indexing runs keep the resource's own patience)."""
    connection = dataclasses.replace(
        elasticsearch.connection(), request_timeout=PROBE_TIMEOUT_S, max_retries=1
    )
    return connect(connection)


def evaluate(
    context: dg.SensorEvaluationContext,
    elasticsearch: ElasticsearchResource,
    kibana: KibanaResource,
    now: datetime | None = None,
) -> dg.SensorResult:
    """One tick: skip while a restore runs or the cluster is down, else restore what is lost in one run."""
    instance = context.instance
    running = restore_in_flight(instance)
    if running is not None:
        return dg.SensorResult(skip_reason=f"restore run {running.run_id} is in flight: waiting for it")
    assert context.repository_def is not None, "the sensor needs its code location's asset graph"
    indices = search_indices(context.repository_def.asset_graph)
    es = probe_client(elasticsearch)
    try:
        losses = lost_indices(es, instance, indices)
    except EsError as exc:
        return dg.SensorResult(
            skip_reason=f"Elasticsearch at {elasticsearch.url} did not answer the checks "
            f"({type(exc).__name__}: {exc}); an outage is not a wipe: nothing requested, checked again "
            "next tick"
        )
    finally:
        es.close()
    kibana_note = "no Kibana set" if not kibana.configured else "Kibana holds every saved object"
    try:
        lost_kibana = lost_saved_objects(kibana, instance, sorted(KIBANA_DIR.glob("*.ndjson")))
    except (requests.RequestException, KibanaImportError) as exc:
        lost_kibana = None
        kibana_note = f"Kibana not checked ({type(exc).__name__}), next tick"
        context.log.warning(f"Kibana could not be checked: {type(exc).__name__}: {exc}")
    if lost_kibana is not None:
        losses.append(lost_kibana)
    if not losses:
        return dg.SensorResult(
            skip_reason=f"every search alias the platform built is there ({len(indices)} index asset(s)); "
            f"{kibana_note}"
        )
    for loss in losses:
        context.log.warning(f"{loss.key.to_user_string()}: {loss.reason}: requesting a restore")
    return dg.SensorResult(run_requests=[restore_request(losses, now or datetime.now(UTC))])


def build_search_restore_sensor(interval_s: int) -> dg.SensorDefinition:
    """The sensor that restores lost search indices and Kibana objects, checking every `interval_s`."""

    @dg.sensor(
        name="search_restore_sensor",
        job=search_restore_job,
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Checks that every search alias and Kibana saved object the platform built still "
        "exists; requests one full-refresh run of whatever Elasticsearch or Kibana lost.",
    )
    def search_restore_sensor(
        context: dg.SensorEvaluationContext, elasticsearch: ElasticsearchResource, kibana: KibanaResource
    ) -> dg.SensorResult:
        return evaluate(context, elasticsearch, kibana)

    return search_restore_sensor
