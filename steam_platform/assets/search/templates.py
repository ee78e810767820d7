"""Elasticsearch index templates for the marts and the news, derived from the table contracts.

Dashboards and full-text search read Elasticsearch, not the lake, so every searchable table gets an
explicit mapping built from `steam_platform.core.contracts`: no field is ever guessed by dynamic mapping
(`dynamic: strict` rejects unknown fields, which surfaces contract drift as a bulk error).

Field rules, by column role:
- ids, names, urls, labels (`string`): `keyword` (exact filters, terms aggregations, sorting), and
  names also get an analysed `.text` sub-field for fuzzy search.
- free text (news titles and contents): `text` analysed by `steam_text` — the standard tokenizer,
  `cjk_width`, `lowercase` and `cjk_bigram`, all built into Elasticsearch 7.10 OSS (analysis-common
  module, no plugin) — so Korean, Chinese and Japanese are searchable by any word of two or more
  characters, Latin scripts as usual; titles keep a `.keyword` sub-field for sorting and terms.
- numbers, dates (`strict_date`), timestamps (`strict_date_optional_time`), booleans: native types.

Each index lives behind an alias (the table's name, e.g. `mart_top_games`); the concrete indices are
versioned `<alias>-v<schema>-<timestamp>`, and `schema` is a hash of the template body so a changed
mapping forces a rebuild into a fresh index instead of a conflicting write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from steam_platform.assets.marts.tables import (
    MART_GAME_DAILY,
    MART_NEWS_IMPACT,
    MART_PLAYER_COUNT_GAPS,
    MART_TOP_GAMES,
)
from steam_platform.assets.warehouse.tables import FACT_NEWS
from steam_platform.core.contracts import Table

Role = Literal["keyword", "name", "text", "omit"]

#: The analyzer for free text in any script (see module docstring).
TEXT_ANALYZER = "steam_text"

ANALYSIS: dict[str, Any] = {
    "analyzer": {
        TEXT_ANALYZER: {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["cjk_width", "lowercase", "cjk_bigram"],
        }
    }
}

_NATIVE: dict[str, dict[str, Any]] = {
    "long": {"type": "long"},
    "int": {"type": "integer"},
    "double": {"type": "double"},
    "boolean": {"type": "boolean"},
    "date": {"type": "date", "format": "strict_date"},
    "timestamp": {"type": "date", "format": "strict_date_optional_time"},
}


@dataclass(frozen=True)
class IndexSpec:
    """How one table is made searchable: its alias, which string columns are text, what is left out."""

    table: Table
    alias: str
    #: String columns that are not plain keywords (others default to `keyword`).
    roles: dict[str, Role] = field(default_factory=dict)
    #: Date column Kibana uses as the index pattern's time field.
    time_field: str = "dt"

    @property
    def fields(self) -> tuple[str, ...]:
        """The table columns that become document fields (in contract order)."""
        return tuple(c for c in self.table.column_names if self.roles.get(c) != "omit")

    def field_mapping(self, column: str) -> dict[str, Any]:
        """The Elasticsearch mapping of one column, from its contract type and role."""
        col = self.table.column(column)
        if col.type != "string":
            return dict(_NATIVE[col.type])
        role = self.roles.get(column, "keyword")
        if role == "name":
            return {
                "type": "keyword",
                "fields": {"text": {"type": "text", "analyzer": TEXT_ANALYZER}},
            }
        if role == "text":
            return {
                "type": "text",
                "analyzer": TEXT_ANALYZER,
                "fields": {"keyword": {"type": "keyword", "ignore_above": 512}},
            }
        return {"type": "keyword", "ignore_above": 2048}

    def mappings(self) -> dict[str, Any]:
        """The index mapping: strict, one property per document field."""
        return {
            "dynamic": "strict",
            "properties": {name: self.field_mapping(name) for name in self.fields},
        }

    def settings(self, replicas: int = 0, shards: int = 1) -> dict[str, Any]:
        """Index settings: primary shards (one holds years of these tables, see docs/elasticsearch.md's
        sizing), replicas per cluster, the text analyzer."""
        return {"number_of_shards": shards, "number_of_replicas": replicas, "analysis": ANALYSIS}

    @property
    def schema_hash(self) -> str:
        """Short hash of mapping and analysis: equal hashes mean an index can take new documents."""
        body = json.dumps({"m": self.mappings(), "a": ANALYSIS}, sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()[:8]

    @property
    def index_prefix(self) -> str:
        """Prefix of every concrete index of this alias and schema."""
        return f"{self.alias}-v{self.schema_hash}-"

    @property
    def template_name(self) -> str:
        return f"steam-{self.alias}"

    def template(self, replicas: int = 0, shards: int = 1) -> dict[str, Any]:
        """A composable index template (7.8+) matching every versioned index of the alias."""
        return {
            "index_patterns": [f"{self.alias}-v*"],
            "priority": 100,
            "template": {
                "settings": self.settings(replicas, shards),
                "mappings": {**self.mappings(), "_meta": {"table": self.table.name}},
            },
            "_meta": {"schema_hash": self.schema_hash, "source": "steam_platform.assets.search.templates"},
        }

    def doc_id(self, row: dict[str, Any]) -> str:
        """Deterministic `_id` from the table key: the same row always lands on the same document."""
        parts = []
        for key in self.table.key:
            value = row[key]
            if value is None:
                raise ValueError(f"{self.table.name}: key column {key!r} is null in row {row!r}")
            parts.append(value.isoformat() if hasattr(value, "isoformat") else str(value))
        return ":".join(parts)


GAME_DAILY = IndexSpec(MART_GAME_DAILY, alias="mart_game_daily", roles={"app_name": "name"})
TOP_GAMES = IndexSpec(MART_TOP_GAMES, alias="mart_top_games", roles={"app_name": "name"})
NEWS_IMPACT = IndexSpec(
    MART_NEWS_IMPACT,
    alias="mart_news_impact",
    roles={"app_name": "name", "title": "text"},
    time_field="published_at",
)
#: Missed player-count polls per app and hour; Kibana plots them on the hour they belong to.
PLAYER_COUNT_GAPS = IndexSpec(
    MART_PLAYER_COUNT_GAPS,
    alias="mart_player_count_gaps",
    roles={"app_name": "name"},
    time_field="hour_start",
)
NEWS = IndexSpec(
    FACT_NEWS,
    alias="steam_news",
    # The raw HTML/BBCode stays in the lake; search needs the derived plain text only.
    roles={"title": "text", "contents_text": "text", "contents_raw": "omit", "feedlabel": "name"},
    time_field="published_at",
)

INDEX_SPECS: tuple[IndexSpec, ...] = (GAME_DAILY, TOP_GAMES, NEWS_IMPACT, PLAYER_COUNT_GAPS, NEWS)
