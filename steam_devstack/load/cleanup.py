"""Removing what a load run created: its topics, its lake root (checkpoints included), its indices.

Best effort, each part on its own: what could not be removed is named, so a user can remove it.
"""

from __future__ import annotations

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
    root = f"{s3.bucket}/{LAKE_PREFIX}/{plan.run_id}"
    try:
        s3.filesystem().delete_dir(root)
    except FileNotFoundError:
        pass
    except OSError as exc:
        failed.append(f"lake s3://{root}: {exc}")
    for spec in (plan.game_daily_index, plan.news_index):
        try:
            es.delete_index(f"{spec.alias}-v*")
            es.delete_index_template(spec.template_name)
        except Exception as exc:
            failed.append(f"index {spec.alias}: {exc}")
    return failed
