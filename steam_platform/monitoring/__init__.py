"""The platform's own metrics for Prometheus, and what its alert rules read.

`python -m steam_platform.monitoring` serves `/metrics` (prometheus-client's HTTP server); each scrape
reads the state where it lives, so the numbers are never older than the scrape:

- Dagster's instance (run and event storage, Postgres in a deployment): each job's latest finished
  run (`dagster_metrics.py`) and how old each asset's newest materialisation is against its
  freshness policy (`freshness.py`), and the player-count gaps recorded for the last 24 hours
  (`gaps.py`);
- Kafka: how far the lake's bronze landings are behind each topic, how old that backlog is against
  the topic's retention, and the dead letters (`kafka_metrics.py`);
- the Steam call budget's SQLite counter and Elasticsearch's document count per alias
  (`service_metrics.py`).
- Dagster's own processes: the daemon's heartbeats and the start time of the Postgres holding the
  instance (`dagster_services.py`), and whether each code server of a workspace answers, with its
  server id (`code_servers.py`): restarts the platform recovers from by itself still reach a person.

Why a scraped exporter and not Dagster's pieces alone: `dagster-prometheus` only pushes from inside
runs to a Pushgateway, so a run whose worker died, or a daemon that stopped, pushes nothing and a
stale gauge stays at its last value; a `run_failure_sensor` needs the daemon alive and would only
copy what the run storage already holds. The exporter reads the run storage and the asset
freshness policies (the same `FreshnessPolicy` the UI shows) directly, so an alert needs nothing
but the storage, and `steam_metrics_source_up` says when a source could not be read.
Recorded gaps (missed point-in-time polls, `mart_player_count_gaps`) are read from that asset's
materialisation metadata in the instance (`gaps.py`): rows and missed polls of the last 24 hours.
"""
