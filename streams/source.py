"""Putting contract events on Kafka with the contract's keys (tests, bench, demo, simulators).

The worker relies on every input topic being keyed so that one detector key lives in one
partition number on every topic (gpu: ``node/uuid``; billing: ``workload.id``; training and
observations: ``model_id``); :func:`key_of` is that rule in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from spendwatch.kafka import INPUT_EVENT_TYPES, KafkaConfig


def key_of(event: dict[str, Any]) -> str:
    """The contract's Kafka key for an input event (empty string when it cannot be found)."""
    etype = event.get("type")
    if etype == "gpu_sample":
        return f"{event.get('node')}/{event.get('mig_uuid') or event.get('gpu_uuid')}"
    if etype == "billing_delta":
        w = event.get("workload")
        return str(w.get("id")) if isinstance(w, dict) else ""
    return str(event.get("model_id") or "")


def route_line(line: bytes) -> tuple[str, bytes]:
    """(event type, key) for one JSON line; lines that do not parse go to ``gpu_sample`` with
    an empty key so they reach the worker as bad input (what a broken collector would do)."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "gpu_sample", b""
    if not isinstance(obj, dict) or obj.get("type") not in INPUT_EVENT_TYPES:
        return "gpu_sample", b""
    return str(obj["type"]), key_of(obj).encode()


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


async def read_topic(kafka: KafkaConfig, topic: str, idle_s: float = 1.5, timeout_s: float = 30.0) -> list[Any]:
    """Every committed record of ``topic`` from the beginning (no consumer group, ``read_committed``:
    what an aborted transaction wrote is never seen), until nothing came for ``idle_s`` or
    ``timeout_s`` passed. For reading results back (demo, tests), not a hot path."""
    import time

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, **kafka.aiokafka_kwargs(), group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, isolation_level="read_committed")
    await consumer.start()
    out: list[Any] = []
    try:
        last = time.monotonic()
        deadline = last + timeout_s
        while time.monotonic() - last < idle_s and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                out.extend(records)
                last = time.monotonic()
    finally:
        await consumer.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m streams.source FILE...``: produce JSON-lines files to the contract topics (SPENDWATCH_KAFKA)."""
    import argparse
    import asyncio
    import sys

    from spendwatch.kafka import kafka_config

    ap = argparse.ArgumentParser(prog="python -m streams.source", description=main.__doc__)
    ap.add_argument("files", nargs="+", metavar="FILE", help="JSON lines of contract events ('-' = stdin)")
    args = ap.parse_args(argv)
    kafka = kafka_config()
    total = 0
    for name in args.files:
        if name == "-":
            total += asyncio.run(produce_lines(kafka, sys.stdin.buffer))
        else:
            with open(name, "rb") as f:
                total += asyncio.run(produce_lines(kafka, f))
    print(f"produced {total:,} events to {kafka.bootstrap_servers}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
