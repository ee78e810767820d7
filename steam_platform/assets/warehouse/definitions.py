"""The warehouse layer: typed, deduplicated silver tables built from bronze, one day per partition.

- `tables.py`: the contracts (columns, types, keys) of every silver table.
- `assets.py`: the fact assets (one per topic) and `dim_app`, with their checks.
- `quality.py`: what the checks measure (duplicates, schema, reconciliation with bronze).
Silver days are refreshed by the lake layer's `lake_refresh_sensor`, in the same run as bronze.
"""

import dagster as dg

from steam_platform.assets.warehouse.assets import dim_app, fact_assets

defs = dg.Definitions(assets=[*fact_assets, dim_app])
