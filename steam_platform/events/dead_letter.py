"""Dead-letter records: what failed validation goes to `steam.dlq` with the reason in headers."""

from __future__ import annotations

from steam_platform.core.sources import DEAD_LETTER_TOPIC
from steam_platform.resources.kafka import OutgoingMessage


def dead_letter(*, intended_topic: str, key: str, value: bytes, reason: str, source: str) -> OutgoingMessage:
    """A DLQ record keeping the original bytes and key, with why and where it was headed."""
    return OutgoingMessage(
        topic=DEAD_LETTER_TOPIC,
        key=key,
        value=value,
        headers=(
            ("dlq.reason", reason.encode()),
            ("dlq.intended_topic", intended_topic.encode()),
            ("dlq.source", source.encode()),
        ),
    )
