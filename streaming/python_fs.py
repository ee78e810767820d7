"""The lake's file operations from Python (pyarrow), for sessions that have no JVM here (Connect).

`streaming/hadoop_fs.py` lists, reads, measures and deletes lake folders through the session's
Hadoop FileSystem, which a Spark Connect client cannot reach (the JVM is on the server). The same
operations, with the same answers, go through pyarrow's filesystems instead: `S3FileSystem` for
`s3a://bucket/key` (the lake's store, `streaming/s3_access.py`), `LocalFileSystem` for `file:` and
plain paths. pyarrow because it already reads the lake's Parquet (search, benchmarks), speaks S3
and the local disk through one interface, and treats a key prefix as a folder as S3A does.

Hadoop semantics kept: a listing skips the checksum files Hadoop's local filesystem writes
(`.name.crc`); globs take `*`, `?`, `[...]` per path segment and `{a,b}` alternatives (the lake's
patterns: `dt=*`, `batch_id={1,2}`).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs

from streaming.s3_access import S3_SCHEMES, S3Access

_GLOB_CHARS = re.compile(r"[*?\[]")
_BRACES = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Located:
    """A pyarrow filesystem and the path on it (`bucket/key` on S3, absolute locally)."""

    fs: Any
    path: str


def locate(path: str, access: S3Access | None) -> Located:
    """Where `path` (`s3a://bucket/key`, `file:/x`, `/x`) lives; S3 needs `access`.

    Split by hand, not as a URL: `?` is a glob character here, not the start of a query.
    """
    scheme, sep, rest = path.partition(":")
    if not sep or "/" in scheme:
        scheme, rest = "", path
    if scheme in S3_SCHEMES:
        if access is None:
            raise ValueError(f"no S3 settings for {scheme}:// paths")
        return Located(access.pyarrow_fs(), rest.removeprefix("//").rstrip("/"))
    if scheme in ("", "file"):
        local = "/" + rest.lstrip("/") if scheme else rest
        return Located(pafs.LocalFileSystem(), local.rstrip("/") or "/")
    raise ValueError(f"no Python filesystem for scheme {scheme!r}")


def _hidden_checksum(name: str) -> bool:
    return name.startswith(".") and name.endswith(".crc")


def _children(where: Located) -> list[Any]:
    infos = where.fs.get_file_info(pafs.FileSelector(where.path, allow_not_found=True))
    return [i for i in infos if not _hidden_checksum(i.base_name)]


def exists(where: Located) -> bool:
    return bool(where.fs.get_file_info(where.path).type != pafs.FileType.NotFound)


def read_text(where: Located) -> str | None:
    if where.fs.get_file_info(where.path).type != pafs.FileType.File:
        return None
    with where.fs.open_input_stream(where.path) as stream:
        return bytes(stream.read()).decode("utf-8")


def child_names(where: Located) -> list[str]:
    return [i.base_name for i in _children(where)]


def partition_values(where: Located, column: str) -> list[str]:
    prefix = f"{column}="
    return [
        i.base_name[len(prefix) :]
        for i in _children(where)
        if i.type == pafs.FileType.Directory and i.base_name.startswith(prefix)
    ]


def expand_braces(pattern: str) -> list[str]:
    """`a/{1,2}/b` -> `a/1/b`, `a/2/b` (Hadoop's glob alternatives; not nested)."""
    match = _BRACES.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [e for alt in match.group(1).split(",") for e in expand_braces(head + alt + tail)]


def glob(fs: Any, pattern: str) -> list[Any]:
    """File infos of the paths matching `pattern` on `fs` (segment-wise `*`, `?`, `[...]`, `{a,b}`)."""
    found: dict[str, Any] = {}
    for concrete in expand_braces(pattern):
        segments = concrete.split("/")
        first = next((i for i, s in enumerate(segments) if _GLOB_CHARS.search(s)), len(segments))
        bases = ["/".join(segments[:first])]
        for segment in segments[first:]:
            if _GLOB_CHARS.search(segment):
                bases = [
                    i.path
                    for base in bases
                    for i in _children(Located(fs, base))
                    if fnmatch.fnmatchcase(i.base_name, segment)
                ]
            else:
                bases = [f"{base}/{segment}" for base in bases]
        for info in fs.get_file_info(bases):
            if info.type != pafs.FileType.NotFound:
                found[info.path] = info
    return list(found.values())


def parquet_stats(fs: Any, pattern: str) -> tuple[int, int]:
    """(files, bytes) of the Parquet parts under the paths matching `pattern`."""
    files = size = 0
    for match in glob(fs, pattern):
        if match.type == pafs.FileType.File:
            infos = [match]
        else:
            infos = fs.get_file_info(pafs.FileSelector(match.path, recursive=True, allow_not_found=True))
        for info in infos:
            name = info.base_name
            part = name.endswith(".parquet") and not name.startswith((".", "_"))
            if info.type == pafs.FileType.File and part:
                files += 1
                size += int(info.size or 0)
    return files, size


def delete(where: Located) -> bool:
    kind = where.fs.get_file_info(where.path).type
    if kind == pafs.FileType.NotFound:
        return False
    if kind == pafs.FileType.Directory:
        where.fs.delete_dir(where.path)
    else:
        where.fs.delete_file(where.path)
    return True
