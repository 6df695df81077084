"""The worker's state on Kafka: a compacted changelog per consumer group, one record per detector key.

Topic ``<prefix>spendwatch.state.<group>``, ``cleanup.policy=compact``, partition N holds the
state of input partition N. A partition's state is never one record that grows with its keys:

- one **entry** record per detector instance (key ``<slot>/<N>/e/<digest of name+key>``),
  rewritten only when that instance changed since the last checkpoint;
- the **lifecycle** (open anomalies, recently resolved ids: JSON) as ``<slot>/<N>/l``, rewritten
  only when it changed;
- one **head** record ``h/<N>``: the input offsets the state covers, the Engine's clock
  (watermark, next tick), a sequence number, and how to read the rest.

A payload larger than :data:`PART_BYTES` is split into parts (``.../<i>``) so no record comes
near the broker's size limit; parts that are no longer needed get tombstones.

With transactions (``streams.outputs``) the changed records, the head, the worker's outputs
and the consumer offsets are committed atomically, so a checkpoint writes only what changed
(slot ``k``) and a reader with ``read_committed`` sees whole checkpoints. Without transactions
(a broker that has none, e.g. Tansu) every checkpoint writes the *whole* state into one of two
slots (``a``/``b``, alternating) and the head last, after everything else is durable: a crash
in the middle leaves the slot the last head names intact.

Every value is framed: ``b"SWST"``, one byte of format version (:data:`FORMAT_VERSION`), one
byte of kind (``H``/``K``/``L``), 4 bytes header length, a JSON header, the payload (zlib).
The header repeats the partition, the slot, the sequence number, the part, a CRC of the whole
payload and (entries) the detector name and key; a record whose key does not match its header,
of an unknown version, torn, or not framed at all is rejected with a reason, counted, and
changes nothing (:class:`StateDecoder`).
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from spendwatch.errors import ExternalError
from streams.engine_state import Key

MAGIC = b"SWST"
FORMAT_VERSION = 1
PART_BYTES = 512 * 1024  # payload bytes per record: far below any broker's message.max.bytes
HEAD, ENTRY, LIFE = b"H", b"K", b"L"
INCREMENTAL_SLOT = "k"
FULL_SLOTS = ("a", "b")

Record = tuple[bytes, "bytes | None"]  # (record key, value); value None = tombstone


class StateRecordError(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def frame(kind: bytes, header: dict[str, Any], payload: bytes = b"") -> bytes:
    h = orjson.dumps(header)
    return MAGIC + bytes([FORMAT_VERSION]) + kind + struct.pack(">I", len(h)) + h + payload


def unframe(value: bytes) -> tuple[bytes, dict[str, Any], bytes]:
    if value[:4] != MAGIC:
        raise StateRecordError("not a spendwatch state record (no SWST frame)")
    if len(value) < 10:
        raise StateRecordError("torn state record (shorter than its frame)")
    if value[4] != FORMAT_VERSION:
        raise StateRecordError(f"state format version {value[4]} is not supported (this worker reads "
                               f"version {FORMAT_VERSION})")
    kind = value[5:6]
    if kind not in (HEAD, ENTRY, LIFE):
        raise StateRecordError(f"unknown state record kind {kind!r}")
    (n,) = struct.unpack(">I", value[6:10])
    if 10 + n > len(value):
        raise StateRecordError("torn state record (header runs past the end)")
    try:
        header = orjson.loads(value[10:10 + n])
    except orjson.JSONDecodeError:
        raise StateRecordError("state record header is not JSON") from None
    if not isinstance(header, dict):
        raise StateRecordError("state record header is not an object")
    return kind, header, value[10 + n:]


def head_key(partition: int) -> bytes:
    return f"h/{partition}".encode()


def _entry_base(slot: str, partition: int, name: str, key: str) -> bytes:
    digest = hashlib.blake2b(f"{name}\x00{key}".encode(), digest_size=12).hexdigest()
    return f"{slot}/{partition}/e/{digest}".encode()


def _life_base(slot: str, partition: int) -> bytes:
    return f"{slot}/{partition}/l".encode()


def _part_key(base: bytes, part: int) -> bytes:
    return base if part == 0 else base + b"/%d" % part


@dataclass
class Head:
    """What a checkpoint of one partition covers."""

    partition: int
    seq: int
    offsets: dict[str, int]
    clock: dict[str, Any]
    slot: str = INCREMENTAL_SLOT
    full: bool = False
    life_seq: int = -1  # checkpoint that last wrote the lifecycle
    created_at: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        return frame(HEAD, {"p": self.partition, "seq": self.seq, "offsets": self.offsets, "clock": self.clock,
                            "slot": self.slot, "full": self.full, "life_seq": self.life_seq,
                            "created_at": self.created_at})

    @classmethod
    def of(cls, h: dict[str, Any]) -> Head:
        try:
            offsets = {str(t): int(o) for t, o in h["offsets"].items()}
            clock = h["clock"]
            if not isinstance(clock, dict):
                raise TypeError("clock is not an object")
            return cls(int(h["p"]), int(h["seq"]), offsets, clock, str(h["slot"]), bool(h["full"]),
                       int(h["life_seq"]), float(h["created_at"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StateRecordError(f"state head is malformed: {exc.__class__.__name__}: {exc}") from None


@dataclass
class Checkpoint:
    """What one checkpoint of one partition writes: changed entries, deletions, the lifecycle if changed."""

    head: Head
    entries: dict[Key, tuple[bytes, bool]]  # key -> (serialised instance, wants ticks)
    deleted: list[Key] = field(default_factory=list)
    life: bytes | None = None  # None = unchanged since life_seq


class StateEncoder:
    """Turns checkpoints of one partition into records; remembers part counts to tombstone leftovers."""

    def __init__(self, partition: int, parts: dict[bytes, int] | None = None) -> None:
        self.partition = partition
        self.parts: dict[bytes, int] = dict(parts or {})

    def _parts(self, base: bytes, kind: bytes, header: dict[str, Any], payload: bytes) -> list[Record]:
        crc = zlib.crc32(payload)
        chunks = [payload[i:i + PART_BYTES] for i in range(0, len(payload), PART_BYTES)] or [b""]
        out: list[Record] = []
        for i, chunk in enumerate(chunks):
            out.append((_part_key(base, i), frame(kind, {**header, "part": i, "parts": len(chunks), "crc": crc},
                                                  chunk)))
        old = self.parts.get(base, 1)
        out += [(_part_key(base, i), None) for i in range(len(chunks), old)]
        self.parts[base] = len(chunks)
        return out

    def records(self, cp: Checkpoint) -> list[Record]:
        """Entries and lifecycle first, the head last."""
        h, p = cp.head, self.partition
        out: list[Record] = []
        base_hdr = {"p": p, "seq": h.seq, "slot": h.slot}
        for (name, key), (blob, tick) in cp.entries.items():
            out += self._parts(_entry_base(h.slot, p, name, key), ENTRY,
                               {**base_hdr, "name": name, "key": key, "tick": tick}, zlib.compress(blob, 1))
        for name, key in cp.deleted:
            base = _entry_base(h.slot, p, name, key)
            out += [(_part_key(base, i), None) for i in range(self.parts.pop(base, 1))]
        if cp.life is not None:
            out += self._parts(_life_base(h.slot, p), LIFE, base_hdr, zlib.compress(cp.life, 1))
        out.append((head_key(p), h.encode()))
        return out


@dataclass
class LoadedState:
    """The state of one partition as read back: what to restore, and what was refused."""

    partition: int
    head: Head | None = None
    entries: dict[Key, bytes] = field(default_factory=dict)
    ticking: list[Key] = field(default_factory=list)
    life: bytes | None = None
    parts: dict[bytes, int] = field(default_factory=dict)
    max_seq: int = -1
    records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class StateDecoder:
    """Reads one state partition's records in log order and assembles the latest valid state."""

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._latest: dict[bytes, tuple[bytes, dict[str, Any], bytes]] = {}
        self.rejected: Counter[str] = Counter()
        self.records = 0
        self.max_seq = -1

    def add(self, key: bytes | None, value: bytes | None) -> str | None:
        """Take one record; return the reason when it is refused (it then changes nothing)."""
        self.records += 1
        if key is None:
            return self._reject("state record without a key")
        if value is None:  # a tombstone: the key's latest value is gone
            self._latest.pop(key, None)
            return None
        try:
            kind, header, payload = unframe(value)
            expect = self._expected_key(kind, header)
        except StateRecordError as exc:
            return self._reject(exc.reason)
        if expect != key:
            return self._reject("state record key does not match its header")
        seq = header.get("seq")
        if isinstance(seq, int) and seq > self.max_seq:
            self.max_seq = seq
        self._latest[key] = (kind, header, payload)
        return None

    def _reject(self, reason: str) -> str:
        self.rejected[reason] += 1
        return reason

    def _expected_key(self, kind: bytes, h: dict[str, Any]) -> bytes:
        try:
            p = int(h["p"])
            if p != self.partition:
                raise StateRecordError(f"state record of partition {p} found on partition {self.partition}")
            if kind == HEAD:
                return head_key(p)
            slot, part = str(h["slot"]), int(h["part"])
            if not isinstance(h["seq"], int) or not isinstance(h["crc"], int) or int(h["parts"]) <= part:
                raise StateRecordError("state record header is malformed")
            if kind == ENTRY:
                return _part_key(_entry_base(slot, p, str(h["name"]), str(h["key"])), part)
            return _part_key(_life_base(slot, p), part)
        except StateRecordError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise StateRecordError(f"state record header is malformed: {exc.__class__.__name__}") from None

    def result(self) -> LoadedState:
        out = LoadedState(self.partition, max_seq=self.max_seq, records=self.records, rejected=self.rejected)
        head_rec = self._latest.get(head_key(self.partition))
        head: Head | None = None
        if head_rec is not None:
            try:
                head = Head.of(head_rec[1])
            except StateRecordError as exc:
                self.rejected[exc.reason] += 1
        out.head = head
        slot = head.slot if head is not None else INCREMENTAL_SLOT
        groups: dict[tuple[bytes, str, str], dict[int, tuple[dict[str, Any], bytes]]] = {}
        for kind, h, payload in self._latest.values():
            if kind == HEAD or h["slot"] != slot:
                continue
            if head is not None and head.full and h["seq"] != head.seq:
                continue  # the full slot of an older round: a key that has gone since
            ident = (kind, str(h.get("name", "")), str(h.get("key", "")))
            groups.setdefault(ident, {})[int(h["part"])] = (h, payload)
        for (kind, name, dkey), parts in groups.items():
            first = parts.get(0)
            n = int(first[0]["parts"]) if first else -1
            if first is None or set(parts) != set(range(n)) or len({p[0]["seq"] for p in parts.values()}) != 1:
                self.rejected["incomplete state entry (parts missing or of different checkpoints)"] += 1
                continue
            payload = b"".join(parts[i][1] for i in range(n))
            if zlib.crc32(payload) != first[0]["crc"]:
                self.rejected["state entry checksum mismatch"] += 1
                continue
            try:
                data = zlib.decompress(payload)
            except zlib.error:
                self.rejected["state entry does not decompress"] += 1
                continue
            base = _life_base(slot, self.partition) if kind == LIFE else _entry_base(slot, self.partition, name, dkey)
            out.parts[base] = n
            if kind == LIFE:
                if head is None or head.full or first[0]["seq"] == head.life_seq:
                    out.life = data
                else:
                    self.rejected["lifecycle of another checkpoint than the head names"] += 1
            else:
                out.entries[(name, dkey)] = data
                if first[0].get("tick"):
                    out.ticking.append((name, dkey))
        return out


class StateReader:
    """Reads state partitions back from Kafka (``read_committed``) up to their end."""

    def __init__(self, topic: str, consumer_kwargs: dict[str, Any], settle_s: float = 0.0,
                 timeout_s: float = 300.0) -> None:
        self.topic = topic
        self._kwargs = consumer_kwargs
        self.settle_s = settle_s  # extra quiet time after the reported end (brokers that under-report it)
        self.timeout_s = timeout_s

    async def load(self, partitions: list[int]) -> dict[int, LoadedState]:
        if not partitions:
            return {}
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(**self._kwargs, enable_auto_commit=False, group_id=None,
                                    isolation_level="read_committed", auto_offset_reset="earliest",
                                    fetch_max_bytes=64 << 20, max_partition_fetch_bytes=16 << 20)
        await consumer.start()
        try:
            tps = {p: TopicPartition(self.topic, p) for p in partitions}
            consumer.assign(list(tps.values()))
            await consumer.seek_to_beginning(*tps.values())
            ends = await consumer.end_offsets(list(tps.values()))
            decoders = {p: StateDecoder(p) for p in partitions}
            todo = {tp for tp in tps.values() if ends[tp] > 0}
            deadline = time.monotonic() + self.timeout_s
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=200, max_records=50_000)
                for tp, records in batch.items():
                    dec = decoders[tp.partition]
                    for r in records:
                        dec.add(r.key, r.value)
                if batch:
                    quiet_since = time.monotonic()
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
                if not todo and time.monotonic() - quiet_since >= self.settle_s:
                    break
            else:
                raise ExternalError(f"could not read the state of partitions {sorted(partitions)} from "
                                    f"{self.topic} within {self.timeout_s:.0f}s")
            return {p: d.result() for p, d in decoders.items()}
        finally:
            await asyncio.shield(consumer.stop())


class MemoryStateStore:
    """State records kept in a dict per partition (unit tests): the same encoding and decoding."""

    def __init__(self) -> None:
        self.logs: dict[int, list[Record]] = {}

    def write(self, partition: int, records: list[Record]) -> None:
        self.logs.setdefault(partition, []).extend(records)

    async def load(self, partitions: list[int]) -> dict[int, LoadedState]:
        out = {}
        for p in partitions:
            dec = StateDecoder(p)
            for k, v in self.logs.get(p, []):
                dec.add(k, v)
            out[p] = dec.result()
        return out
