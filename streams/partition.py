"""One partition number's share of the work: an Engine fed from every input topic in event time.

All input topics are keyed so that one detector key lives in the same partition number on
every topic, so the worker keeps one :class:`PartitionTask` (one Engine) per partition number.
Its topics arrive at different speeds (a backlog of 21 days of billing next to 12 hours of GPU
samples), and the Engine's watermark is shared by them, so events are not fed in arrival
order but *aligned in event time*: each topic's records wait in a FIFO until no other topic of
this partition can still deliver an earlier event (it is caught up, or its newest event is
later). Within one topic partition the FIFO order is kept, so per-key order is arrival order,
exactly as in ``spendwatch replay``. Records are decoded as replay decodes lines
(:func:`streams.intake.decode_or_reject`).

Bad records wait in the FIFO too, at their position, so offsets covered by a snapshot are
exact: everything below ``next_offset[topic]`` has been processed or dead-lettered.

No Kafka here: the consumer (``streams.consumer``) feeds records and reads results, which
keeps this unit testable without a broker.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from detectors.engine import Engine
from spendwatch.errors import BadEvent
from spendwatch.events import encode
from streams.intake import decode_or_reject

log = logging.getLogger("spendwatch.worker")
_INF = float("inf")
_by_ts = itemgetter(0)


@dataclass(slots=True)
class DeadLetter:
    """A record that is not a contract event, with where it came from."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


# FIFO item: (ts, offset, event or None, DeadLetter or None)
_Item = tuple[float, int, "dict[str, Any] | None", "DeadLetter | None"]


class PartitionTask:
    """Engine + per-topic FIFOs + covered offsets for one partition number."""

    def __init__(self, partition: int, topics: list[str], engine: Engine) -> None:
        self.partition = partition
        self.topics = list(topics)
        self.engine = engine
        self.queues: dict[str, deque[_Item]] = {t: deque() for t in topics}
        self.frontier: dict[str, float] = dict.fromkeys(topics, -_INF)  # newest ts received per topic
        self.next_offset: dict[str, int] = {}  # everything below was processed (what a snapshot covers)
        self.received_upto: dict[str, int] = {}  # offset after the last record received per topic
        self.caught_up: dict[str, bool] = dict.fromkeys(topics, False)
        self.events_in: dict[str, int] = dict.fromkeys(topics, 0)
        self.dirty = False  # processed something since the last snapshot
        self.errors = 0  # events a detector raised on (dead-lettered, processing goes on)

    # ---------------------------------------------------------------- feeding
    def start_at(self, topic: str, offset: int) -> None:
        """The consumer is positioned at ``offset`` for ``topic`` (after restore or a fresh start)."""
        self.next_offset[topic] = offset
        self.received_upto[topic] = offset

    def add(self, topic: str, records: list[Any]) -> int:
        """Queue fetched records (aiokafka ConsumerRecords) of one topic; return how many were bad."""
        q = self.queues[topic]
        fr = self.frontier[topic]
        bad = 0
        append = q.append
        for r in records:
            ev = decode_or_reject(r.value)
            if isinstance(ev, BadEvent):
                bad += 1
                append((fr, r.offset, None, DeadLetter(topic, self.partition, r.offset, r.key, r.value, ev.reason)))
                continue
            ts = ev["ts"]
            if ts > fr:
                fr = ts
            append((ts, r.offset, ev, None))
        self.frontier[topic] = fr
        if records:
            self.next_offset.setdefault(topic, records[0].offset)
            self.received_upto[topic] = records[-1].offset + 1
        self.events_in[topic] += len(records) - bad
        return bad

    @property
    def buffered(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def safe_time(self) -> float:
        """Event time up to which no topic of this partition can still deliver something earlier."""
        safe = _INF
        for t in self.topics:
            if not self.caught_up[t] and self.frontier[t] < safe:
                safe = self.frontier[t]
        return safe

    # ---------------------------------------------------------------- running
    def drain(self, force: bool = False) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        """Feed the Engine every queued record that is safe in event time (all of them with
        ``force``); return the anomaly events and the dead letters, in processing order."""
        safe = _INF if force else self.safe_time()
        runs: list[list[_Item]] = []
        for t, q in self.queues.items():
            if not q:
                continue
            run: list[_Item] = []
            pop, push = q.popleft, run.append
            while q and q[0][0] <= safe:
                push(pop())
            if run:
                runs.append(run)
                self.next_offset[t] = run[-1][1] + 1
        if not runs:
            return [], []
        self.dirty = True
        items = runs[0] if len(runs) == 1 else heapq.merge(*runs, key=_by_ts)
        out: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        process = self.engine.process
        for _ts, off, ev, dl in items:
            if ev is not None:
                try:
                    found = process(ev)
                except Exception as exc:  # noqa: BLE001 - a record that crashes a detector is poison too
                    self.errors += 1
                    if self.errors <= 5:
                        log.exception("detector failed on an event of partition %d; dead-lettering it", self.partition)
                    dead.append(DeadLetter(_topic_of(ev), self.partition, off, None, encode(ev),
                                           f"internal error in detectors: {exc.__class__.__name__}: {exc}"[:500]))
                    continue
                if found:
                    out.extend(found)
            else:
                dead.append(dl)  # type: ignore[arg-type]
        return out, dead


def _topic_of(ev: dict[str, Any]) -> str:
    return str(ev.get("type", "?"))
