"""Small Hadoop FileSystem helpers through the session's JVM (works for `file:` and `s3a:` alike)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class FileStats:
    """Data files under a path (Parquet parts only) and their total size."""

    files: int
    bytes: int


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm: Any = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    return hpath.getFileSystem(conf), hpath


def exists(spark: SparkSession, path: str) -> bool:
    """True when `path` (a folder or file) exists."""
    fs, hpath = _fs(spark, path)
    return bool(fs.exists(hpath))


def read_text(spark: SparkSession, path: str) -> str | None:
    """The file at `path` as UTF-8 text, or None when it does not exist."""
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        return None
    jvm: Any = spark.sparkContext._jvm
    stream = fs.open(hpath)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
    finally:
        stream.close()


def child_names(spark: SparkSession, path: str) -> list[str]:
    """The names of the files and folders directly under `path`; empty when it does not exist."""
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        return []
    return [str(status.getPath().getName()) for status in fs.listStatus(hpath)]


def partition_values(spark: SparkSession, path: str, column: str) -> list[str]:
    """The values of partition `column` among the folders directly under `path` (`column=value`);
    empty when `path` does not exist. One listing of `path`, never of the files below it."""
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        return []
    prefix = f"{column}="
    values = []
    for status in fs.listStatus(hpath):
        name = str(status.getPath().getName())
        if status.isDirectory() and name.startswith(prefix):
            values.append(name[len(prefix) :])
    return values


def parquet_stats(spark: SparkSession, pattern: str) -> FileStats:
    """Parquet files matching the glob `pattern` (e.g. `.../dt=*/batch_id=7`) and their bytes."""
    fs, hpath = _fs(spark, pattern)
    statuses = fs.globStatus(hpath) or []
    files = 0
    size = 0
    for status in statuses:
        iterator = fs.listFiles(status.getPath(), True)
        while iterator.hasNext():
            item = iterator.next()
            name = item.getPath().getName()
            if name.endswith(".parquet") and not name.startswith((".", "_")):
                files += 1
                size += int(item.getLen())
    return FileStats(files, size)


def delete(spark: SparkSession, path: str) -> bool:
    """Delete `path` recursively; False when it did not exist."""
    fs, hpath = _fs(spark, path)
    return bool(fs.delete(hpath, True))
