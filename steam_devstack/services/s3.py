"""An S3-compatible object store for the lake: s3proxy 4.1 on the local filesystem.

Choice: s3proxy (`org.gaul:s3proxy`, Apache-2.0) from Maven Central, resolved by Maven like Kafka
and Elasticsearch (`deploy/local/maven/s3proxy/pom.xml`), so the stack needs no new toolchain. It
is a real HTTP server implementing the S3 API that boto3, pyarrow and Spark's S3A use: path-style
PUT/GET/HEAD, ListObjectsV2, multi-object DELETE, multipart upload, server-side copy, AWS SigV4
(including chunked and trailing-checksum uploads, which AWS SDK v2 and boto3 >= 1.36 send by
default). Version 4.x runs on Java 17 and stores objects as plain files under the state folder
(its `filesystem` blob store). MinIO needs a Go build of a large module; moto's server would have
been a Python mock, not a server.

The JVM runs with a capped heap, bound to 127.0.0.1 only, as the unprivileged service user when
the stack runs as root, in its own process group. Credentials are fixed local values (the store
holds only data the stack regenerates); `start()` waits until a signed request succeeds and
creates the lake bucket.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from steam_devstack import maven
from steam_devstack.health import StackError, port_open, wait_until
from steam_devstack.paths import DEPLOY_LOCAL
from steam_devstack.services.base import Service

COMPONENT = "s3proxy"
LOGBACK_CONFIG = DEPLOY_LOCAL / "s3proxy" / "logback.xml"
HEAP = "-Xmx256m"
START_TIMEOUT_S = 90
REGION = "us-east-1"
LAKE_BUCKET = "steam-lake"
#: Fixed credentials of the local store; production takes real ones from the environment.
ACCESS_KEY_ID = "steam-local"
SECRET_ACCESS_KEY = "steam-local-secret"


class S3Service(Service):
    """One s3proxy server on 127.0.0.1, path-style, objects on disk under the state folder."""

    name = "s3"
    default_ports: ClassVar[dict[str, int]] = {"s3": 19000}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port('s3')}"

    def install(self) -> None:
        """Resolve s3proxy and its dependencies from Maven Central (cached)."""
        maven.resolve(COMPONENT)

    def _write_config(self, base: Path) -> Path:
        blobs = base / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        config = {
            "s3proxy.endpoint": self.url,
            "s3proxy.authorization": "aws-v2-or-v4",
            "s3proxy.identity": ACCESS_KEY_ID,
            "s3proxy.credential": SECRET_ACCESS_KEY,
            # Spark writes many small files at once; a few more request threads than the default.
            "s3proxy.jetty.max-threads": "64",
            "jclouds.provider": "filesystem",
            "jclouds.identity": ACCESS_KEY_ID,
            "jclouds.credential": SECRET_ACCESS_KEY,
            "jclouds.filesystem.basedir": str(blobs),
            "jclouds.regions": REGION,
        }
        path = base / "s3proxy.conf"
        path.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        path.chmod(0o600)
        self.ctx.give_to_run_user(base)
        return path

    def _java_argv(self, config: Path, base: Path) -> list[str]:
        return [
            "java", HEAP, "-Xms64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
            "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={base / 'tmp'}", f"-Dlogback.configurationFile={LOGBACK_CONFIG}",
            "-cp", maven.classpath(COMPONENT), "org.gaul.s3proxy.Main", "--properties", str(config),
        ]  # fmt: skip

    def start(self) -> None:
        base = self.ctx.data_dir(self.name)
        (base / "tmp").mkdir(exist_ok=True)
        config = self._write_config(base)
        proc = self.process()
        if not proc.is_running():
            proc.start(self._java_argv(config, base), cwd=base, user=self.ctx.run_user)
        wait_until(
            self.healthy,
            what="s3 (s3proxy)",
            timeout=START_TIMEOUT_S,
            alive=self.is_running,
            log_hint=self.log_hint(),
        )
        self.ensure_bucket(LAKE_BUCKET)

    def client(self) -> Any:
        """A boto3 S3 client signed with the local credentials (path-style, no retries storm)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=2,
                read_timeout=5,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def ensure_bucket(self, bucket: str) -> None:
        """Create `bucket` unless it exists (idempotent across restarts)."""
        from botocore.exceptions import ClientError

        client = self.client()
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StackError(f"s3: creating bucket {bucket} failed: {code}. {self.log_hint()}") from exc

    def healthy(self) -> bool:
        """The server answers a signed ListBuckets (so authentication works, not just the port)."""
        if not port_open("127.0.0.1", self.port("s3")):
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client().list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def endpoints(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": REGION,
            "LAKE_BUCKET": LAKE_BUCKET,
        }
