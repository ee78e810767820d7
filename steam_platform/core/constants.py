"""Names shared across layers: asset groups (Kafka topics are declared with their sources in
`steam_platform/core/sources.py`)."""

from __future__ import annotations

from typing import Final

GROUP_BUS: Final = "bus"
GROUP_INGEST: Final = "ingest"
GROUP_LAKE: Final = "lake"
GROUP_WAREHOUSE: Final = "warehouse"
GROUP_MARTS: Final = "marts"
GROUP_SEARCH: Final = "search"
