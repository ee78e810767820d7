"""Dead-letter records: what cannot go to its topic goes to `steam.dlq`, with why in headers.

Three reasons, each a `dlq.reason_code` header (what metadata and alerts count by) beside the
human-readable `dlq.reason`:

- `contract`: the payload fails its topic's contract; the record keeps the whole envelope.
- `malformed_response`: Steam's answer for one item could not be read (cut JSON, an HTML page, a
  field of the wrong type); the record keeps the start of the body Steam sent, scrubbed of secrets
  (`core/redaction.py`, and the literals the caller names, e.g. the API key).
- `oversized`: the record is larger than its topic takes. The dead-letter topic has the same limit,
  so the record carries a description (size, limit, SHA-256 of the full value) and the value's
  first `EXCERPT_BYTES`, never the value itself.

Every dead letter is keyed like the record it replaces (the app id or steamid) and names the source
endpoint, the intended topic and the run's partition, so the item can be asked of Steam again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Final

from steam_platform.core.redaction import redact
from steam_platform.core.sources import DEAD_LETTER_TOPIC
from steam_platform.resources.kafka import OutgoingMessage

REASON_CONTRACT: Final = "contract"
REASON_MALFORMED: Final = "malformed_response"
REASON_OVERSIZED: Final = "oversized"

#: How much of an oversized record's value its dead letter keeps.
EXCERPT_BYTES: Final = 2048


def _headers(
    reason_code: str, reason: str, intended_topic: str, source: str
) -> tuple[tuple[str, bytes], ...]:
    return (
        ("dlq.reason_code", reason_code.encode()),
        ("dlq.reason", reason.encode()),
        ("dlq.intended_topic", intended_topic.encode()),
        ("dlq.source", source.encode()),
    )


def _excerpt(data: bytes, limit: int = EXCERPT_BYTES) -> str:
    return data[:limit].decode("utf-8", errors="replace")


def dead_letter(
    *,
    intended_topic: str,
    key: str,
    value: bytes,
    reason: str,
    source: str,
    reason_code: str = REASON_CONTRACT,
) -> OutgoingMessage:
    """A DLQ record keeping the original bytes and key, with why and where it was headed."""
    return OutgoingMessage(
        topic=DEAD_LETTER_TOPIC,
        key=key,
        value=value,
        headers=_headers(reason_code, reason, intended_topic, source),
    )


def malformed_dead_letter(
    *,
    intended_topic: str,
    key: str,
    source: str,
    partition_key: str,
    reason: str,
    body: bytes,
    body_bytes: int,
    secrets: Iterable[str | None] = (),
) -> OutgoingMessage:
    """A DLQ record for an item whose Steam answer could not be read: the reason and the body's start."""
    secrets = tuple(secrets)
    reason = redact(reason, secrets)
    value = {
        "reason_code": REASON_MALFORMED,
        "reason": reason,
        "key": key,
        "source": source,
        "intended_topic": intended_topic,
        "partition_key": partition_key,
        "body_bytes": body_bytes,
        "body_excerpt": redact(_excerpt(body), secrets),
    }
    return OutgoingMessage(
        topic=DEAD_LETTER_TOPIC,
        key=key,
        value=json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),
        headers=_headers(REASON_MALFORMED, reason, intended_topic, source),
    )


def oversized_dead_letter(
    message: OutgoingMessage, *, source: str, partition_key: str, size: int, limit: int
) -> OutgoingMessage:
    """The stand-in for `message`, too large for its topic: a description and an excerpt of its value.

    `message` may itself be a dead letter (an oversized payload that also failed its contract):
    the stand-in then keeps its intended topic, source and first reason.
    """
    headers = {k: v.decode("utf-8", errors="replace") for k, v in message.headers}
    intended_topic = headers.get("dlq.intended_topic", message.topic)
    source = headers.get("dlq.source", source)
    reason = f"record of {size} bytes is larger than {intended_topic} takes ({limit} bytes)"
    if "dlq.reason" in headers:
        reason += f"; also {headers.get('dlq.reason_code', REASON_CONTRACT)}: {headers['dlq.reason']}"
    value = {
        "reason_code": REASON_OVERSIZED,
        "reason": reason,
        "key": message.key,
        "source": source,
        "intended_topic": intended_topic,
        "partition_key": partition_key,
        "size_bytes": size,
        "limit_bytes": limit,
        "sha256": hashlib.sha256(message.value).hexdigest(),
        "value_excerpt": _excerpt(message.value),
    }
    return OutgoingMessage(
        topic=DEAD_LETTER_TOPIC,
        key=message.key,
        value=json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),
        headers=_headers(REASON_OVERSIZED, reason[:1000], intended_topic, source),
    )
