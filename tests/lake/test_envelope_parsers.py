"""Bronze's two envelope parsers agree, record by record, on good and poison Kafka values.

The JVM parser (`deploy/local/spark/EnvelopeParse.java`, compiled by `stack install` into the
connector jars) replaced `from_json` for speed (issue #17, item 5); `from_json` stays as the
fallback of a session without that jar. Both run here on the test session's Spark, on a corpus of
well-formed envelopes (compact, pretty-printed, re-ordered, escaped, unicode) and every kind of
poison the quarantine names. They must give the same bronze columns and the same reasons, except
in the ways the JVM parser is meant to differ: it keeps the payload's bytes as they arrived
(`from_json` re-serialises the object: same JSON, other whitespace); it quarantines a payload that
is a JSON string starting with `{` (`from_json` cannot tell it from an object and lands it) and a
value with more than one JSON value in it (`from_json` lands the first and drops the rest).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streaming.batch_tally import observe_tally
from streaming.envelope_parse import (
    JVM_PARSER_FUNCTION,
    JvmParserMissing,
    good_rows,
    jvm_parser_registered,
    parse_kafka_records,
    register_jvm_parser,
)

EVENT_ID = "0123456789abcdef0123456789abcdef"
GOOD: dict[str, Any] = {
    "event_id": EVENT_ID,
    "schema_version": 1,
    "source": "ISteamUserStats/GetNumberOfCurrentPlayers/v1",
    "observed_at": "2026-10-01T23:59:59.500000Z",
    "partition_key": "730",
    "payload": {"appid": 730, "player_count": 1234, "result": 1},
}
NOT_JSON = "not a JSON envelope or event_id missing"
NOT_A_TIME = "observed_at is not an ISO-8601 timestamp"


def _env(**changes: Any) -> bytes:
    envelope = {**GOOD, **changes}
    return json.dumps({k: v for k, v in envelope.items() if v is not _DROP}, separators=(",", ":")).encode()


_DROP = object()

#: (name, Kafka value, reason both parsers give; None = landed).
CORPUS: list[tuple[str, bytes | None, str | None]] = [
    ("compact", _env(), None),
    ("pretty, keys re-ordered", json.dumps(dict(reversed(list(GOOD.items()))), indent=2).encode(), None),
    (
        "escapes and unicode",
        _env(
            source='Stéam "quoted" \\ source',
            payload={"name": 'Ünïcødé \u2603 "q"', "tags": ["a", {"b": [1, 2.5e3, None, True]}]},
        ),
        None,
    ),
    (
        "UTF-8 bytes, as producers send them",
        json.dumps({**GOOD, "payload": {"name": "Ünïcødé ☃ 游戏"}}, ensure_ascii=False).encode(),
        None,
    ),
    ("unknown fields skipped", _env(extra={"nested": [1, {"deep": "x"}]}, more=[1, 2]), None),
    ("event_id a long number", _env(event_id=12345678901234567890), None),
    ("schema_version missing", _env(schema_version=_DROP), None),
    ("partition_key missing", _env(partition_key=_DROP), None),
    ("a key given twice keeps the last", _env()[:-1] + b',"source":"second source"}', None),
    ("empty value", None, "empty Kafka value"),
    ("not JSON", b"not json", NOT_JSON),
    ("empty object", b"{}", NOT_JSON),
    ("truncated", _env()[:40], NOT_JSON),
    ("trailing whitespace", _env() + b" \n", None),
    ("a JSON array of envelopes", b"[" + _env() + b"]", NOT_JSON),
    ("event_id missing", _env(event_id=_DROP), NOT_JSON),
    ("event_id null", _env(event_id=None), NOT_JSON),
    ("event_id short", _env(event_id="abc"), "event_id shorter than 16 characters"),
    ("source missing", _env(source=_DROP), "source missing"),
    ("observed_at missing", _env(observed_at=_DROP), "observed_at missing"),
    ("observed_at not a time", _env(observed_at="yesterday"), "observed_at is not an ISO-8601 timestamp"),
    (
        "observed_at on no day",
        _env(observed_at="2026-02-30T00:00:00Z"),
        "observed_at is not an ISO-8601 timestamp",
    ),
    (
        "observed_at hour 24",
        _env(observed_at="2026-10-01T24:00:00Z"),
        "observed_at is not an ISO-8601 timestamp",
    ),
    ("observed_at a number", _env(observed_at=1790000000), "observed_at is not an ISO-8601 timestamp"),
    # Read by the JVM parser itself (the producers' form) or, for every other text, by Spark's cast:
    # either way the time Spark would read.
    *(
        (f"observed_at {text}", _env(observed_at=text), None)
        for text in (
            "2026-10-01T23:59:59Z",
            "2026-10-01T23:59:59.5Z",
            "2026-10-01T23:59:59.123456Z",
            "1969-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
            "2026-10-01T23:59:59.1234567Z",
            "2026-10-01 23:59:59Z",
            "2026-10-01T23:59:59+02:00",
            "2026-10-01T23:59:59",
            "2026-10-01",
        )
    ),
    ("payload missing", _env(payload=_DROP), "payload missing"),
    ("payload null", _env(payload=None), "payload missing"),
    ("payload a number", _env(payload=5), "payload is not a JSON object"),
    ("payload an array", _env(payload=[{"appid": 1}]), "payload is not a JSON object"),
    ("payload a plain string", _env(payload="hello"), "payload is not a JSON object"),
]
#: Where the parsers differ by design: name -> (JVM reason, from_json reason).
DIFFERENT = {
    "payload a string that looks like an object": ("payload is not a JSON object", None),
    "content after the envelope": (NOT_JSON, None),  # from_json reads the first value, drops the rest
}
CORPUS += [
    ("payload a string that looks like an object", _env(payload='{"appid": 1}'), None),
    ("content after the envelope", _env() + b' {"event_id": 1}', None),
]

KAFKA_SCHEMA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
COMPARED = (
    *("event_id", "schema_version", "source", "observed_at", "partition_key"),
    *("dt", "kafka_offset", "reason"),
)


@pytest.fixture(scope="module")
def batch(spark_session: SparkSession) -> DataFrame:
    rows = [(b"730", value, "t", 0, offset, None) for offset, (_, value, _) in enumerate(CORPUS)]
    return spark_session.createDataFrame(rows, KAFKA_SCHEMA).withColumn("batch_id", F.lit(1))


def _parse(batch: DataFrame, jvm: bool) -> dict[str, dict[str, Any]]:
    rows = parse_kafka_records(batch, jvm_parser=jvm).collect()
    return {CORPUS[row["kafka_offset"]][0]: row.asDict() for row in rows}


def test_the_test_session_has_the_jvm_parser(spark_session: SparkSession) -> None:
    # Built by `stack install` (steam_devstack/spark_udf.py) into the connector jars the session loads.
    assert jvm_parser_registered(spark_session)


def test_both_parsers_give_every_record_its_reason_and_the_same_columns(batch: DataFrame) -> None:
    jvm, from_json = _parse(batch, jvm=True), _parse(batch, jvm=False)
    assert set(jvm) == set(from_json) == {name for name, _, _ in CORPUS}
    for name, _, reason in CORPUS:
        jvm_reason, json_reason = DIFFERENT.get(name, (reason, reason))
        assert (jvm[name]["reason"], from_json[name]["reason"]) == (jvm_reason, json_reason), name
        if name in DIFFERENT:
            continue
        assert {c: jvm[name][c] for c in COMPARED} == {c: from_json[name][c] for c in COMPARED}, name
        if reason is None:  # the same payload JSON; the JVM parser's is the bytes that arrived
            assert json.loads(jvm[name]["payload"]) == json.loads(from_json[name]["payload"]), name


def test_the_jvm_parser_keeps_the_payload_bytes_as_they_arrived(batch: DataFrame) -> None:
    jvm = _parse(batch, jvm=True)
    for name, value, reason in CORPUS:
        if reason is None and value is not None and name not in DIFFERENT:
            document = json.loads(value)
            arrived = value.decode()
            payload = jvm[name]["payload"]
            assert payload in arrived and json.loads(payload) == document["payload"], name
    assert jvm["compact"]["payload"] == json.dumps(GOOD["payload"], separators=(",", ":"))
    assert jvm["a key given twice keeps the last"]["source"] == "second source"
    assert jvm["event_id a long number"]["event_id"] == "12345678901234567890"
    assert jvm["escapes and unicode"]["source"] == 'Stéam "quoted" \\ source'
    assert json.loads(jvm["UTF-8 bytes, as producers send them"]["payload"]) == {"name": "Ünïcødé ☃ 游戏"}


@pytest.mark.parametrize("jvm", [True, False], ids=["jvm", "from_json"])
def test_the_envelope_is_parsed_once_per_row(batch: DataFrame, jvm: bool) -> None:
    """The quarantine rule's filter is not pushed back into the parse: each of its references to
    the envelope would parse the record again."""
    parsed = parse_kafka_records(batch, jvm_parser=jvm)
    plan = good_rows(observe_tally(parsed, [0])[0])._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count(f"{JVM_PARSER_FUNCTION}(" if jvm else "from_json(") == 1


def test_the_jvm_parser_reads_the_producers_time_form_itself(batch: DataFrame) -> None:
    """`2026-10-01T23:59:59.123456Z` (UTC, up to 6 fraction digits) is read by the parser, as the
    microseconds Spark's cast gives; any other form is left to the cast (null here)."""
    register_jvm_parser(batch.sparkSession)
    micros = {
        CORPUS[row["offset"]][0]: (row["micros"], row["by_spark"])
        for row in batch.select(
            "offset",
            F.call_function(JVM_PARSER_FUNCTION, "value")["observed_micros"].alias("micros"),
            F.expr(f"unix_micros(try_cast({JVM_PARSER_FUNCTION}(value).observed_at AS TIMESTAMP))").alias(
                "by_spark"
            ),
        ).collect()
    }
    own = {"2026-10-01T23:59:59Z", "2026-10-01T23:59:59.5Z", "2026-10-01T23:59:59.123456Z"}
    own |= {"1969-12-31T23:59:59.999999Z", "2024-02-29T12:00:00.000001Z"}
    for text in own:
        read, by_spark = micros[f"observed_at {text}"]
        assert read is not None and read == by_spark, text
    assert micros["compact"][0] == micros["compact"][1] is not None
    others = [name for name in micros if name.startswith("observed_at ") and name[12:] not in own]
    assert len(others) == 10  # 5 other forms Spark reads, 5 missing or not a time
    assert all(micros[name][0] is None for name in others), others


@pytest.fixture
def interpreted(spark_session: SparkSession) -> Iterator[None]:
    """Spark without generated code: expressions evaluated one by one (its fallback when code
    generation fails), which calls the parser's `eval` instead of its generated call."""
    confs = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
    before = {key: spark_session.conf.get(key, None) for key in confs}
    for key, value in confs.items():
        spark_session.conf.set(key, value)
    yield
    for key, value in before.items():
        if value is None:
            spark_session.conf.unset(key)
        else:
            spark_session.conf.set(key, value)


def test_the_jvm_parser_gives_the_same_rows_without_generated_code(
    batch: DataFrame, interpreted: None
) -> None:
    generated = _parse(batch, jvm=True)  # the plan was compiled once, in the session's own mode
    # `interpreted` applies to plans built from here on:
    fresh = batch.sparkSession.createDataFrame(batch.drop("batch_id").collect(), KAFKA_SCHEMA)
    by_eval = _parse(fresh.withColumn("batch_id", F.lit(1)), jvm=True)
    assert by_eval.keys() == generated.keys()
    for name in generated:
        assert {k: v for k, v in by_eval[name].items() if k != "ingested_at"} == {
            k: v for k, v in generated[name].items() if k != "ingested_at"
        }, name


def test_the_jvm_parser_takes_only_a_kafka_value(batch: DataFrame) -> None:
    register_jvm_parser(batch.sparkSession)
    with pytest.raises(AnalysisException, match="reads a Kafka value"):
        batch.select(F.call_function(JVM_PARSER_FUNCTION, F.col("topic"))).collect()


def test_a_session_without_the_parser_says_so_and_lands_with_from_json(
    spark_session: SparkSession, caplog: pytest.LogCaptureFixture
) -> None:
    # The jar missing: py4j gives a package for an unknown class, which cannot be called.
    without_jar = SimpleNamespace(
        _jvm=SimpleNamespace(steam_platform=spark_session._jvm.no_such_package),  # type: ignore[attr-defined]
        _jsparkSession=spark_session._jsparkSession,  # type: ignore[attr-defined]
        catalog=SimpleNamespace(functionExists=lambda name: False),
    )
    with pytest.raises(JvmParserMissing, match="not on the session's classpath"):
        register_jvm_parser(without_jar)  # type: ignore[arg-type]
    assert jvm_parser_registered(without_jar) is False  # type: ignore[arg-type]
    assert "bronze parses with from_json" in caplog.text
    # A Spark Connect client has no JVM of its own: the server's sessions have the function (its
    # extensions: tests/lake/test_bronze_on_connect.py) or the client cannot add it.
    server_without = SimpleNamespace(catalog=SimpleNamespace(functionExists=lambda name: False))
    with pytest.raises(JvmParserMissing, match=r"server's sessions lack .*spark\.sql\.extensions"):
        register_jvm_parser(server_without)  # type: ignore[arg-type]
    server_with = SimpleNamespace(
        catalog=SimpleNamespace(functionExists=lambda name: name == JVM_PARSER_FUNCTION)
    )
    register_jvm_parser(server_with)  # type: ignore[arg-type]  # nothing to register
