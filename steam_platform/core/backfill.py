"""How a backfill of many days runs: as one run over the range, in every daily layer after ingest.

The Spark layers (warehouse, marts) then start one Spark session for the range instead of one
per day, and search syncs the range's days in turn in one run; the lake refresh sensor's rebuild
of several days uses the same single-run range.
"""

import warnings

import dagster as dg

#: A backfill of N days is one run over the range, not N runs.
SINGLE_RUN_BACKFILL = dg.BackfillPolicy.single_run()
# Dagster 1.13 flags the `backfill_policy` argument of `@asset` as beta on every code load; the
# policy itself is stable API. Silence exactly that notice, nothing else.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
