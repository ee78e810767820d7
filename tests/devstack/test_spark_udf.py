"""Bronze's envelope parser is compiled from source once per source and Spark version, atomically,
and a source that does not compile says why (the jar's behaviour: tests/lake/test_envelope_parsers.py)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from steam_devstack import spark_udf
from steam_devstack.health import StackError


def test_the_parser_jar_is_built_once_and_replaces_an_older_build(tmp_path: Path) -> None:
    stale = tmp_path / f"{spark_udf.JAR_PREFIX}000000000000.jar"
    stale.write_bytes(b"an older parser")
    jar = spark_udf.build_udf_jar(tmp_path)
    assert jar.name == spark_udf.jar_name() and not stale.exists()
    with zipfile.ZipFile(jar) as archive:
        assert {
            "steam_platform/lake/EnvelopeParse.class",
            "steam_platform/lake/EnvelopeParseExpression.class",
        } <= set(archive.namelist())
    built = jar.stat().st_mtime_ns
    assert spark_udf.build_udf_jar(tmp_path) == jar and jar.stat().st_mtime_ns == built  # cached
    assert [p.name for p in tmp_path.iterdir()] == [jar.name]  # no staging file left


def test_an_edited_source_gets_a_new_jar_and_a_broken_one_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "src"
    shutil.copytree(spark_udf.SOURCE_DIR, folder)
    monkeypatch.setattr(spark_udf, "SOURCE_DIR", folder)
    source = folder / "EnvelopeParse.java"
    first = spark_udf.jar_name()
    source.write_text(source.read_text() + "\n// edited\n")
    assert spark_udf.jar_name() != first
    broken = source.read_text().replace(
        "public static InternalRow parse(", "public static InternalRow parse(int broken, "
    )
    assert broken != source.read_text()
    source.write_text(broken)
    out = tmp_path / "jars"
    out.mkdir()
    with pytest.raises(
        StackError, match=r"compiling .*EnvelopeParse\.java.* failed:(.|\n)*EnvelopeParse.*error"
    ):
        spark_udf.build_udf_jar(out)
    assert list(out.iterdir()) == []
