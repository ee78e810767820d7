"""Which versioned indices of an alias count as older or newer builds, and which are stale after a
swap (the rules that keep overlapping full refreshes from deleting each other's work)."""

from __future__ import annotations

from datetime import UTC, datetime

from steam_platform.assets.search import generations
from steam_platform.assets.search.templates import GAME_DAILY

SPEC = GAME_DAILY
ALIAS = SPEC.alias


def _build(hour: int, minute: int = 0) -> str:
    return generations.new_index_name(SPEC, now=datetime(2026, 10, 5, hour, minute, tzinfo=UTC))


def test_builds_are_ordered_by_their_start_across_schemas_and_foreign_names_are_unordered() -> None:
    early, late = _build(9), _build(10)
    other_schema = f"{ALIAS}-v0badbad-20261005t093000000000"  # started between the two
    assert generations.build_started(SPEC, early) == ("20261005t090000000000", early)
    assert generations.started_after(SPEC, late, early) and not generations.started_after(SPEC, early, late)
    assert generations.started_after(SPEC, other_schema, early) and generations.started_after(
        SPEC, late, other_schema
    )
    assert not generations.started_after(SPEC, early, early)
    for foreign in (
        f"{ALIAS}-vmanual",  # no build stamp
        f"{ALIAS}-v1-2026",  # stamp cut short
        f"{ALIAS}-vab-cd-v480d2a2c-20261005t090000000000",  # another alias that starts like ours
        "mart_top_games-v480d2a2c-20261005t090000000000",  # another alias
    ):
        assert generations.build_started(SPEC, foreign) is None, foreign
        assert not generations.started_after(SPEC, foreign, early)
        assert not generations.started_after(SPEC, late, foreign)


def test_only_older_builds_off_the_alias_are_stale() -> None:
    crashed, previous, ours, running = _build(7), _build(8), _build(9), _build(10)
    legacy = f"{ALIAS}-v00000000-20200101t000000000000"
    aliases_of: dict[str, set[str]] = {
        crashed: set(),  # a failed build: stale
        legacy: {"kibana_reads_this"},  # another alias on it does not protect it
        previous: {ALIAS},  # still behind the alias (another run's swap): kept
        ours: {ALIAS},
        running: set(),  # another run's newer build in progress: kept
        f"{ALIAS}-vmanual": set(),  # not ours to judge: kept
    }
    assert generations.stale_indices(SPEC, aliases_of, swapped_to=ours) == sorted([crashed, legacy])
    assert generations.stale_indices(SPEC, {}, swapped_to=ours) == []


def test_the_newest_live_build_wins_only_when_it_started_after_ours() -> None:
    older, ours, newer, newest = _build(8), _build(9), _build(10), _build(11)
    assert generations.newest_after(SPEC, [older], ours) is None
    assert generations.newest_after(SPEC, [], ours) is None
    assert generations.newest_after(SPEC, [f"{ALIAS}-vmanual"], ours) is None  # a foreign target is replaced
    assert generations.newest_after(SPEC, [newest, older, newer], ours) == newest
    assert generations.newest_after(SPEC, [ours, newer], ours) == newer
