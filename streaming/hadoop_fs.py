"""Small lake FileSystem helpers (exists, read, list, measure, delete) for `file:` and `s3a:` alike.

A classic (in-process) session answers through its Hadoop FileSystem in the JVM, as Spark itself
sees the lake. A Spark Connect session has no JVM in this process: the same operations go through
pyarrow with the session's S3 settings (`streaming/python_fs.py`, `streaming/s3_access.py`).
Callers do not branch: every function takes the session and picks the path itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from streaming import python_fs
from streaming.connect_session import is_connect
from streaming.s3_access import S3_SCHEMES, s3_access


@dataclass(frozen=True)
class FileStats:
    """Data files under a path (Parquet parts only) and their total size."""

    files: int
    bytes: int


def _python(spark: SparkSession, path: str) -> python_fs.Located | None:
    """Where `path` is for pyarrow when `spark` is a Connect session; None for a classic one."""
    if not is_connect(spark):
        return None
    access = s3_access(spark) if path.split(":", 1)[0] in S3_SCHEMES else None
    return python_fs.locate(path, access)


def _fs(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm: Any = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    return hpath.getFileSystem(conf), hpath


def exists(spark: SparkSession, path: str) -> bool:
    """True when `path` (a folder or file) exists."""
    if (where := _python(spark, path)) is not None:
        return python_fs.exists(where)
    fs, hpath = _fs(spark, path)
    return bool(fs.exists(hpath))


def read_text(spark: SparkSession, path: str) -> str | None:
    """The file at `path` as UTF-8 text, or None when it does not exist."""
    if (where := _python(spark, path)) is not None:
        return python_fs.read_text(where)
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
    if (where := _python(spark, path)) is not None:
        return python_fs.child_names(where)
    fs, hpath = _fs(spark, path)
    if not fs.exists(hpath):
        return []
    return [str(status.getPath().getName()) for status in fs.listStatus(hpath)]


def partition_values(spark: SparkSession, path: str, column: str) -> list[str]:
    """The values of partition `column` among the folders directly under `path` (`column=value`);
    empty when `path` does not exist. One listing of `path`, never of the files below it."""
    if (where := _python(spark, path)) is not None:
        return python_fs.partition_values(where, column)
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
    if (where := _python(spark, pattern)) is not None:
        return FileStats(*python_fs.parquet_stats(where.fs, where.path))
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
    if (where := _python(spark, path)) is not None:
        return python_fs.delete(where)
    fs, hpath = _fs(spark, path)
    return bool(fs.delete(hpath, True))
