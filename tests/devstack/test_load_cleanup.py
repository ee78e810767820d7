"""A load run's lake folder is removed to the last empty directory marker, and nothing beside it.

Empty marker objects (`<root>/`, `<root>/bronze/`, as S3A writes them) go with the data; a folder
whose name starts like the run's stays. Against the stack's S3 server.
"""

from __future__ import annotations

import uuid

import pyarrow.fs as pafs
import pytest

from steam_devstack.load.cleanup import _remove_lake
from steam_devstack.stack import LocalStack
from steam_platform.resources.s3 import S3Resource

pytestmark = pytest.mark.integration


def test_the_lake_folder_goes_with_its_empty_markers_and_its_neighbour_stays(s3: S3Resource) -> None:
    run = f"load/cleanup-{uuid.uuid4().hex[:8]}"
    client = s3.client()
    keys = [f"{run}/bronze/dt=2026-10-01/part-0.parquet", f"{run}/_checkpoints/offsets/0"]
    for key in keys:
        client.put_object(Bucket=s3.bucket, Key=key, Body=b"data")
    for marker in (f"{run}/", f"{run}/bronze/"):
        client.put_object(Bucket=s3.bucket, Key=marker, Body=b"")
    neighbour = f"{run}-other/kept.parquet"
    client.put_object(Bucket=s3.bucket, Key=neighbour, Body=b"data")

    assert _remove_lake(s3, f"{s3.bucket}/{run}", settle_s=0.1) == []

    fs = s3.filesystem()
    assert fs.get_file_info(f"{s3.bucket}/{run}").type == pafs.FileType.NotFound
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=run).get("Contents", [])
    assert [o["Key"] for o in listed] == [neighbour]
    client.delete_object(Bucket=s3.bucket, Key=neighbour)


def test_an_empty_folder_the_store_kept_on_disk_goes_too(s3: S3Resource, local_stack: LocalStack) -> None:
    """s3proxy now and then keeps a file's emptied folder on disk after a delete (about 1 clean-up
    in 12 in a loop) and lists it as a folder: the clean-up deletes it, deepest first."""
    run = f"load/cleanup-{uuid.uuid4().hex[:8]}"
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key=f"{run}/bronze/dt=2026-10-01/part-0.parquet", Body=b"x")
    blobs = local_stack.ctx.data_dir("s3") / "blobs" / s3.bucket
    kept = blobs / run / "bronze" / "dt=2026-10-02" / "empty"
    kept.mkdir(parents=True)
    local_stack.ctx.give_to_run_user(blobs / run)
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=f"{run}/bronze/", Delimiter="/")
    assert f"{run}/bronze/dt=2026-10-02/" in [p["Prefix"] for p in listed.get("CommonPrefixes", [])]

    assert _remove_lake(s3, f"{s3.bucket}/{run}", settle_s=0.1) == []

    assert s3.filesystem().get_file_info(f"{s3.bucket}/{run}").type == pafs.FileType.NotFound
    assert not (blobs / run).exists()
