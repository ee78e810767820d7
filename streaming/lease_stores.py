"""Where a checkpoint's lease lives: S3 (the lake's bucket) or a local folder (a `file:` lake).

The S3 store talks to the bucket with boto3 directly, not through Hadoop's S3A: the lease needs
S3's conditional writes (`If-None-Match: *`, `If-Match`), which S3A's `FileSystem.create` does not
expose atomically. Its endpoint, region and keys are the ones the Spark session writes the
checkpoint with (the S3A settings of its Hadoop configuration: the platform's resource sets them
in-process, and `spark-submit` copies `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` into them; for a
Spark Connect session, what its run registered: `streaming/s3_access.py`), so
the writer that may write the checkpoint is the one that can take its lease; without keys there,
boto3's default chain applies (as S3A's on AWS). Ages are measured on the store's clock (the
answer's `Date` minus `Last-Modified`), so writers' clocks need not agree.

The local store uses a hard link (which fails when the name exists) for create-if-absent and a
per-folder `flock` around the compare-and-replace; ages come from file modification times (one
host, one clock).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from streaming.checkpoint_lease import LeaseStore, Stored, lease_location
from streaming.s3_access import S3_SCHEMES, s3_access

PRECONDITION_FAILED = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def _failed_precondition(exc: Exception) -> bool:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return code in PRECONDITION_FAILED or status in ("412", "409")


def _not_found(exc: Exception) -> bool:
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class S3LeaseStore:
    """The lease folder as objects under `prefix` in `bucket`."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix.strip("/") + "/"

    def _key(self, name: str) -> str:
        return self._prefix + name

    def create(self, name: str, body: bytes) -> str | None:
        try:
            answer = self._client.put_object(
                Bucket=self._bucket, Key=self._key(name), Body=body, IfNoneMatch="*"
            )
        except Exception as exc:
            if _failed_precondition(exc):
                return None
            raise
        return str(answer["ETag"])

    def replace(self, name: str, body: bytes, etag: str) -> str | None:
        try:
            answer = self._client.put_object(
                Bucket=self._bucket, Key=self._key(name), Body=body, IfMatch=etag
            )
        except Exception as exc:
            if _failed_precondition(exc) or _not_found(exc):
                return None
            raise
        return str(answer["ETag"])

    def read(self, name: str) -> Stored | None:
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=self._key(name))
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        body = answer["Body"].read()
        served = parsedate_to_datetime(answer["ResponseMetadata"]["HTTPHeaders"]["date"])
        age = (served - answer["LastModified"]).total_seconds()
        return Stored(body, str(answer["ETag"]), max(age, 0.0))

    def names(self) -> list[str]:
        listing = self._client.get_paginator("list_objects_v2")
        pages = listing.paginate(Bucket=self._bucket, Prefix=self._prefix)
        return [o["Key"][len(self._prefix) :] for page in pages for o in page.get("Contents", [])]

    def delete(self, name: str) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=self._key(name))


class LocalLeaseStore:
    """The lease folder as files in a local directory."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def _etag(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def create(self, name: str, body: bytes) -> str | None:
        temp = self._folder / f".{name}.{os.getpid()}.{time.monotonic_ns()}"
        temp.write_bytes(body)
        try:
            os.link(temp, self._folder / name)  # fails when the name exists: create-if-absent
        except FileExistsError:
            return None
        finally:
            temp.unlink()
        return self._etag(body)

    def replace(self, name: str, body: bytes, etag: str) -> str | None:
        path = self._folder / name
        with self._locked():
            if not path.exists() or self._etag(path.read_bytes()) != etag:
                return None
            temp = path.with_suffix(".tmp")
            temp.write_bytes(body)
            temp.replace(path)
        return self._etag(body)

    def read(self, name: str) -> Stored | None:
        path = self._folder / name
        try:
            body = path.read_bytes()
            age = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None
        return Stored(body, self._etag(body), max(age, 0.0))

    def names(self) -> list[str]:
        return sorted(p.name for p in self._folder.iterdir() if p.is_file())

    def delete(self, name: str) -> None:
        (self._folder / name).unlink(missing_ok=True)


def _s3_client(spark: SparkSession) -> Any:
    """A boto3 client with the session's S3 settings and keys (`streaming/s3_access.py`: the S3A
    settings of a classic session's Hadoop configuration; what a Connect session's run registered)."""
    return s3_access(spark).boto3_client(max_attempts=2, connect_timeout=2, read_timeout=5)


def lease_store_for(spark: SparkSession, checkpoint: str) -> LeaseStore:
    """The store of `checkpoint`'s lease: S3 for `s3a://bucket/...`, a local folder for a path."""
    location = urlparse(lease_location(checkpoint))
    if location.scheme in S3_SCHEMES:
        return S3LeaseStore(_s3_client(spark), location.netloc, location.path)
    if location.scheme in ("", "file"):
        return LocalLeaseStore(Path(location.path))
    raise ValueError(f"no lease store for checkpoint {checkpoint} (scheme {location.scheme!r})")
