"""Putting JSON lines of contract events on Kafka with the contract's keys (``spendwatch produce``).

For replaying a file or a simulated fleet into a live worker (and for the demo, tests and
benches). Unlike the collectors' publisher (:mod:`collectors.publisher`) nothing is validated
or spooled here: a bad line goes to the worker as it is, which dead-letters it, as it would a
broken collector's.

The worker relies on every input topic being keyed so that one detector key lives in one
partition number on every topic (gpu: ``node/uuid``; billing: ``workload.id``; training and
observations: ``model_id``): :func:`spendwatch.contract.kafka_key`, the rule in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

import orjson

from spendwatch.contract import GPU_SAMPLE, INPUT_TYPES, kafka_key
from spendwatch.kafka import KafkaConfig


def route_line(line: bytes) -> tuple[str, bytes]:
    """(event type, key) for one JSON line; lines that do not parse go to ``gpu_sample`` with
    an empty key so they reach the worker as bad input (what a broken collector would do)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return GPU_SAMPLE, b""
    if not isinstance(obj, dict) or obj.get("type") not in INPUT_TYPES:
        return GPU_SAMPLE, b""
    return str(obj["type"]), kafka_key(obj).encode()


async def produce_lines(kafka: KafkaConfig, lines: Iterable[bytes], linger_ms: int = 20,
                        max_batch_bytes: int = 1 << 20) -> int:
    """Produce JSON lines to their contract topics, keyed; return how many were sent.

    Large batches are fastest for loading a backlog. While a worker consumes live, prefer small
    ones (``max_batch_bytes=16384``): a full 1 MiB batch of GPU samples spans hours of event time
    and reaches the broker before the few training events of those hours, so the worker would
    see one topic hours ahead of another (see docs/worker.md, event-time alignment)."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), linger_ms=linger_ms, max_batch_size=max_batch_bytes,
                                max_request_size=4 << 20)
    await producer.start()
    n = 0
    try:
        futs = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            etype, key = route_line(line)
            futs.append(await producer.send(kafka.topic(etype), line, key=key))
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
