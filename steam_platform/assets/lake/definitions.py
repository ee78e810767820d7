"""The lake layer: bronze Parquet on S3 landed from Kafka by Spark (availableNow), and what runs it.

- `bronze.py`: one bronze asset per source (`steam_platform/core/sources.py`), with its
  offsets-reconcile check.
- `continuous.py`: `bronze_continuous_job`, a long-running landing through Pipes `spark-submit`.
- `compaction.py`: `bronze_compaction_job`, nightly, rewrites closed bronze days as few files.
- `refresh_sensor.py`: `lake_refresh_sensor`, which after each ingest run lands the new events and
  refreshes the days they touch in every layer downstream, as runs of `lake_refresh_job` (its
  cursor: `refresh_cursor.py`).
"""

import dagster as dg

from steam_platform.assets.lake.bronze import bronze_assets
from steam_platform.assets.lake.compaction import bronze_compaction_job, bronze_compaction_nightly
from steam_platform.assets.lake.continuous import bronze_continuous_job
from steam_platform.assets.lake.refresh_sensor import lake_refresh_job, lake_refresh_sensor

defs = dg.Definitions(
    assets=bronze_assets,
    jobs=[bronze_continuous_job, lake_refresh_job, bronze_compaction_job],
    sensors=[lake_refresh_sensor],
    schedules=[bronze_compaction_nightly],
)
