"""The lake's object store: where the Parquet lake lives and how every client reaches it.

Bronze, warehouse and mart tables are Parquet folders under `s3a://<bucket>/lake/` (see
`steam_platform.core.contracts`). Three kinds of client read and write them, all configured here so they
agree on endpoint, region, addressing and credentials:

- boto3 (`client()`): bucket administration, object listing, small files;
- pyarrow (`filesystem()`): reading partitions without Spark (search layer, checks);
- Spark's S3A (`spark_hadoop_conf()` + `spark_credentials()`): the streaming and batch jobs.

Locally the endpoint is the stack's s3proxy (path-style, http); in production `endpoint_url` is
left unset (AWS) or points at another S3-compatible store, and credentials come from `dg.EnvVar`
(or, when unset, from the usual AWS chain: environment, profile, instance role). Credentials are
excluded from the resource's repr and never put into the Spark conf or any message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import dagster as dg
from pydantic import ConfigDict, Field

from streaming.s3_access import S3Access
from streaming.spark_session import s3a_conf

if TYPE_CHECKING:
    import pyarrow.fs as pafs
    from mypy_boto3_s3 import S3Client

LAKE_PREFIX = "lake"


class S3Resource(dg.ConfigurableResource):
    """Connection settings of the S3 (or S3-compatible) store holding the platform's lake."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint, e.g. http://127.0.0.1:19000; None for AWS."
    )
    region: str = Field(default="us-east-1", description="AWS region (signing region for other stores).")
    access_key_id: str | None = Field(
        default=None, repr=False, description="Access key id; fill with EnvVar. None: AWS default chain."
    )
    secret_access_key: str | None = Field(
        default=None, repr=False, description="Secret; fill with EnvVar. None: AWS default chain."
    )
    bucket: str = Field(default="steam-lake", description="Bucket holding the lake.")
    path_style: bool = Field(
        default=True, description="Path-style addressing (bucket in the path); needed by most local stores."
    )
    connect_timeout_s: float = Field(default=5.0, description="Seconds to wait for a connection.")
    max_attempts: int = Field(default=5, description="Attempts per request (AWS standard retry mode).")

    # A wrongly typed value in a validation error would otherwise quote the input (e.g. a secret).
    model_config = ConfigDict(hide_input_in_errors=True)

    @property
    def _is_custom_endpoint(self) -> bool:
        return bool(self.endpoint_url)

    def _credentials(self) -> tuple[str | None, str | None]:
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValueError("S3Resource: set both access_key_id and secret_access_key, or neither")
        return self.access_key_id or None, self.secret_access_key or None

    def client(self) -> S3Client:
        """A boto3 S3 client for this store (retries with backoff, path-style when configured).

        Against S3-compatible servers, checksums are sent only where the API requires them: boto3
        >= 1.36 otherwise adds CRC32 trailers that some servers reject.
        """
        import boto3
        from botocore.config import Config

        key_id, secret = self._credentials()
        extra: dict[str, Any] = {}
        if self._is_custom_endpoint:
            extra = {
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
            }
        config = Config(
            s3={"addressing_style": "path" if self.path_style else "auto"},
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            connect_timeout=self.connect_timeout_s,
            **extra,
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url or None,
            region_name=self.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=config,
        )

    def filesystem(self) -> pafs.S3FileSystem:
        """A pyarrow filesystem on this store; paths are `<bucket>/<key>` (see `lake_path`)."""
        key_id, secret = self._credentials()
        access = S3Access(
            endpoint_url=self.endpoint_url or None,
            region=self.region,
            path_style=self.path_style,
            access_key=key_id,
            secret_key=secret,
        )
        return cast(
            "pafs.S3FileSystem",
            access.pyarrow_fs(connect_timeout=self.connect_timeout_s, max_attempts=self.max_attempts),
        )

    def lake_root(self, scheme: str = "s3a") -> str:
        """The lake's root URI, e.g. `s3a://steam-lake/lake` (Spark) or with `scheme="s3"`."""
        return f"{scheme}://{self.bucket}/{LAKE_PREFIX}"

    def lake_path(self) -> str:
        """The lake's root as a pyarrow filesystem path: `steam-lake/lake`."""
        return f"{self.bucket}/{LAKE_PREFIX}"

    def spark_hadoop_conf(self) -> dict[str, str]:
        """`spark.hadoop.fs.s3a.*` settings (endpoint, addressing, TLS, providers, checksums).

        Holds no secret: pass `spark_credentials()` to the running session instead (see
        `streaming.spark_session.session_from_conf`).
        """
        return s3a_conf(
            endpoint_url=self.endpoint_url or None,
            region=self.region,
            path_style=self.path_style,
        )

    def spark_credentials(self) -> dict[str, str]:
        """Hadoop keys carrying the access key pair for S3A (empty: S3A uses the AWS chain)."""
        key_id, secret = self._credentials()
        if not (key_id and secret):
            return {}
        return {"fs.s3a.access.key": key_id, "fs.s3a.secret.key": secret}
