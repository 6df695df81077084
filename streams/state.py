"""Where partition snapshots live: Engine state together with the input offsets it covers.

Flink-style checkpoints: a :class:`Snapshot` is the pickled Engine of one partition number
plus ``offsets`` (per input topic, the next offset to read). Recovery = load the latest
snapshot, restore the Engine, seek every input topic to its offset, replay the rest.

Backends sit behind :class:`SnapshotStore`:

- :class:`KafkaSnapshotStore`: a compacted topic per consumer group
  (``<prefix>spendwatch.state.<group>``) with one partition per input partition; partition N
  holds partition N's snapshots, so loading reads one record from the end of one partition.
  Every snapshot is flushed before the next is written, so each is its own record batch:
  that keeps "the last record" findable also on brokers that report a partition's end as the
  start of its last batch (Tansu, see shared/BROKER.md).
- :class:`MemorySnapshotStore`: a dict, for unit tests.

Record value: ``b"SWS1"`` + 4-byte big-endian header length + JSON header + zlib(engine bytes).
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from spendwatch.errors import ExternalError

MAGIC = b"SWS1"


@dataclass
class Snapshot:
    """One partition number's Engine state and the input offsets it covers."""

    partition: int
    offsets: dict[str, int]
    engine: bytes
    watermark: float = float("-inf")
    created_at: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        header = json.dumps({"partition": self.partition, "offsets": self.offsets,
                             "watermark": self.watermark if self.watermark != float("-inf") else None,
                             "created_at": self.created_at}).encode()
        return MAGIC + struct.pack(">I", len(header)) + header + zlib.compress(self.engine, 1)

    @classmethod
    def decode(cls, data: bytes) -> Snapshot:
        if data[:4] != MAGIC:
            raise ValueError("not a spendwatch snapshot record")
        (n,) = struct.unpack(">I", data[4:8])
        header = json.loads(data[8:8 + n])
        wm = header.get("watermark")
        return cls(partition=int(header["partition"]), offsets={k: int(v) for k, v in header["offsets"].items()},
                   engine=zlib.decompress(data[8 + n:]), watermark=float("-inf") if wm is None else float(wm),
                   created_at=float(header["created_at"]))


class SnapshotStore(ABC):
    """Durable home of the latest snapshot per partition number."""

    @abstractmethod
    async def save(self, snapshots: list[Snapshot]) -> None:
        """Write snapshots; they are durable when this returns."""

    @abstractmethod
    async def load(self, partitions: list[int]) -> dict[int, Snapshot]:
        """The latest snapshot of each partition number that has one."""


class MemorySnapshotStore(SnapshotStore):
    def __init__(self) -> None:
        self.data: dict[int, bytes] = {}

    async def save(self, snapshots: list[Snapshot]) -> None:
        for s in snapshots:
            self.data[s.partition] = s.encode()

    async def load(self, partitions: list[int]) -> dict[int, Snapshot]:
        return {p: Snapshot.decode(self.data[p]) for p in partitions if p in self.data}


class KafkaSnapshotStore(SnapshotStore):
    """Snapshots on a compacted topic, partition N = input partition N.

    ``send`` is an awaitable ``(topic, key, value, partition) -> future`` (the worker's faust
    producer) and ``flush`` makes everything sent durable; ``consumer_kwargs`` are aiokafka
    connection settings for reading snapshots back.
    """

    def __init__(self, topic: str, send: Any, flush: Any, consumer_kwargs: dict[str, Any],
                 key_prefix: str = "") -> None:
        self.topic = topic
        self._send = send
        self._flush = flush
        self._consumer_kwargs = consumer_kwargs
        self._key_prefix = key_prefix

    async def save(self, snapshots: list[Snapshot]) -> None:
        futs = [await self._send(self.topic, f"{self._key_prefix}{s.partition}".encode(), s.encode(), s.partition)
                for s in snapshots]
        await self._flush()
        for f in futs:
            await f  # raises if the broker refused the record

    async def load(self, partitions: list[int]) -> dict[int, Snapshot]:
        if not partitions:
            return {}
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**self._consumer_kwargs, enable_auto_commit=False, group_id=None,
                                    auto_offset_reset="earliest", fetch_max_bytes=64 << 20,
                                    max_partition_fetch_bytes=64 << 20)
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            want: dict[TopicPartition, int] = {}
            for tp in tps:
                if ends[tp] > 0:
                    consumer.seek(tp, ends[tp] - 1)
                    want[tp] = ends[tp] - 1
            found: dict[int, Snapshot] = {}
            if not want:
                return found
            latest: dict[TopicPartition, Any] = {}
            deadline = time.monotonic() + 30.0
            # Read until every wanted partition delivered its record at or past the reported end,
            # then one more short poll for records of the same batch (under-reported ends).
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=300)
                for tp, records in batch.items():
                    for r in records:
                        if r.value is not None and r.value[:4] == MAGIC:
                            latest[tp] = r
                done = all(tp in latest and latest[tp].offset >= off for tp, off in want.items())
                if done and not batch:
                    break
            else:
                raise ExternalError(f"could not read snapshots from {self.topic} within 30s")
            for tp, r in latest.items():
                found[tp.partition] = Snapshot.decode(r.value)
            return found
        finally:
            await asyncio.shield(consumer.stop())
