"""How Python code next to a Spark session reaches the lake's S3 store: endpoint, region, keys.

The checkpoint lease (boto3, for S3's conditional writes) and, on a Spark Connect session, the
lake's file listings (pyarrow) talk to the bucket from the run's Python process. They use the same
store and keys as the session's S3A:

- a classic (in-process) session: the S3A settings of its Hadoop configuration, where the
  platform's resource put the keys (or `spark-submit` copied them from the environment);
- a Connect session: what the run registered for it (`register`: the platform's `pyspark` resource
  registers the lake's settings and keys when it attaches), else the server's non-secret S3A
  settings (`spark.hadoop.fs.s3a.*` through `spark.conf`) with the keys from the AWS default chain
  of this process (environment, profile). The server's own keys never travel to a client.

Keys never appear in `repr`, logs or errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from streaming.connect_session import is_connect

#: URI schemes of an S3 location (Hadoop's S3A and its older names).
S3_SCHEMES = ("s3a", "s3", "s3n")

HADOOP_PREFIX = "spark.hadoop."
SECRET_KEYS = frozenset({"fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.session.token"})


@dataclass(frozen=True)
class S3Access:
    """Where the lake's S3 store is and which key pair signs requests (None: the AWS chain)."""

    endpoint_url: str | None
    region: str | None
    path_style: bool
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_hadoop(cls, get: Callable[[str], str | None]) -> S3Access:
        """From S3A settings (`fs.s3a.endpoint`, ...) looked up with `get` (None when unset)."""
        endpoint = get("fs.s3a.endpoint")
        if endpoint and "://" not in endpoint:
            secure = (get("fs.s3a.connection.ssl.enabled") or "true").lower() == "true"
            endpoint = f"{'https' if secure else 'http'}://{endpoint}"
        return cls(
            endpoint_url=endpoint or None,
            region=get("fs.s3a.endpoint.region") or get("fs.s3a.region"),
            path_style=(get("fs.s3a.path.style.access") or "false").lower() == "true",
            access_key=get("fs.s3a.access.key"),
            secret_key=get("fs.s3a.secret.key"),
            session_token=get("fs.s3a.session.token"),
        )

    def boto3_client(
        self, *, max_attempts: int = 2, connect_timeout: float = 2, read_timeout: float = 5
    ) -> Any:
        """A boto3 S3 client for this store (checksums only where S3 requires them)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.session_token,
            config=Config(
                s3={"addressing_style": "path" if self.path_style else "auto"},
                retries={"max_attempts": max_attempts},
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def pyarrow_fs(self, *, connect_timeout: float = 5, max_attempts: int = 3) -> Any:
        """A pyarrow S3 filesystem for this store; its paths are `bucket/key`."""
        import pyarrow.fs as pafs

        kwargs: dict[str, Any] = {
            "region": self.region or "us-east-1",
            "connect_timeout": connect_timeout,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=max_attempts),
        }
        if self.access_key and self.secret_key:
            kwargs.update(access_key=self.access_key, secret_key=self.secret_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            kwargs.update(
                endpoint_override=parts.netloc,
                scheme=parts.scheme or "https",
                force_virtual_addressing=not self.path_style,
            )
        return pafs.S3FileSystem(**kwargs)


#: What runs registered for their Connect sessions, by the server's session id.
_REGISTERED: dict[str, S3Access] = {}


def register(spark: Any, access: S3Access) -> None:
    """Use `access` for the lake's S3 store next to the Connect session `spark`."""
    _REGISTERED[str(spark.session_id)] = access


def forget(spark: Any) -> None:
    """Drop what was registered for `spark` (the session ended)."""
    _REGISTERED.pop(str(getattr(spark, "session_id", "")), None)


def s3_access(spark: Any) -> S3Access:
    """The S3 settings and keys the session `spark` reads and writes the lake with (see module doc)."""
    if is_connect(spark):
        registered = _REGISTERED.get(str(spark.session_id))
        if registered is not None:
            return registered

        def server_setting(key: str) -> str | None:
            if key in SECRET_KEYS:  # never fetched from the server, even where it has them
                return None
            value = spark.conf.get(HADOOP_PREFIX + key, None)
            return str(value) if value else None

        return S3Access.from_hadoop(server_setting)
    conf = spark.sparkContext._jsc.hadoopConfiguration()

    def hadoop_setting(key: str) -> str | None:
        value = conf.get(key)
        return str(value) if value else None

    return S3Access.from_hadoop(hadoop_setting)
