"""The event bus itself as an asset: the platform's Kafka topics, created with explicit configs."""

import dagster as dg

from steam_platform.core.constants import GROUP_BUS
from steam_platform.core.settings import KafkaSettings
from steam_platform.core.sources import ALL_TOPICS
from steam_platform.resources.kafka import KafkaResource, TopicSpec

FULLY_PARTITIONED_CHECK = "topics_fully_partitioned"


def topic_specs() -> list[TopicSpec]:
    """The platform's topics; partitions from `KAFKA_TOPIC_PARTITIONS` (default 6)."""
    partitions = KafkaSettings.load().topic_partitions
    return [TopicSpec(name=name, partitions=partitions) for name in ALL_TOPICS]


@dg.asset(
    group_name=GROUP_BUS,
    kinds={"kafka"},
    check_specs=[
        dg.AssetCheckSpec(
            FULLY_PARTITIONED_CHECK,
            asset="kafka_topics",
            blocking=True,
            description="Every topic has at least the configured partitions (load spreads over brokers).",
        )
    ],
)
def kafka_topics(context: dg.AssetExecutionContext, kafka: KafkaResource) -> dg.MaterializeResult:
    """Create the Steam event topics (player counts, news, apps, playtime, dead letters).

    Topics are never auto-created: partitions, replication factor, min in-sync replicas,
    retention and compression are set here, so a lost broker loses nothing and load spreads.
    """
    reports = kafka.ensure_topics(topic_specs())
    short = [r for r in reports if not r.ok]
    for report in reports:
        context.log.info(
            f"{report.name}: {report.action}, {report.partitions} partitions, RF {report.replication_factor}"
        )
    return dg.MaterializeResult(
        metadata={
            "topics": dg.MetadataValue.json(
                {
                    r.name: {
                        "action": r.action,
                        "partitions": r.partitions,
                        "wanted_partitions": r.wanted_partitions,
                        "replication_factor": r.replication_factor,
                    }
                    for r in reports
                }
            ),
            "created": sum(r.action == "created" for r in reports),
            "min_insync_replicas": kafka.min_insync_replicas,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=FULLY_PARTITIONED_CHECK,
                passed=not short,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    "all topics have their partitions"
                    if not short
                    else "under-partitioned (not used silently): "
                    + ", ".join(f"{r.name} has {r.partitions} < {r.wanted_partitions}" for r in short)
                ),
            )
        ],
    )
