"""The lake's object store through `S3Resource`, against the local stack's real S3 server."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from steam_platform.resources.s3 import S3Resource

pytestmark = pytest.mark.integration

PART = 5 * 2**20  # S3's minimum size of every part but the last


@pytest.fixture
def prefix(s3: S3Resource) -> Iterator[str]:
    """A fresh key prefix per test; whatever the test leaves there is deleted afterwards."""
    value = f"test/{uuid.uuid4().hex[:10]}/"
    yield value
    client = s3.client()
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=value).get("Contents", [])
    if listed:
        client.delete_objects(Bucket=s3.bucket, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})


def _keys(s3: S3Resource, prefix: str) -> list[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_stack_created_the_lake_bucket(s3: S3Resource) -> None:
    names = [b["Name"] for b in s3.client().list_buckets()["Buckets"]]
    assert s3.bucket in names


def test_put_get_head_list_copy_and_delete_objects(s3: S3Resource, prefix: str) -> None:
    client = s3.client()
    bodies = {f"{prefix}dt=2026-10-0{i}/part-0.json": f'{{"day": {i}}}'.encode() for i in range(1, 4)}
    for key, body in bodies.items():
        client.put_object(Bucket=s3.bucket, Key=key, Body=body)

    first = next(iter(bodies))
    assert client.get_object(Bucket=s3.bucket, Key=first)["Body"].read() == bodies[first]
    assert client.head_object(Bucket=s3.bucket, Key=first)["ContentLength"] == len(bodies[first])
    # ListObjectsV2 with a delimiter: the partition folders, as Spark and pyarrow list them.
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix, Delimiter="/")
    folders = sorted(k.rsplit("/", 1)[0] + "/" for k in bodies)
    assert sorted(p["Prefix"] for p in listed["CommonPrefixes"]) == folders

    copy = f"{prefix}copied/part-0.json"
    client.copy_object(Bucket=s3.bucket, Key=copy, CopySource={"Bucket": s3.bucket, "Key": first})
    assert client.get_object(Bucket=s3.bucket, Key=copy)["Body"].read() == bodies[first]

    result = client.delete_objects(
        Bucket=s3.bucket, Delete={"Objects": [{"Key": k} for k in [*bodies, copy]]}
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == sorted([*bodies, copy])
    assert not result.get("Errors")
    assert _keys(s3, prefix) == []


def test_multipart_upload_larger_than_five_megabytes(s3: S3Resource, prefix: str) -> None:
    client = s3.client()
    key = f"{prefix}big.bin"
    data = os.urandom(2 * PART + 123_457)
    upload = client.create_multipart_upload(Bucket=s3.bucket, Key=key)
    parts = []
    for number, start in enumerate(range(0, len(data), PART), start=1):
        part = client.upload_part(
            Bucket=s3.bucket,
            Key=key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=data[start : start + PART],
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = client.complete_multipart_upload(
        Bucket=s3.bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )

    assert len(parts) == 3
    assert done["ETag"].strip('"').endswith("-3")  # S3's ETag of a 3-part object
    body = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
    ranged = client.get_object(Bucket=s3.bucket, Key=key, Range=f"bytes={PART - 10}-{PART + 9}")
    assert ranged["Body"].read() == data[PART - 10 : PART + 10]


def test_managed_transfer_uses_multipart_and_round_trips(s3: S3Resource, prefix: str, tmp_path) -> None:
    """boto3's transfer manager (what most tools use) splits a 12 MB file into parts."""
    from boto3.s3.transfer import TransferConfig

    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(12 * 2**20))
    key = f"{prefix}managed.bin"
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
    s3.client().upload_file(str(source), s3.bucket, key, Config=config)
    target = tmp_path / "target.bin"
    s3.client().download_file(s3.bucket, key, str(target), Config=config)

    assert s3.client().head_object(Bucket=s3.bucket, Key=key)["ETag"].strip('"').endswith("-3")
    assert target.read_bytes() == source.read_bytes()


def test_pyarrow_writes_and_reads_partitioned_parquet(s3: S3Resource, prefix: str) -> None:
    fs = s3.filesystem()
    root = f"{s3.bucket}/{prefix}mart_game_daily"
    table = pa.table(
        {
            "appid": pa.array([570, 730, 440, 570], pa.int64()),
            "peak_players": pa.array([700_000, 1_500_000, 60_000, 710_000], pa.int64()),
            "dt": ["2026-10-01", "2026-10-01", "2026-10-01", "2026-10-02"],
        }
    )
    pq.write_to_dataset(table, root, partition_cols=["dt"], filesystem=fs)

    files = [k for k in _keys(s3, f"{prefix}mart_game_daily/") if k.endswith(".parquet")]
    assert sorted(k.split("/")[-2] for k in files) == ["dt=2026-10-01", "dt=2026-10-02"]
    day = pq.read_table(f"{root}/dt=2026-10-01", filesystem=fs).sort_by("appid")
    assert day.column("appid").to_pylist() == [440, 570, 730]
    everything = pads.dataset(root, filesystem=fs, format="parquet", partitioning="hive").to_table()
    assert everything.num_rows == 4
    assert sum(everything.column("peak_players").to_pylist()) == 2_970_000


def test_wrong_secret_is_refused(s3: S3Resource) -> None:
    from botocore.exceptions import ClientError

    intruder = s3.model_copy(update={"secret_access_key": "not-the-secret", "max_attempts": 1})
    with pytest.raises(ClientError) as raised:
        intruder.client().list_objects_v2(Bucket=s3.bucket)
    assert raised.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied")
    assert "not-the-secret" not in str(raised.value)


def test_server_accepts_default_flexible_checksums(s3: S3Resource, prefix: str) -> None:
    """Clients with boto3 >= 1.36 defaults (CRC32 in a chunked trailer) work too, e.g. the AWS CLI."""
    import boto3
    from botocore.config import Config

    plain = boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_supported"),
    )
    key = f"{prefix}checksummed.bin"
    body = os.urandom(300_000)
    put = plain.put_object(Bucket=s3.bucket, Key=key, Body=body, ChecksumAlgorithm="CRC32")
    assert "ChecksumCRC32" in put
    assert plain.get_object(Bucket=s3.bucket, Key=key)["Body"].read() == body
