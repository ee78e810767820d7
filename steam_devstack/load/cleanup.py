"""Removing what a load run created: its topics, its lake root (checkpoints included), its indices.

Best effort, each part on its own: what could not be removed is named, so a user can remove it.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow.fs as pafs

from steam_devstack.load.plan import LAKE_PREFIX, LoadPlan
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


def remove_run(plan: LoadPlan, kafka: KafkaResource, s3: S3Resource, es: SearchClient) -> list[str]:
    """Delete the run's topics, lake root and indices; what failed, as messages (empty: all gone)."""
    failed: list[str] = []
    try:
        admin = kafka.admin()  # kept referenced: a collected client cancels its requests
        futures = admin.delete_topics(list(plan.topics), operation_timeout=30)
        for topic, future in futures.items():
            try:
                future.result(timeout=60)
            except Exception as exc:  # e.g. never created: the run failed before
                failed.append(f"topic {topic}: {exc}")
    except Exception as exc:
        failed.append(f"topics {', '.join(plan.topics)}: {exc}")
    failed += _remove_lake(s3, f"{s3.bucket}/{LAKE_PREFIX}/{plan.run_id}")
    for spec in (plan.game_daily_index, plan.news_index):
        try:
            es.delete_index(f"{spec.alias}-v*")
            es.delete_index_template(spec.template_name)
        except Exception as exc:
            failed.append(f"index {spec.alias}: {exc}")
    return failed


def _remove_lake(s3: S3Resource, root: str, attempts: int = 3, settle_s: float = 2.0) -> list[str]:
    """Delete every object under `root`, asking again while any is left or shows up again.

    Gone is checked twice, `settle_s` apart: suite runs found the folder gone right after the
    delete and back a moment later, holding no object at all (an empty directory marker, which S3A
    writes for a parent folder when a Spark job deletes its last child). So the folder counts as
    removed when it stays gone or holds no file.
    """
    fs = s3.filesystem()
    for attempt in range(attempts):
        try:
            fs.delete_dir(root)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if attempt == attempts - 1:
                return [f"lake s3://{root}: {exc}"]
        if _gone(fs, root):
            time.sleep(settle_s)
            if _gone(fs, root):
                _delete_markers(s3, root)
                return []
        else:
            time.sleep(1.0)
    left = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return [f"lake s3://{root}: {len(left)} object(s) left, e.g. {', '.join(i.path for i in left[:3])}"]


def _delete_markers(s3: S3Resource, root: str) -> None:
    """Delete the empty directory markers still listed at or under `root`, deepest first.

    `<root>/` and `<root>` (on servers that allow it; pyarrow's `delete_dir` does not remove it),
    and every folder a delimiter listing still shows under `<root>/` once its files are gone: the
    stack's s3proxy keeps such a folder on disk now and then when a file and its parent's marker are
    deleted in one request (1 in ~12 clean-ups in a loop), and deleting the folder's `<prefix>/` key
    removes it. On S3 itself these keys are markers or nothing, never data. Best effort: the data is
    already gone.
    """
    bucket, _, prefix = root.partition("/")
    try:
        client = s3.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        markers = [o["Key"] for o in listed if o["Key"].rstrip("/") == prefix and not o.get("Size")]
        folders = _folders_under(client, bucket, f"{prefix}/")
        keys = sorted(set(markers) | set(folders), key=lambda key: key.count("/"), reverse=True)
        for start in range(0, len(keys), 1000):  # S3's limit per multi-object delete
            batch = keys[start : start + 1000]
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch]})
    except Exception:  # the folder holds no file; an empty marker left behind is not data
        return


def _folders_under(client: Any, bucket: str, prefix: str) -> list[str]:
    """Every folder (`<path>/`) a delimiter listing shows under `prefix`, walked to the bottom."""
    folders: list[str] = []
    pending = [prefix]
    while pending:
        current = pending.pop()
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=current, Delimiter="/")
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                folders.append(common["Prefix"])
                pending.append(common["Prefix"])
    return folders


def _gone(fs: pafs.FileSystem, root: str) -> bool:
    """No file of the run is under `root` (an empty directory marker is not data)."""
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return True
    left = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return not [info for info in left if info.type == pafs.FileType.File]
