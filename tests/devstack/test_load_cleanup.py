"""A load run's lake folder is removed to the last empty directory marker, and nothing beside it.

Empty marker objects (`<root>/`, `<root>/bronze/`, as S3A writes them) go with the data; a folder
whose name starts like the run's stays. Against the stack's S3 server.
"""

from __future__ import annotations

import uuid

import pyarrow.fs as pafs
import pytest

from steam_devstack.load.cleanup import _remove_lake
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
