"""Helpers for ingest integration tests: the simulator's admin API over HTTP, Kafka range reads.

Tests share the platform's topics within a session, so every test reads exactly the offsets its
own run added: high watermarks before, then everything up to the watermarks after.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, KafkaException, TopicPartition

from steam_platform.resources.kafka import KafkaResource
from steam_platform.resources.steam_api import SteamApiResource
from steam_simulator.server import SimulatorServer

IN_PROCESS_KEY = "test-key"


class SimAdmin:
    """The simulator's `/__sim/*` admin endpoints (works for the stack service and in-process)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        response = requests.post(f"{self.base_url}/__sim/faults", json={"rules": rules}, timeout=10)
        assert response.status_code == 200, response.text

    def calls(self) -> dict[str, Any]:
        return dict(requests.get(f"{self.base_url}/__sim/calls", timeout=10).json())

    def reset(self) -> None:
        requests.post(f"{self.base_url}/__sim/reset", timeout=10).raise_for_status()

    def steam(self, state_dir: Path, **overrides: Any) -> SteamApiResource:
        """A client resource on this simulator with fast backoff and its own budget state."""
        settings: dict[str, Any] = {
            "api_base_url": self.base_url,
            "store_base_url": self.base_url,
            "api_key": self.api_key,
            "budget_state_dir": str(state_dir),
            "backoff_initial_s": 0.05,
            "backoff_max_s": 0.5,
            "max_attempts": 8,
            "read_timeout_s": 10,
            **overrides,
        }
        return SteamApiResource(**settings)

    def info(self) -> dict[str, Any]:
        """Sizes and example ids of every quirk (`GET /__sim/info`)."""
        return dict(requests.get(f"{self.base_url}/__sim/info", timeout=10).json())


@pytest.fixture(scope="module")
def sim(stack_env: dict[str, str]) -> Iterator[SimAdmin]:
    """The stack's `simulator` service when running (STEAM_TEST_SERVICES=kafka,simulator), else an
    in-process simulator on a free port; either way the client talks HTTP."""
    if "STEAM_API_BASE_URL" in stack_env:
        yield SimAdmin(stack_env["STEAM_API_BASE_URL"], stack_env["STEAM_API_KEY"])
        return
    with SimulatorServer(port=0, seed=7, api_keys=(IN_PROCESS_KEY,)) as server:
        yield SimAdmin(server.base_url, IN_PROCESS_KEY)


@pytest.fixture(autouse=True)
def clean_sim(sim: SimAdmin) -> Iterator[None]:
    """No faults, zero counters, fresh rate-limit windows before and after each test."""
    sim.reset()
    yield
    sim.reset()


@dataclass(frozen=True)
class Record:
    """One consumed Kafka record."""

    partition: int
    key: str
    value: dict[str, Any]
    headers: dict[str, str]


def watermarks(kafka: KafkaResource, topic: str, timeout_s: float = 30) -> dict[int, int]:
    """High watermark per partition of `topic` now (waits for leaders of a just-created topic)."""
    consumer = Consumer(kafka.consumer_config(group_id=f"wm-{uuid.uuid4()}"))
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                meta = consumer.list_topics(topic, timeout=10).topics[topic]
                return {
                    p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in meta.partitions
                }
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def read_between(
    kafka: KafkaResource, topic: str, start: dict[int, int], end: dict[int, int], timeout_s: float = 60
) -> list[Record]:
    """Every record of `topic` from offsets `start` up to `end` (a fresh consumer, no group state)."""
    wanted = {p: (start.get(p, 0), e) for p, e in end.items() if e > start.get(p, 0)}
    if not wanted:
        return []
    consumer = Consumer(kafka.consumer_config(group_id=f"test-{uuid.uuid4()}"))
    consumer.assign([TopicPartition(topic, p, s) for p, (s, _) in wanted.items()])
    records: list[Record] = []
    remaining = {p: e - s for p, (s, e) in wanted.items()}
    deadline = time.monotonic() + timeout_s
    try:
        while any(remaining.values()) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            p = msg.partition() or 0
            if msg.offset() >= wanted[p][1]:
                continue
            remaining[p] -= 1
            headers = {k: (v or b"").decode() for k, v in (msg.headers() or [])}
            records.append(Record(p, (msg.key() or b"").decode(), json.loads(msg.value() or b"{}"), headers))
    finally:
        consumer.close()
    return records


class TopicWindow:
    """Records added to some topics between `__enter__` and `records()`."""

    def __init__(self, kafka: KafkaResource, *topics: str) -> None:
        self.kafka = kafka
        self.topics = topics
        self.before = {t: watermarks(kafka, t) for t in topics}

    def records(self, topic: str) -> list[Record]:
        return read_between(self.kafka, topic, self.before[topic], watermarks(self.kafka, topic))
