"""Every step's failure, log lines and metadata reach Dagster's event log without credentials.

Errors from the platform's clients can quote a credential back: a S3 endpoint with
`user:password@` in it, an S3A secret in a Hadoop configuration dump, a SASL password in a JAAS
line, an Elasticsearch `Authorization` header. Dagster serialises a failing step's exception with
its message, its chained causes (`__cause__`, `__context__`) and its stack into the event log, and
writes `context.log` lines, Pipes messages and metadata there as they are. So every op and asset
compute function of the code location runs inside `scrubbed`:

- an exception becomes a `dg.Failure` whose description is the scrubbed chain of messages (type
  and message of the exception and of each cause) and whose `traceback` metadata is the scrubbed
  formatted traceback; it is raised outside the `except` block and `from None`, so neither
  `__cause__` nor `__context__` carries the original out. A `dg.Failure` the step raised itself keeps
  its retry choice and metadata, scrubbed; `dg.RetryRequested` keeps its retry and gets a scrubbed
  cause. Interrupts (`BaseException`) pass through untouched;
- a filter on the step's `context.log` (also what Pipes messages from `spark-submit` go through)
  scrubs each message, and folds a logged exception into the message, scrubbed;
- text metadata of what the step returns or yields (results, check results, materializations,
  observations) is scrubbed.

Scrubbing is `steam_platform.core.redaction.redact` with the run's secrets: every `SecretStr`
setting (`steam_platform.core.settings`) and every secret-named field of the step's resources (S3
secret key, Kafka SASL password, Elasticsearch password and API key, Steam API key, a secret in
Spark's conf), plus URL userinfo and `Authorization` headers, which `redact` masks by shape.

`scrub_definitions` wraps every op of a `Definitions` object in place (assets, asset checks and op
jobs alike), once, where the code location assembles its definitions: layers define their assets
as usual. Dagster offers no hook around a step's compute function, so the wrapper replaces the
op's decorated function (`DecoratedOpFunction`) with one of the same signature and kind
(function, generator, coroutine); a test checks every op of the code location is wrapped.
Tracebacks hold file names and source lines, not local variables, so the stack needs no more.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import dagster as dg
from dagster._core.definitions.decorators.op_decorator import DecoratedOpFunction
from pydantic import BaseModel, SecretStr

from steam_platform.core.redaction import is_secret_name, redact
from steam_platform.core.settings import Settings

#: Marks a compute function already wrapped (wrapping is idempotent).
_WRAPPED_ATTR = "__steam_scrubbed__"
#: What a compute function returns or yields that carries metadata or a description.
_RESULTS = (
    dg.MaterializeResult,
    dg.ObserveResult,
    dg.AssetCheckResult,
    dg.AssetMaterialization,
    dg.AssetObservation,
    dg.Output,
)
#: Longest scrubbed traceback kept as metadata, and longest message per exception of the chain in
#: the description (a Py4J error's message holds the whole Java stack): the event log keeps them.
MAX_TRACEBACK_CHARS = 20_000
MAX_MESSAGE_CHARS = 2_000

F = TypeVar("F", bound=Callable[..., Any])


def settings_secrets() -> set[str]:
    """Every `SecretStr` setting's value that is set (a group that does not load adds nothing)."""
    found: set[str] = set()
    for group in Settings.groups():
        try:
            loaded = group.load()
        except Exception:
            continue
        for name in type(loaded).model_fields:
            value = getattr(loaded, name)
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.add(value.get_secret_value())
    return found


def _secrets_in(value: Any, name: str, found: set[str], depth: int = 0) -> None:
    """Collect secret strings in a resource's configuration: secret-named fields, dict entries and
    `SecretStr`s (an `EnvVar` by the value it resolves to, not its name), walking nested resources,
    models, mappings and sequences."""
    if depth > 6:
        return
    if isinstance(value, dg.EnvVar):  # holds the variable's name: the secret is what it resolves to
        value = value.get_value() or ""
    if isinstance(value, SecretStr):
        if value.get_secret_value():
            found.add(value.get_secret_value())
    elif isinstance(value, str):
        if value and is_secret_name(name):
            found.add(value)
    elif isinstance(value, BaseModel):
        for field in type(value).model_fields:
            _secrets_in(getattr(value, field, None), field, found, depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _secrets_in(item, str(key), found, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _secrets_in(item, name, found, depth + 1)


def resource_secrets(resources: Iterable[Any]) -> set[str]:
    """Every secret held by `resources` (see `_secrets_in`)."""
    found: set[str] = set()
    for resource in resources:
        _secrets_in(resource, "", found)
    return found


def _step_resources(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[Any]:
    """The step's resources: those on its context (first argument) and those passed by name."""
    resources: list[Any] = [v for v in kwargs.values() if isinstance(v, dg.ConfigurableResource)]
    context = args[0] if args else None
    held = getattr(getattr(context, "resources", None), "original_resource_dict", None)
    if isinstance(held, Mapping):
        resources.extend(held.values())
    return resources


def step_secrets(context: Any) -> set[str]:
    """The secrets a step's scrubber masks: every set `SecretStr` setting and every secret of the
    resources on the step's `context`."""
    return settings_secrets() | resource_secrets(_step_resources((context,), {}))


class Scrubber:
    """`redact` bound to one step's secrets."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Very short values would mask ordinary words; settings and resources never hold such secrets.
        self.secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))

    def text(self, text: str) -> str:
        """`text` without the step's secrets, URL userinfo or `Authorization` credentials."""
        return redact(text, self.secrets)

    def json(self, value: Any) -> Any:
        """A JSON-like value with every string scrubbed."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value

    def metadata_value(self, value: Any) -> Any:
        """One metadata value with its text scrubbed (numbers, tables and schemas are left as they are)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dg.TextMetadataValue):
            return dg.MetadataValue.text(self.text(value.text or ""))
        if isinstance(value, dg.MarkdownMetadataValue):
            return dg.MetadataValue.md(self.text(value.md_str or ""))
        if isinstance(value, dg.UrlMetadataValue):
            return dg.MetadataValue.url(self.text(value.url or ""))
        if isinstance(value, dg.PathMetadataValue):
            return dg.MetadataValue.path(self.text(str(value.path)))
        if isinstance(value, dg.JsonMetadataValue):
            return dg.MetadataValue.json(self.json(value.data))
        if isinstance(value, Mapping | list):
            return self.json(value)
        return value

    def metadata(self, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
        """Step metadata with every text value scrubbed."""
        return {key: self.metadata_value(value) for key, value in (metadata or {}).items()}

    def result(self, value: Any) -> Any:
        """What a compute function returns or yields, with its metadata and descriptions scrubbed."""
        if isinstance(value, tuple) and not hasattr(value, "_fields"):
            return tuple(self.result(v) for v in value)
        if isinstance(value, list) and any(isinstance(v, _RESULTS) for v in value):
            return [self.result(v) for v in value]  # e.g. a Pipes session's `get_results()`
        if isinstance(value, dg.MaterializeResult | dg.ObserveResult):
            return value._replace(
                metadata=self.metadata(value.metadata) if value.metadata is not None else None,
                check_results=[self.result(r) for r in value.check_results or ()],
            )
        if isinstance(value, dg.AssetCheckResult):
            description = self.text(value.description) if value.description else value.description
            return value._replace(metadata=self.metadata(value.metadata), description=description)
        if isinstance(value, dg.AssetMaterialization | dg.AssetObservation):
            description = self.text(value.description) if value.description else value.description
            return value._replace(metadata=self.metadata(value.metadata), description=description)
        if isinstance(value, dg.Output):
            return value.with_metadata(self.metadata(value.metadata))
        return value

    def failure(self, exc: Exception) -> BaseException:
        """What the step raises instead of `exc`: the same failure with nothing secret left in it."""
        if isinstance(exc, dg.RetryRequested):
            retry = dg.RetryRequested(max_retries=exc.max_retries, seconds_to_wait=exc.seconds_to_wait)
            cause = exc.__cause__ or exc.__context__
            retry.__cause__ = self.failure(cause) if isinstance(cause, Exception) else None
            return retry
        chain = " <- caused by ".join(_cut(self.text(line)) for line in _chain_lines(exc))
        formatted = self.text("".join(traceback.format_exception(exc)))[-MAX_TRACEBACK_CHARS:]
        if isinstance(exc, dg.Failure):
            metadata = {**self.metadata(exc.metadata), "traceback": dg.MetadataValue.text(formatted)}
            return dg.Failure(
                description=self.text(exc.description or chain),
                metadata=metadata,
                allow_retries=exc.allow_retries,
            )
        return dg.Failure(
            description=chain,
            metadata={"error_type": type(exc).__name__, "traceback": dg.MetadataValue.text(formatted)},
        )


def _chain_lines(exc: BaseException) -> list[str]:
    """`Type: message` of `exc` and of each exception it was raised from or while handling."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(lines) < 10:
        seen.add(id(current))
        lines.append("".join(traceback.format_exception_only(current)).strip())
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return lines


def _cut(line: str) -> str:
    """`line`, or its first `MAX_MESSAGE_CHARS` characters and a note of how much was left out."""
    if len(line) <= MAX_MESSAGE_CHARS:
        return line
    return f"{line[:MAX_MESSAGE_CHARS]} [... {len(line) - MAX_MESSAGE_CHARS} more characters]"


class _ScrubbingFilter(logging.Filter):
    """Scrubs every record `context.log` handles: its message and any exception it carries."""

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += "\n" + "".join(traceback.format_exception(record.exc_info[1]))
            record.exc_info = None
            record.exc_text = None
        record.msg = self.scrubber.text(message)
        record.args = None
        return True


def _begin(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Scrubber:
    """The step's scrubber, with its filter on the step's `context.log` (once per log manager)."""
    scrubber = Scrubber(settings_secrets() | resource_secrets(_step_resources(args, kwargs)))
    log = getattr(args[0], "log", None) if args else None
    if isinstance(log, logging.Logger):
        for old in [f for f in log.filters if isinstance(f, _ScrubbingFilter)]:
            log.removeFilter(old)
        log.addFilter(_ScrubbingFilter(scrubber))
    return scrubber


def scrubbed(fn: F) -> F:
    """`fn` (an op's compute function) with its failures, log lines and metadata scrubbed.

    The wrapper has `fn`'s signature (Dagster reads context, config, inputs and resources from it)
    and its kind: a generator stays a generator. An async one is refused (none exists yet).
    """
    if getattr(fn, _WRAPPED_ATTR, False):
        return fn

    wrapper: Callable[..., Any]
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            scrubber = _begin(args, kwargs)
            failure: BaseException | None = None
            try:
                for item in fn(*args, **kwargs):
                    yield scrubber.result(item)
            except Exception as exc:
                failure = scrubber.failure(exc)
            if failure is not None:
                raise failure from None

        wrapper = generator_wrapper
    elif inspect.isasyncgenfunction(fn) or inspect.iscoroutinefunction(fn):
        # The platform has no async ops; one added later must be wrapped (and tested) first.
        raise TypeError(f"{fn.__qualname__}: async compute functions are not scrubbed yet")
    else:

        @functools.wraps(fn)
        def function_wrapper(*args: Any, **kwargs: Any) -> Any:
            scrubber = _begin(args, kwargs)
            try:
                return scrubber.result(fn(*args, **kwargs))
            except Exception as exc:
                failure = scrubber.failure(exc)
            raise failure from None

        wrapper = function_wrapper
    setattr(wrapper, _WRAPPED_ATTR, True)
    return wrapper  # type: ignore[return-value]


def is_scrubbed(op: dg.OpDefinition) -> bool:
    """Whether `op`'s compute function runs inside `scrubbed`."""
    compute = op.compute_fn
    fn = compute.decorated_fn if isinstance(compute, DecoratedOpFunction) else compute
    return bool(getattr(fn, _WRAPPED_ATTR, False))


def _wrap_op(op: dg.OpDefinition) -> None:
    compute = op.compute_fn
    if isinstance(compute, DecoratedOpFunction):
        op._compute_fn = DecoratedOpFunction(decorated_fn=scrubbed(compute.decorated_fn))
    else:
        op._compute_fn = scrubbed(compute)


def definition_ops(defs: dg.Definitions) -> Iterator[dg.OpDefinition]:
    """Every op of `defs`: of its assets and asset checks, and of its op jobs (also sensors' and
    schedules' targets)."""
    nodes: list[Any] = [
        a.node_def
        for a in [*(defs.assets or ()), *(defs.asset_checks or ())]
        if isinstance(a, dg.AssetsDefinition) and a.is_executable
    ]
    jobs: list[Any] = [*(defs.jobs or ())]
    for sensor in defs.sensors or ():
        if sensor.has_jobs:
            jobs.extend(sensor.jobs)
    for schedule in defs.schedules or ():
        if isinstance(schedule, dg.ScheduleDefinition) and schedule.has_job:
            jobs.append(schedule.job)
    nodes.extend(job.graph for job in jobs if isinstance(job, dg.JobDefinition))
    seen: set[int] = set()
    for node in nodes:
        for op in node.iterate_op_defs():
            if id(op) not in seen:
                seen.add(id(op))
                yield op


def scrub_definitions(defs: dg.Definitions) -> dg.Definitions:
    """`defs` with every op's compute function wrapped in `scrubbed` (in place; returns `defs`)."""
    for op in definition_ops(defs):
        _wrap_op(op)
    return defs
