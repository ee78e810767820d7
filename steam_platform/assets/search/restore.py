"""What the search cluster or Kibana lost of what the platform built: the checks behind the restore.

Dagster's records say what was built, Elasticsearch and Kibana say what is still there; a loss is
the difference. Only what the platform has built before counts: a search asset never materialised
is not lost, it is not built yet (the lake run or the automation builds it), and neither are the
saved objects before `kibana_saved_objects` first ran. Each check is cheap, a few requests per tick:

- an index asset whose alias does not exist lost its index (a wiped cluster, a deleted index: an
  alias goes with the last index behind it);
- an alias that answers a count of 0 while the asset's latest materialisation indexed documents
  lost them. The latest materialisation, not any: after a restore whose lake held nothing, that
  restore is the latest, it indexed 0, and an empty index is what it should be (no restore loop);
- a saved object of the packaged sets that Kibana does not hold (Kibana keeps them in Elasticsearch,
  so a wiped cluster takes them too) is lost.

Errors are not caught here: the sensor (`restore_sensor.py`) tells an outage from a loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from steam_platform.core.constants import GROUP_SEARCH
from steam_platform.resources.es_client import EsNotFound, SearchClient
from steam_platform.resources.kibana import KibanaResource

#: The asset that provisions Kibana's saved objects.
KIBANA_ASSET = dg.AssetKey("kibana_saved_objects")


@dataclass(frozen=True)
class SearchIndex:
    """One index asset and the alias it keeps in Elasticsearch."""

    key: dg.AssetKey
    alias: str


@dataclass(frozen=True)
class Loss:
    """An asset whose output Elasticsearch or Kibana no longer holds, and what is missing.

    `partition`: the partition the asset last materialised (None for the saved objects), the day a
    restore run of it is requested for. `built`: the storage id of that materialisation, so a loss
    after a restore (which materialises again) is told from the one before it."""

    key: dg.AssetKey
    reason: str
    partition: str | None = None
    built: int = 0


def search_indices(graph: Any) -> list[SearchIndex]:
    """The index assets of the search layer in `graph` (the code location's asset graph): those
    that declare the alias they keep (metadata `alias`), so an index added later is checked too."""
    found = []
    for key in dg.AssetSelection.groups(GROUP_SEARCH).resolve(graph):
        alias = graph.get(key).metadata.get("alias")
        alias = getattr(alias, "value", alias)  # a plain string, or a text metadata value
        if isinstance(alias, str) and alias:
            found.append(SearchIndex(key=key, alias=alias))
    return sorted(found, key=lambda index: index.alias)


def latest_materialisation(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord | None:
    """The asset's most recent materialisation (any partition), or None when it was never built."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key), limit=1).records
    return records[0] if records else None


def indexed_documents(record: dg.EventLogRecord) -> int:
    """How many documents the materialisation of `record` wrote (its `docs_indexed` metadata)."""
    materialisation = record.asset_materialization
    value = materialisation.metadata.get("docs_indexed") if materialisation else None
    return int(value.value) if value is not None and isinstance(value.value, int) else 0


def lost_indices(
    es: SearchClient, instance: dg.DagsterInstance, indices: Iterable[SearchIndex]
) -> list[Loss]:
    """The index assets whose alias is gone, or empty although their latest build indexed documents.

    Raises the client's errors (`EsUnavailable`, `EsApiError`) other than a missing alias."""
    losses = []
    for index in indices:
        record = latest_materialisation(instance, index.key)
        if record is None:
            continue  # never built: not lost
        day, built = record.partition_key, record.storage_id
        try:
            es.get_alias(name=index.alias)
        except EsNotFound:
            losses.append(Loss(index.key, f"alias {index.alias} does not exist", day, built))
            continue
        expected = indexed_documents(record)
        if expected and es.count(index.alias) == 0:
            losses.append(
                Loss(
                    index.key,
                    f"alias {index.alias} holds 0 documents (its latest build indexed {expected})",
                    day,
                    built,
                )
            )
    return losses


def lost_saved_objects(
    kibana: KibanaResource, instance: dg.DagsterInstance, files: Iterable[Path]
) -> Loss | None:
    """The saved objects, when Kibana lacks some of the set it would be sent and they were
    provisioned before; None when nothing is missing, no Kibana is set or nothing was provisioned.

    Raises `requests` errors when Kibana cannot be reached and `KibanaImportError` when it answers
    something else than the objects it holds."""
    provisioned = latest_materialisation(instance, KIBANA_ASSET) if kibana.configured else None
    if provisioned is None:
        return None
    missing = kibana.missing_saved_objects(files)
    if not missing:
        return None
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    reason = f"Kibana lacks {len(missing)} saved object(s): {shown}"
    return Loss(KIBANA_ASSET, reason, built=provisioned.storage_id)
