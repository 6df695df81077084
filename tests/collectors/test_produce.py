"""`spendwatch produce FILE`: JSON lines onto their contract topics with the contract's keys."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from collectors.simulate import SimConfig, simulate
from spendwatch.contract import GPU_SAMPLE, INPUT_TYPES, kafka_key, partition_for
from spendwatch.errors import BadEvent
from spendwatch.events import decode
from spendwatch.kafka import KafkaConfig
from streams.topics import WorkerTopics, ensure_topics, read_topic


@pytest.mark.kafka
def test_produce_sends_every_line_to_its_topic_keyed(kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    sim = simulate(SimConfig(hours=1, gpus=24, seed=3, billing_days=0.5, bad_fraction=0.01))  # 3 nodes
    events = tmp_path / "ev.jsonl"
    with events.open("wb") as f:
        sim.write(f)
    prefix = f"pr{unique}."
    kafka = KafkaConfig(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix)
    asyncio.run(ensure_topics(kafka, WorkerTopics.of(kafka, f"g{unique}"), 4, 1))  # 4 partitions each
    env = {**os.environ, "SPENDWATCH_KAFKA": kafka_bootstrap, "SPENDWATCH_TOPIC_PREFIX": prefix}
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "produce", str(events)], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert f"produced {sim.total_lines:,} events to {kafka_bootstrap}" in p.stderr

    got: Counter[str] = Counter()
    node_partitions: dict[str, set[int]] = {}
    for etype in INPUT_TYPES:
        for r in asyncio.run(read_topic(kafka, kafka.topic(etype))):
            try:
                value = orjson.loads(r.value)
            except orjson.JSONDecodeError:
                value = None
            if isinstance(value, dict) and value.get("type") in INPUT_TYPES:
                assert value["type"] == etype and r.key.decode() == kafka_key(value)
                # the partition: murmur2 of the key as Kafka's default partitioner, of the node for GPU samples
                assert r.partition == partition_for(etype, r.key.decode(), 4)
                if etype == GPU_SAMPLE and isinstance(value.get("node"), str):
                    node_partitions.setdefault(value["node"], set()).add(r.partition)
            else:  # not an event at all: to the worker unkeyed, to be dead-lettered there
                assert etype == "gpu_sample" and r.key == b""
            try:
                got[decode(r.value)["type"]] += 1
            except BadEvent:
                got["bad"] += 1
    assert got["bad"] == sim.bad_lines
    assert len(node_partitions) == 3 and all(len(parts) == 1 for parts in node_partitions.values())  # GPUs by node
    assert {t: got[t] for t in sim.counts} == sim.counts
    assert sum(got.values()) == sim.total_lines


def test_produce_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "produce", str(tmp_path / "missing.jsonl")],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "SPENDWATCH_KAFKA": "127.0.0.1:1"})
    assert p.returncode == 1
    assert "missing.jsonl" in p.stderr and "No such file" in p.stderr


@pytest.mark.kafka
def test_produce_says_1_event_in_the_singular(kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    sim = simulate(SimConfig(hours=0.05, gpus=1, seed=1, billing_days=0, bad_fraction=0.0))
    one = tmp_path / "one.jsonl"
    one.write_bytes(next(line for chunk in sim.chunks() for line in chunk.split(b"\n") if line) + b"\n")
    env = {**os.environ, "SPENDWATCH_KAFKA": kafka_bootstrap, "SPENDWATCH_TOPIC_PREFIX": f"one{unique}."}
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "produce", str(one)], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert f"produced 1 event to {kafka_bootstrap}" in p.stderr
