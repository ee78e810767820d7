"""Names and defaults shared across layers: asset groups (Kafka topics are declared with their
sources in `steam_platform/core/sources.py`), the Steam client's retry defaults (the client in
`resources/steam/` and the settings that override them in `core/settings/`)."""

from __future__ import annotations

from typing import Final

GROUP_BUS: Final = "bus"
GROUP_INGEST: Final = "ingest"
GROUP_LAKE: Final = "lake"
GROUP_WAREHOUSE: Final = "warehouse"
GROUP_MARTS: Final = "marts"
GROUP_SEARCH: Final = "search"

#: Calls of one Steam item on 429/5xx/connection errors before it is skipped.
STEAM_RETRY_MAX_ATTEMPTS: Final = 6
#: Longest wait (s) between two calls of an item when Steam sent no `Retry-After`.
STEAM_RETRY_BACKOFF_MAX_S: Final = 60.0
