"""Pure PySpark jobs (never import Dagster): runnable in-process and with `spark-submit`."""
