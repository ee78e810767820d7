"""One registry per source: every layer agrees with `steam_platform/core/sources.py`, and no topic
name is written anywhere else.

A topic literal is a Python string constant containing `steam.<name>` (not preceded by a letter,
digit, `_` or `.`, so module paths such as `steam_platform.resources.steam.client` do not count).
Documentation is free to mention topics: docstrings (any string that is a statement of its own)
and comments are not code and are not checked; every other string constant is, f-string parts
included. Test-only topics (`test.load`, ...) are not platform topics and are not matched.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from steam_platform.assets.bus.topics import topic_specs
from steam_platform.assets.lake.refresh_events import ALL_SILVER, SILVER_OF_TOPIC, TOPIC_OF_INGEST
from steam_platform.assets.warehouse.facts import FACTS
from steam_platform.core import sources
from steam_platform.core.constants import GROUP_INGEST
from steam_platform.events.payloads import CONTRACTS
from streaming import warehouse

REPO = Path(__file__).resolve().parents[2]
REGISTRY = REPO / "steam_platform" / "core" / "sources.py"
#: Where platform code, the local stack, the simulator, benchmarks and tests live.
SCANNED = ("steam_platform", "streaming", "steam_devstack", "steam_simulator", "benchmarks", "tests")
TOPIC_LITERAL = re.compile(r"(?<![\w.])steam\.[a-z][a-z0-9_]*")


@pytest.fixture(scope="module")
def graph() -> Any:
    from steam_platform.definitions import defs

    return defs.resolve_asset_graph()


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string constants that are statements of their own (docstrings, attribute notes)."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def topic_literals(source: str) -> Iterator[tuple[int, str]]:
    """(line, literal) for every string constant of `source` naming a `steam.*` topic, outside docs."""
    tree = ast.parse(source)
    docs = _documentation(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for match in TOPIC_LITERAL.finditer(node.value):
                yield node.lineno, match.group()


def _python_files() -> Iterator[Path]:
    for root in SCANNED:
        for path in sorted((REPO / root).rglob("*.py")):
            if path != REGISTRY and "__pycache__" not in path.parts:
                yield path


def test_topic_names_are_written_only_in_the_registry() -> None:
    found = [
        f"{path.relative_to(REPO)}:{line}: {topic}"
        for path in _python_files()
        for line, topic in topic_literals(path.read_text(encoding="utf-8"))
    ]
    assert not found, "use steam_platform.core.sources instead of topic literals:\n" + "\n".join(found)


def test_the_registry_is_where_the_topics_are_written() -> None:
    written = {topic for _, topic in topic_literals(REGISTRY.read_text(encoding="utf-8"))}
    assert written == set(sources.ALL_TOPICS)


def test_a_topic_in_code_is_found_and_one_in_documentation_is_not() -> None:
    topic = ".".join(("steam", "reviews"))  # built, so this file holds no literal itself
    code = (
        f'"""Lands `{topic}`."""\n# {topic}\nTOPIC = {topic!r}\npath = f"s3a://lake/bronze/{topic}/{{day}}"\n'
    )
    doc_only = f'def f() -> None:\n    """Reads {topic}."""\n\n\nclass C:\n    """Writes {topic}."""\n'
    assert list(topic_literals(code)) == [(3, topic), (4, topic)]
    assert not list(topic_literals(doc_only))
    assert not list(topic_literals('MODULE = "steam_platform.resources.steam.client"\nT = "test.load"\n'))


def test_the_bus_creates_every_topic_of_the_registry() -> None:
    assert [spec.name for spec in topic_specs()] == list(sources.ALL_TOPICS)
    assert len(set(sources.ALL_TOPICS)) == len(sources.ALL_TOPICS)


def test_every_topic_has_the_payload_contract_its_source_names() -> None:
    assert {topic: model.__name__ for topic, model in CONTRACTS.items()} == {
        s.topic: s.payload_contract for s in sources.SOURCES
    }


def _parents(graph: Any, asset: str) -> set[str]:
    node = graph.get(dg.AssetKey(asset))
    return {k.to_user_string() for k in node.parent_keys}


@pytest.mark.parametrize("source", sources.SOURCES, ids=lambda s: s.topic)
def test_each_layer_builds_the_source_as_declared(graph: Any, source: sources.SteamSource) -> None:
    assert _parents(graph, source.bronze_asset) == set(source.ingest_assets)
    for table in source.silver_tables:
        assert source.bronze_asset in _parents(graph, table)
    if source.search_asset:
        assert _parents(graph, source.search_asset) & set(source.silver_tables)


def test_every_ingest_asset_belongs_to_a_source(graph: Any) -> None:
    """An ingest asset outside the registry would be fetched but never landed by the lake sensor."""
    ingest = dg.AssetSelection.groups(GROUP_INGEST).resolve(graph)
    assert {k.to_user_string() for k in ingest} == set(TOPIC_OF_INGEST)


def test_the_warehouse_builds_exactly_the_registry_silver_tables(graph: Any) -> None:
    assert set(SILVER_OF_TOPIC) == set(sources.DATA_TOPICS)
    assert set(FACTS) | {"dim_app"} == ALL_SILVER
    for name, spec in FACTS.items():
        assert name in spec.source.silver_tables
        # publication-day sources reconcile a day with the bronze rows published on it
        by_publication = spec.selection is warehouse.news_published_on
        assert by_publication == spec.source.days_by_publication, name
    assert all(graph.has(dg.AssetKey(t)) for t in ALL_SILVER)


def test_an_unknown_topic_is_named_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: "):
        sources.source_of_topic("other.topic")
    assert sources.source_of_topic(sources.NEWS.topic) is sources.NEWS
