"""Putting JSON lines of contract events on Kafka with the contract's keys (``spendwatch produce``).

For replaying a file or a simulated fleet into a live worker (and for the demo, tests and
benches). Unlike the collectors' publisher (:mod:`collectors.publisher`) nothing is validated
or spooled here: a bad line goes to the worker as it is, which dead-letters it, as it would a
broken collector's.

The worker relies on every input topic being keyed so that one detector key lives in one
partition number on every topic (gpu: ``node/uuid``; billing: ``workload.id``; training and
observations: ``model_id``): :func:`spendwatch.contract.kafka_key`, the rule in one place.
The partition is chosen explicitly, :func:`spendwatch.contract.partition_for` (murmur2 of the
key, as Kafka's default partitioner, but of the node alone for GPU samples: a node's GPUs share
a partition, so the idle detector pools their rhythm as replay does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import orjson

from spendwatch.contract import FEEDBACK, GPU_SAMPLE, INPUT_TYPES, kafka_key, partition_for
from spendwatch.kafka import KafkaConfig

_PRODUCED = (*INPUT_TYPES, FEEDBACK)  # the worker's inputs: what a file of events may hold


def route_line(line: bytes) -> tuple[str, bytes, str | None]:
    """(event type, key, anomaly kind of a feedback line) for one JSON line; lines that do not
    parse go to ``gpu_sample`` with an empty key so they reach the worker as bad input (what a
    broken collector would do)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return GPU_SAMPLE, b"", None
    if not isinstance(obj, dict) or obj.get("type") not in _PRODUCED:
        return GPU_SAMPLE, b"", None
    kind = obj.get("kind") if obj["type"] == FEEDBACK and isinstance(obj.get("kind"), str) else None
    return str(obj["type"]), kafka_key(obj).encode(), kind


async def produce_lines(kafka: KafkaConfig, lines: Iterable[bytes], linger_ms: int = 20,
                        max_batch_bytes: int = 1 << 20, idempotent: bool = False) -> int:
    """Produce JSON lines to their contract topics, keyed; return how many were sent.

    Large batches are fastest for loading a backlog. While a worker consumes live, prefer small
    ones (``max_batch_bytes=16384``): a full 1 MiB batch of GPU samples spans hours of event time
    and reaches the broker before the few training events of those hours, so the worker would
    see one topic hours ahead of another (see docs/worker.md, event-time alignment).

    ``acks=all``; ``idempotent=True`` also keeps a leader change from duplicating records (needs
    a broker that gives producer ids: Apache Kafka, not Tansu)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), linger_ms=linger_ms, max_batch_size=max_batch_bytes,
                                max_request_size=4 << 20, acks="all", enable_idempotence=idempotent)
    await producer.start()
    n = 0
    counts: dict[str, int] = {}  # partitions per topic
    chosen: dict[tuple[str, bytes], int] = {}  # (event type, key) -> partition: few distinct keys, many lines
    try:
        futs = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            etype, key, kind = route_line(line)
            topic = kafka.topic(etype)
            part = chosen.get((etype, key)) if kind is None else None
            if part is None:
                if topic not in counts:
                    counts[topic] = len(await producer.partitions_for(topic))
                part = partition_for(etype, key.decode(), counts[topic], kind)
                if kind is None:
                    chosen[(etype, key)] = part
            futs.append(await producer.send(topic, line, key=key, partition=part))
            n += 1
            if len(futs) >= 20_000:
                for f in futs:
                    await f
                futs.clear()
        await producer.flush()
        for f in futs:
            await f
    finally:
        await producer.stop()
    return n


def produce_files(kafka: KafkaConfig, files: Iterable[str], stdin: IO[bytes] | None = None) -> int:
    """Produce JSON-lines files ('-' = ``stdin``) to the contract topics (``spendwatch produce``);
    return how many lines were sent. An unreadable file raises ``OSError`` before anything of it is sent."""
    import asyncio

    total = 0
    for name in files:
        if name == "-":
            if stdin is None:
                raise ValueError("'-' needs a stdin stream")
            total += asyncio.run(produce_lines(kafka, stdin))
        else:
            with open(name, "rb") as f:
                total += asyncio.run(produce_lines(kafka, f))
    return total
