"""Bulk writes to Elasticsearch that either land completely or say exactly what did not.

Documents go to `_bulk` in chunks of `chunk_size` through the search client (`SearchClient.bulk`,
the same request on Elasticsearch 7.10, 8.x and 9.x; the official client's `helpers.streaming_bulk`
is not used because it needs the official client, which refuses the local 7.10 OSS node). Each
item's outcome is sorted: transient refusals (429, 5xx, and every document of a chunk whose request
found the cluster unreachable or overloaded) are sent again in rounds with exponential back-off and
jitter (tenacity); permanent ones (a document that conflicts with the mapping, a malformed value)
are not retried. Whatever is left is returned as
`FailedDoc`s with Elasticsearch's reason, so callers can report them instead of swallowing them.
Operations are idempotent (deterministic `_id`s), so re-sending a document never duplicates it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from steam_platform.resources.elasticsearch import ElasticsearchRetrySettings
from steam_platform.resources.es_client import EsApiError, EsUnavailable, SearchClient

T = TypeVar("T")

#: Statuses worth another attempt: throttling, overload, the node restarting, no connection ("N/A").
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504, "N/A"})


@dataclass(frozen=True)
class FailedDoc:
    """A document Elasticsearch did not take: its id, the HTTP status and the reason given."""

    doc_id: str
    op: str
    status: int | str
    reason: str

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT_STATUSES


@dataclass(frozen=True)
class BulkOutcome:
    """Counts of one bulk write: documents written (or deleted) and those that failed for good."""

    succeeded: int
    failed: tuple[FailedDoc, ...]


class _Pending(Exception):
    """Raised inside the retry loop while transient failures remain."""


def _is_transient_error(exc: BaseException) -> bool:
    if isinstance(exc, EsUnavailable):
        return True
    return isinstance(exc, EsApiError) and exc.status in TRANSIENT_STATUSES


def retrying(settings: ElasticsearchRetrySettings) -> Retrying:
    """A tenacity policy for single cluster calls: retry transient errors with jittered back-off."""
    return Retrying(
        retry=retry_if_exception(_is_transient_error),
        stop=stop_after_attempt(settings.attempts),
        wait=wait_exponential_jitter(multiplier=settings.initial_wait_s, max=settings.max_wait_s),
        reraise=True,
    )


def call(settings: ElasticsearchRetrySettings, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` retried on transient cluster errors."""
    return retrying(settings)(fn, *args, **kwargs)


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        text = f"{error.get('type')}: {error.get('reason')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return text
    if error is None and info.get("result") == "not_found":
        return "not_found"
    return str(error)


def _lines(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """NDJSON lines of `_bulk`: `{op: {_index, _id}}`, then the `_source` for index operations."""
    lines: list[dict[str, Any]] = []
    for action in actions:
        op = action["_op_type"]
        lines.append({op: {"_index": action["_index"], "_id": action["_id"]}})
        if op == "index":
            lines.append(action["_source"])
    return lines


def _send_chunk(es: SearchClient, chunk: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """One `_bulk` request: `(op, item)` per action, in order. When the request as a whole fails
    (cluster unreachable, 429/5xx, ...), every action gets that status, as the cluster took none."""
    try:
        answer = es.bulk(_lines(chunk))
    except EsUnavailable as exc:
        return [(a["_op_type"], {"_id": a["_id"], "status": "N/A", "error": str(exc)}) for a in chunk]
    except EsApiError as exc:
        error = {"type": exc.error_type, "reason": exc.reason}
        return [(a["_op_type"], {"_id": a["_id"], "status": exc.status, "error": error}) for a in chunk]
    return [next(iter(item.items())) for item in answer["items"]]


def _one_pass(
    es: SearchClient, actions: list[dict[str, Any]], settings: ElasticsearchRetrySettings
) -> tuple[int, list[tuple[dict[str, Any], FailedDoc]]]:
    """Send `actions` once; the number that succeeded and the failures paired with their action."""
    by_id = {(a["_op_type"], a["_id"]): a for a in actions}
    ok_count = 0
    failures: list[tuple[dict[str, Any], FailedDoc]] = []
    for start in range(0, len(actions), settings.chunk_size):
        for op, info in _send_chunk(es, actions[start : start + settings.chunk_size]):
            status = info.get("status", "N/A")
            ok = isinstance(status, int) and 200 <= status < 300
            if ok or (op == "delete" and status == 404):  # deleting what is already gone is success
                ok_count += 1
                continue
            doc_id = str(info.get("_id"))
            failures.append((by_id[(op, doc_id)], FailedDoc(doc_id, op, status, _reason(info))))
    return ok_count, failures


def write(
    es: SearchClient, actions: Iterable[dict[str, Any]], settings: ElasticsearchRetrySettings
) -> BulkOutcome:
    """Bulk-send `actions` (each with `_op_type`, `_index`, `_id`), retrying transient failures.

    Returns what succeeded and every document that still failed: permanent failures immediately,
    transient ones once `settings.attempts` rounds with back-off are used up.
    """
    pending = list(actions)
    succeeded = 0
    permanent: list[FailedDoc] = []
    transient: list[FailedDoc] = []
    try:
        for attempt in Retrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Pending)),
            stop=stop_after_attempt(settings.attempts),
            wait=wait_exponential_jitter(multiplier=settings.initial_wait_s, max=settings.max_wait_s),
        ):
            with attempt:
                ok_count, failures = _one_pass(es, pending, settings)
                succeeded += ok_count
                permanent += [f for _, f in failures if not f.transient]
                retry_pairs = [(a, f) for a, f in failures if f.transient]
                pending = [a for a, _ in retry_pairs]
                transient = [f for _, f in retry_pairs]
                if pending:
                    raise _Pending(f"{len(pending)} document(s) refused transiently")
    except RetryError:
        pass  # the transient failures left over are reported below
    return BulkOutcome(succeeded=succeeded, failed=(*permanent, *transient))


def summarise(failed: Iterable[FailedDoc], limit: int = 20) -> str:
    """A readable account of failures: counts per reason, then the first ids with their reasons."""
    failed = list(failed)
    if not failed:
        return "no failures"
    per_reason = Counter(f"{f.status} {f.reason}" for f in failed)
    lines = [f"{n} x {reason}" for reason, n in per_reason.most_common()]
    lines += [f"  {f.op} {f.doc_id}: {f.status} {f.reason}" for f in failed[:limit]]
    if len(failed) > limit:
        lines.append(f"  ... and {len(failed) - limit} more")
    return "\n".join(lines)
