"""One load run against a running stack: produce, follow through every stage, verify, measure, clean up.

`run_load` takes the stack and the platform's resources (the CLI builds them from the stack's
environment; tests pass their fixtures), shows a live progress bar per stage (rich), and returns
the `LoadResult`. Every stage runs while `memory.watching` samples the servers and Spark.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from pyspark.sql import SparkSession
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from steam_devstack.kafka_drill import create_topic, node_data_bytes
from steam_devstack.load import stages, verify
from steam_devstack.load.accounting import spread
from steam_devstack.load.cleanup import remove_run
from steam_devstack.load.events import EventSource
from steam_devstack.load.memory import DEFAULT_OVERHEAD_BYTES, watching
from steam_devstack.load.plan import LoadPlan
from steam_devstack.load.produce import Produced, produce
from steam_devstack.load.result import LoadResult
from steam_devstack.load.stages import StageResult
from steam_devstack.stack import LocalStack
from steam_platform.assets.bus.audit import leaders_per_broker
from steam_platform.core.redaction import redact
from steam_platform.resources.elasticsearch import ElasticsearchResource
from steam_platform.resources.es_client import SearchClient
from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.s3 import S3Resource


class RateColumn(ProgressColumn):
    """A stage's average rate so far: what it completed over its elapsed time, in its unit."""

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", "rows")
        elapsed = task.finished_time if task.finished else task.elapsed  # a finished stage's own time
        speed = task.completed / elapsed if elapsed else 0.0
        return Text(f"{speed:>10,.0f} {unit}/s", style="progress.data.speed")


@contextlib.contextmanager
def _progress(console: Console | None) -> Iterator[Progress]:
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        yield progress


def _stage(
    progress: Progress, name: str, total: int, work: Callable[[Callable[[int], None]], StageResult]
) -> StageResult:
    task = progress.add_task(name, total=total)
    result = work(lambda n: progress.advance(task, n))
    progress.update(task, completed=result.rows)
    return result


class _Run:
    """The stages of one run in order; `done` names those that finished, for verification."""

    def __init__(
        self,
        plan: LoadPlan,
        kafka: KafkaResource,
        s3: S3Resource,
        spark: SparkSession,
        elasticsearch: ElasticsearchResource,
        es: SearchClient,
    ) -> None:
        self.plan, self.kafka, self.s3, self.spark = plan, kafka, s3, spark
        self.elasticsearch, self.es = elasticsearch, es
        self.root = plan.lake_root(s3.bucket)
        self.source = EventSource(plan)
        self.produced: Produced | None = None
        self.done: list[str] = []

    def stages(self, progress: Progress, result: LoadResult) -> None:
        plan, expected = self.plan, self.source.expected
        for topic in plan.topics:
            create_topic(self.kafka, topic, plan.partitions)
        self.kafka.record_limits(plan.topics)  # waits until every broker knows the new topics
        task = progress.add_task("produce", total=plan.events)
        self.produced = produce(
            self.kafka, self.source.batches(), plan.rate, lambda n: progress.advance(task, n)
        )
        run = self.produced.run
        result.stages.append(StageResult("produce", run.acked, run.seconds, run.bytes_acked))
        self.done.append("produce")
        steps: list[tuple[str, int, Callable[[Callable[[int], None]], StageResult]]] = [
            (
                "bronze",
                plan.events,
                lambda on: stages.land_bronze(self.spark, plan, self.kafka, self.root, on),
            ),
            ("warehouse", plan.events, lambda on: stages.build_warehouse(self.spark, plan, self.root, on)),
            ("marts", len(expected.app_days), lambda on: stages.build_marts(self.spark, plan, self.root, on)),
            (
                "search",
                len(expected.app_days) + plan.news,
                lambda on: stages.index_search(self.es, self.elasticsearch, self.s3, plan, self.root, on),
            ),
        ]
        for name, total, work in steps:
            result.stages.append(_stage(progress, name, total, work))
            self.done.append(name)

    def verify(self, progress: Progress, result: LoadResult) -> None:
        expected = self.source.expected
        checks: dict[str, Callable[[], verify.Checks]] = {
            "bronze": lambda: verify.bronze(self.spark, self.plan, self.root, expected),
            "warehouse": lambda: verify.warehouse(self.spark, self.root, expected),
            "marts": lambda: verify.marts(self.spark, self.root, expected),
            "search": lambda: verify.search(self.es, self.plan, expected),
        }
        wanted = [name for name in checks if name in self.done]
        task = progress.add_task("verify", total=len(wanted), unit="stages")
        for name in wanted:
            ids, figures = checks[name]()
            result.id_checks += ids
            result.comparisons += figures
            progress.advance(task)

    def kafka_figures(self, stack: LocalStack, result: LoadResult) -> None:
        if self.produced is None:
            return
        plan = self.plan
        result.spreads = {t: spread(self.produced.acked, t, plan.partitions) for t in plan.topics}
        result.leaders = {t: dict(sorted(leaders_per_broker(self.kafka, t).items())) for t in plan.topics}
        with contextlib.suppress(OSError):  # the brokers' folders of a stack run by another user
            result.broker_bytes = {
                n: node_data_bytes(stack, n, plan.topics) for n in range(1, stack.ctx.brokers + 1)
            }


def run_load(
    plan: LoadPlan,
    *,
    stack: LocalStack,
    kafka: KafkaResource,
    s3: S3Resource,
    spark: SparkSession,
    elasticsearch: ElasticsearchResource,
    console: Console | None = None,
    keep: bool = False,
    overhead_bytes: int = DEFAULT_OVERHEAD_BYTES,
    memory_interval_s: float = 0.5,
) -> LoadResult:
    """Run `plan` against the running `stack`; the result says what arrived where, how fast, at what
    memory. What the run created is removed at the end unless `keep`."""
    result = LoadResult(plan, brokers=stack.ctx.brokers, overhead_bytes=overhead_bytes)
    es = elasticsearch.client()
    run = _Run(plan, kafka, s3, spark, elasticsearch, es)
    try:
        with watching(stack, memory_interval_s) as memory, _progress(console) as progress:
            result.memory = memory
            try:
                run.stages(progress, result)
            except Exception as exc:  # the run stops at the failed stage; what it did is still checked
                stage = ["produce", "bronze", "warehouse", "marts", "search"][len(run.done)]
                result.errors.append(f"{stage} failed: {type(exc).__name__}: {redact(str(exc))}")
            try:
                run.verify(progress, result)
            except Exception as exc:  # a count that cannot be read proves nothing: the run fails
                result.errors.append(f"verification failed: {type(exc).__name__}: {redact(str(exc))}")
        run.kafka_figures(stack, result)
    finally:
        if not keep:
            result.not_removed = remove_run(plan, kafka, s3, es)
            for failure in result.not_removed:
                (console or Console(stderr=True)).print(f"[yellow]not removed:[/] {failure}")
        es.close()
    return result
