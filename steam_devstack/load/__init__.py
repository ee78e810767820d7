"""`steam-platform load`: load the running stack with N realistic events and follow them to search.

The retrospective's cluster met load and fell over (one partition took every message, Elasticsearch
and Spark were OOM-killed). This command shows where the platform bends: it produces N events keyed
over M apps into the stack's Kafka (flat out or at a target rate), lands them to bronze, builds the
warehouse facts, the daily mart and the search indices with the platform's own code, and reports per
stage rows, rows/s and MB/s, the partition spread, bytes per broker and the peak RSS of every
server and Spark process. It exits 1 on any lost or doubled event, a server that died, or a JVM
above its configured cap.

Modules, one job each:

- `plan.py`: what one load run is (events, apps, window, its own topics, lake root and aliases);
- `events.py`: the events themselves (simulator-shaped player counts and news in the platform's
  envelope) and the fingerprint of their ids;
- `produce.py`: producing them through `KafkaResource.produce_all` (acks=all, idempotent);
- `stages.py`: bronze, warehouse, marts and search, run with the platform's functions;
- `counts.py`: what each stage holds (rows, distinct ids, id fingerprint, sums);
- `accounting.py`: lost and doubled events per stage, partition spread (pure);
- `memory.py`: peak RSS of every server and Spark process, JVM caps, dead servers;
- `report.py`: the printed tables and `--json`;
- `run.py`: the whole run against a running stack (the CLI's `load` command).
"""
