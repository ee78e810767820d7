"""The versioned JSON envelope every Steam observation travels in.

The contract is described in docs/architecture.md ("Events and the bus").

`event_id` is deterministic: the same source observation always gets the same id, so re-running a
partition re-produces identical ids and every later stage (bronze, silver) can deduplicate on it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


def make_event_id(source: str, *natural_key: object) -> str:
    """A stable id from the endpoint and the observation's natural key (e.g. appid + poll slot)."""
    material = json.dumps([source, *[str(part) for part in natural_key]], separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


class Envelope(BaseModel):
    """One observation from Steam, wrapped with provenance; `payload` is Steam's object untouched."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=16)
    schema_version: int = SCHEMA_VERSION
    source: str = Field(description="Steam endpoint, e.g. ISteamUserStats/GetNumberOfCurrentPlayers/v1")
    observed_at: datetime = Field(description="UTC time of the observation")
    partition_key: str = Field(description="Dagster partition that produced the event")
    payload: dict[str, Any]

    def to_json_bytes(self) -> bytes:
        """Compact UTF-8 JSON, `observed_at` as ISO-8601 with a Z suffix."""
        data = self.model_dump(mode="json")
        data["observed_at"] = self.observed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def envelope(
    *,
    source: str,
    natural_key: tuple[object, ...],
    observed_at: datetime,
    partition_key: str,
    payload: dict[str, Any],
) -> Envelope:
    """Build an envelope whose id derives from `source` and `natural_key` only (never from time now)."""
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware (UTC)")
    return Envelope(
        event_id=make_event_id(source, *natural_key),
        source=source,
        observed_at=observed_at.astimezone(UTC),
        partition_key=partition_key,
        payload=payload,
    )
