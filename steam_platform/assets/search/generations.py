"""Generations of an alias's index and the alias swap: versioned names, forward-only moves.

A full refresh builds a new index named `<alias>-v<schema>-<UTC build start>`. Builds are ordered
by that start time and the alias only ever moves forward: `swap_alias` is a compare-and-swap on the
alias's current target, a build older than the live one is reported as superseded, and the
clean-up deletes only provably stale generations (older than the new target, not behind the alias).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from steam_platform.assets.search import bulk
from steam_platform.assets.search.templates import IndexSpec
from steam_platform.resources.elasticsearch import ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsNotFound, SearchClient

#: The tail of a versioned index name after the alias: `-v<schema>-<UTC build start>`.
_GENERATION = re.compile(r"-v[0-9A-Za-z]+-(?P<started>\d{8}t\d{12})")

#: Read-then-swap rounds before giving up; each extra round means another run swapped meanwhile.
SWAP_ROUNDS = 5


class AliasSwapError(RuntimeError):
    """The alias kept moving under a full refresh: other runs swapped it in every round we tried."""


def alias_indices(es: SearchClient, alias: str, retry: ElasticsearchRetrySettings) -> list[str]:
    """The concrete indices behind `alias` (empty when the alias does not exist)."""
    try:
        found = bulk.call(retry, es.get_alias, name=alias)
    except EsNotFound:
        return []
    return sorted(found)


def new_index_name(spec: IndexSpec, now: datetime | None = None) -> str:
    """A fresh versioned index name: `<alias>-v<schema>-<UTC timestamp to microseconds>`."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dt%H%M%S%f")
    return f"{spec.index_prefix}{stamp}"


def build_started(spec: IndexSpec, index: str) -> tuple[str, str] | None:
    """Sort key of a versioned index of the alias: the build's start stamp, then the name (ties).

    The name, not `index.creation_date`: it is fixed when the build starts, so it orders builds by
    when they began reading the lake, and it survives the index being re-created (a bulk write into
    a build that was deleted meanwhile auto-creates it again, with a new creation date). None for
    an index this code did not name: it is never taken for older or newer than a build.
    """
    prefix = f"{spec.alias}-"
    if not index.startswith(prefix):
        return None
    match = _GENERATION.fullmatch(index, len(prefix) - 1)
    return (match["started"], index) if match else None


def started_after(spec: IndexSpec, index: str, other: str) -> bool:
    """Whether `index` is a build of the alias that started after the build `other`."""
    mine, theirs = build_started(spec, index), build_started(spec, other)
    return mine is not None and theirs is not None and mine > theirs


def stale_indices(spec: IndexSpec, aliases_of: Mapping[str, Collection[str]], swapped_to: str) -> list[str]:
    """Indices safe to delete after a swap to `swapped_to`, from `{index: its aliases}`.

    Only builds that started before `swapped_to` and are not behind the alias: earlier generations,
    failed or abandoned builds, and older builds still running (those could never go live any more).
    A newer build is another run's work in progress and is kept; so is any index not named by us.
    """
    return sorted(
        index
        for index, aliases in aliases_of.items()
        if spec.alias not in aliases and started_after(spec, swapped_to, index)
    )


def remove_stale_indices(
    es: SearchClient, spec: IndexSpec, swapped_to: str, retry: ElasticsearchRetrySettings
) -> list[str]:
    """Delete the alias's stale indices (see `stale_indices`); the names deleted."""
    # One snapshot of every generation with its aliases: nothing older can become the target again,
    # since the alias only moves forward (swap_alias).
    found = bulk.call(retry, es.get_alias, index=f"{spec.alias}-v*")
    stale = stale_indices(
        spec, {name: set(info.get("aliases", {})) for name, info in found.items()}, swapped_to
    )
    for name in stale:
        bulk.call(retry, es.delete_index, name)
    return stale


def newest_after(spec: IndexSpec, live: Iterable[str], index: str) -> str | None:
    """The newest of the `live` targets of the alias if it is a build started after `index`."""
    newer = [i for i in live if started_after(spec, i, index)]
    return max(newer, key=lambda i: build_started(spec, i) or ("", i)) if newer else None


@dataclass(frozen=True)
class Swap:
    """How a swap ended: the previous targets deleted with it, or the newer build that was live."""

    replaced: list[str]
    superseded_by: str | None = None


def swap_alias(es: SearchClient, spec: IndexSpec, index: str, retry: ElasticsearchRetrySettings) -> Swap:
    """Point the alias at `index`, unless a newer build is already behind it: never backwards.

    A compare-and-swap on the alias's target. Elasticsearch 7.10 has no conditional alias update (a
    `remove` of an alias the index no longer carries is acknowledged silently; `must_exist` came in
    7.11), so the targets read are deleted by `remove_index` in the same atomic `_aliases` call as
    the `add`: the call fails (404) when one of them is gone, i.e. another run swapped (and so
    deleted it) since we read the alias. Then the alias is read again and decided anew. Only the
    first swap of an alias (no target yet) cannot be conditional: the next round checks that no
    other run added its build alongside ours, and the older of the two steps aside.
    """
    replaced: list[str] = []
    for _ in range(SWAP_ROUNDS):
        live = alias_indices(es, spec.alias, retry)
        winner = newest_after(spec, live, index)
        if winner is not None:
            return Swap(replaced, superseded_by=winner)
        others = [i for i in live if i != index]
        if index in live and not others:
            return Swap(replaced)
        actions: list[dict[str, Any]] = [{"remove_index": {"index": i}} for i in others]
        actions.append({"add": {"index": index, "alias": spec.alias}})
        try:
            bulk.call(retry, es.update_aliases, actions)
        except EsNotFound:
            continue  # a target we read (or our build) is gone: another run swapped first
        replaced += others
        if others:
            return Swap(replaced)
    raise AliasSwapError(f"{spec.alias} moved in each of {SWAP_ROUNDS} attempts to swap it to {index}")
