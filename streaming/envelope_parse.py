"""Kafka record -> bronze row or quarantine row: parse the envelope and say why a record is bad.

A bad record (not JSON, missing id, unparsable time, payload not an object) never stops the
stream: it is kept with its raw value and a reason, so nothing is lost and the producer's fault
can be fixed and replayed.

Two parsers give the same columns. The JVM parser (`deploy/local/spark/EnvelopeParse.java`, a
Catalyst expression in Java, `steam_envelope_parse(value)`, compiled at install and shipped with
the connector jars) reads each value's bytes once with Jackson, keeps the payload's bytes exactly
as they arrived and hands Spark the strings as the bytes they already are; Spark's `from_json`,
the fallback when a session lacks that jar (or is a Spark Connect client), wraps each record in a
reader (an 8 KB buffer per record) and re-serialises the payload object. The JVM parser takes
most of the envelope's cost off a landing (benchmarks/RESULTS.md, issue #17).
They differ on purpose in two cases, where the JVM parser quarantines what `from_json` lands: a
payload that is a JSON *string* starting with `{` ("payload is not a JSON object"; `from_json`
cannot tell the string from the object) and a value holding more than one JSON value (`from_json`
keeps the first and silently drops the rest). tests/lake/test_envelope_parsers.py pins every case.
"""

from __future__ import annotations

import logging

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.envelope_schema import BRONZE_COLUMNS, ENVELOPE_WIRE_SCHEMA, QUARANTINE_COLUMNS

LOG = logging.getLogger(__name__)

#: The JVM parser's Catalyst expression and the function name it is registered under in a session.
JVM_PARSER_CLASS = "steam_platform.lake.EnvelopeParseExpression"
JVM_PARSER_FUNCTION = "steam_envelope_parse"
#: The jar's session extensions (deploy/local/spark/SteamLakeExtensions.java): a Spark that names
#: them in `spark.sql.extensions` has `steam_envelope_parse` in every session (the Connect server).
SESSION_EXTENSIONS = "steam_platform.lake.SteamLakeExtensions"
#: Its `payload_state` values (EnvelopeParse.OBJECT / MISSING / NOT_AN_OBJECT).
PAYLOAD_OBJECT, PAYLOAD_MISSING, PAYLOAD_NOT_AN_OBJECT = 0, -1, -2


class JvmParserMissing(RuntimeError):
    """The session cannot call the JVM parser: its jar is not on the classpath, or no JVM is at hand."""


_VALUE = "_value"
_MISSING, _OBJECT, _OTHER = "missing", "object", "other"


def register_jvm_parser(spark: SparkSession) -> None:
    """Register `steam_envelope_parse` in `spark` (`JvmParserMissing` when it cannot be).

    A Spark Connect session has no JVM of its own: there the server's sessions have the function
    from the start (`SESSION_EXTENSIONS`, which the platform's server names), or cannot have it.
    """
    if spark.catalog.functionExists(JVM_PARSER_FUNCTION):
        return  # registered before (each micro-batch's session asks again), or by the extensions
    jvm, session = getattr(spark, "_jvm", None), getattr(spark, "_jsparkSession", None)
    if jvm is None or session is None:
        raise JvmParserMissing(
            f"the Spark Connect server's sessions lack {JVM_PARSER_FUNCTION}: start the server with "
            f"spark.sql.extensions={SESSION_EXTENSIONS} and bronze's jar on its classpath "
            "(python -m steam_platform.spark_connect_server does)"
        )
    expression = jvm
    for name in JVM_PARSER_CLASS.split("."):
        expression = getattr(expression, name)
    try:
        expression.register(session)
    except TypeError as missing:  # py4j: an unknown class is a package, which cannot be called
        raise JvmParserMissing(f"{JVM_PARSER_CLASS} is not on the session's classpath") from missing


def jvm_parser_registered(spark: SparkSession) -> bool:
    """Register the JVM parser in `spark`; False (logged) when it cannot be."""
    try:
        register_jvm_parser(spark)
    except JvmParserMissing as missing:
        LOG.warning(
            "bronze parses with from_json (slower): %s; `steam-platform stack install` builds the "
            "parser into the connector jars",
            missing,
        )
        return False
    return True


def _reason(parsed_envelope: Column, observed_at: Column) -> Column:
    """The first thing wrong with a parsed envelope, or null when it can be landed."""
    return (
        F.when(F.col("raw_value").isNull(), F.lit("empty Kafka value"))
        .when(~parsed_envelope | F.col("event_id").isNull(), F.lit("not a JSON envelope or event_id missing"))
        .when(F.length(F.col("event_id")) < 16, F.lit("event_id shorter than 16 characters"))
        .when(F.col("source").isNull(), F.lit("source missing"))
        .when(F.col("_observed_text").isNull(), F.lit("observed_at missing"))
        .when(observed_at.isNull(), F.lit("observed_at is not an ISO-8601 timestamp"))
        .when(F.col("_payload_state") == _MISSING, F.lit("payload missing"))
        .when(F.col("_payload_state") == _OTHER, F.lit("payload is not a JSON object"))
    )


def _fields(env: Column) -> list[Column]:
    """The envelope's fields both parsers give the same way (`observed_at` still as its text)."""
    return [
        env["event_id"].alias("event_id"),
        env["schema_version"].alias("schema_version"),
        env["source"].alias("source"),
        env["observed_at"].alias("_observed_text"),
        env["partition_key"].alias("partition_key"),
    ]


def _by_jvm(raw: DataFrame) -> DataFrame:
    env = F.col("env")
    state = env["payload_state"]
    return raw.withColumn("env", F.call_function(JVM_PARSER_FUNCTION, F.col(_VALUE))).select(
        "*",
        env.isNotNull().alias("_parsed"),
        *_fields(env),
        env["observed_micros"].alias("_observed_micros"),
        env["payload"].alias("payload"),
        F.when(state == PAYLOAD_OBJECT, F.lit(_OBJECT))
        .when(state == PAYLOAD_NOT_AN_OBJECT, F.lit(_OTHER))
        .otherwise(F.lit(_MISSING))
        .alias("_payload_state"),
    )


def _by_from_json(raw: DataFrame) -> DataFrame:
    env = F.col("env")
    payload = env["payload"]
    return raw.withColumn(
        "env", F.from_json(F.col("raw_value"), ENVELOPE_WIRE_SCHEMA, {"mode": "PERMISSIVE"})
    ).select(
        "*",
        env.isNotNull().alias("_parsed"),
        *_fields(env),
        F.lit(None).cast("long").alias("_observed_micros"),
        payload.alias("payload"),
        F.when(payload.isNull(), F.lit(_MISSING))
        .when(F.ltrim(payload).startswith("{"), F.lit(_OBJECT))
        .otherwise(F.lit(_OTHER))
        .alias("_payload_state"),
    )


def parse_kafka_records(records: DataFrame, *, jvm_parser: bool | None = None) -> DataFrame:
    """Kafka source rows -> one row per record with bronze columns plus `reason` (null = good).

    Expects the Kafka source's columns (key, value, topic, partition, offset, timestamp) and a
    `batch_id` column. `jvm_parser`: None uses the JVM parser when the session has its jar, else
    `from_json`; True requires the JVM parser; False uses `from_json`.
    """
    if jvm_parser is None:
        jvm_parser = jvm_parser_registered(records.sparkSession)
    elif jvm_parser:
        register_jvm_parser(records.sparkSession)
    raw = records.select(
        F.col("value").alias(_VALUE),
        F.col("value").cast("string").alias("raw_value"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.current_timestamp().alias("ingested_at"),
        F.col("batch_id").cast("long").alias("batch_id"),
    )
    fields = (_by_jvm if jvm_parser else _by_from_json)(raw)
    # The JVM parser reads the producers' UTC form itself; Spark's cast reads every other text.
    observed_at = F.coalesce(
        F.expr("timestamp_micros(_observed_micros)"), F.expr("try_cast(_observed_text AS TIMESTAMP)")
    )
    return fields.select(
        "*",
        observed_at.alias("observed_at"),
        F.to_date(observed_at).alias("dt"),
        _reason(F.col("_parsed"), observed_at).alias("reason"),
    ).drop("env", _VALUE, "_parsed", "_observed_text", "_observed_micros", "_payload_state")


def good_rows(parsed: DataFrame) -> DataFrame:
    """The landable rows in bronze column order."""
    return parsed.where(F.col("reason").isNull()).select(*BRONZE_COLUMNS)


def quarantined_rows(parsed: DataFrame) -> DataFrame:
    """The bad rows with their raw value and reason, in quarantine column order."""
    return parsed.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)
