"""History on demand: the shape of a year in production, written into a running stack.

`steam-platform history --days 365 --apps 1000` (`command.py`) gives the lake, warehouse, marts and
search what a user who tracked 1,000 apps for a year would have: player counts at every 10-minute
poll slot, the news the apps published, and a daily store details snapshot per app whose prices,
genres and publishers change over the year (versions of the app dimension).

Which way each source goes, and why (docs/history.md has the figures):

- **Player counts: straight into bronze** (`bronze_files.py`). A year is 1,000 apps x 144 polls x
  365 days = 52.6 M events. Through Kafka that is 52.6 M records produced and then landed by the
  bronze Spark job: hours on this two-core machine, and a topic holding ~10 GB, before any layer
  after bronze is built. Written as one Parquet file per day in bronze's own layout and columns,
  a day takes about a second, and every reader sees the rows as landed ones. The rows carry no
  Kafka position (null offset and partition) and `batch_id = -1`, below every micro-batch id, so
  the offsets reconciliation can tell them apart and no real landing can overwrite them.
- **News and app details: through Kafka**, the way the ingest assets send them (a year of 1,000
  apps is ~23 k posts and ~360 k details snapshots, minutes to produce and land). They exercise the
  real path, get real offsets, and their landing reports the days it touched like any other.

Deterministic: the same seed gives the same event ids (`generate.py`), so re-running a day
replaces its file with the same rows, and a day re-sent through Kafka is deduplicated by event_id
in the warehouse.
"""
