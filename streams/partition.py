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
exact: everything below ``next_offset[topic]`` has been processed or dead-lettered. What the
Engine refuses as bad input (money above ``limits.max_event_usd``, a quantity above
``limits.max_quantity``, an event dated far ahead, an event a detector raised on) is
dead-lettered too, with the Engine's reason and the record's topic and offset, as replay
reports its line.

Positions are explicit: a task starts with the offset of every topic it will read from (the
checkpoint's, the committed one, or the partition's beginning), and :meth:`PartitionTask.add`
drops records below what it has already received (a fetch that raced a seek) instead of
trusting whichever record comes first. Offsets above the expected one are legal in Kafka
(transaction markers, compaction, retention) and are counted as ``gaps``.

The alignment has a bound (``max_lead_s``): a record more than ``max_lead_s`` of event time
ahead of the newest event of a caught-up topic waits up to ``hold_s`` of wall time for that
topic to deliver what its producer sent at the same time (a producer stalled by a broker
failover, a collector flushing its spool), or until the whole partition has gone quiet (the end
of a backlog: nothing more is coming). See :meth:`PartitionTask.safe_time`.

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
from spendwatch.contract import kafka_key
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


# FIFO item: (ts, offset, event or None, DeadLetter or None, topic)
_Item = tuple[float, int, "dict[str, Any] | None", "DeadLetter | None", str]


class PartitionTask:
    """Engine + per-topic FIFOs + covered offsets for one partition number."""

    def __init__(self, partition: int, topics: list[str], engine: Engine,
                 positions: dict[str, int] | None = None, max_lead_s: float = _INF, hold_s: float = 2.0,
                 audit: bool = False) -> None:
        self.partition = partition
        self.topics = list(topics)
        self.engine = engine
        self.queues: dict[str, deque[_Item]] = {t: deque() for t in topics}
        self.frontier: dict[str, float] = dict.fromkeys(topics, -_INF)  # newest ts received per topic
        self.next_offset: dict[str, int] = {}  # everything below was processed (what a snapshot covers)
        self.received_upto: dict[str, int] = {}  # offset after the last record received per topic
        self.caught_up: dict[str, bool] = dict.fromkeys(topics, False)
        self.max_lead_s = max_lead_s
        self.hold_s = hold_s
        self.held_since: float | None = None  # wall time (monotonic) records began waiting on the lead bound
        self._held_at = _INF  # the lead bound they are waiting on
        self._released_at = _INF  # a lead bound that waited its hold_s: its stretch is not held again
        self.events_in: dict[str, int] = dict.fromkeys(topics, 0)
        self.dirty = False  # processed something since the last snapshot
        self.errors = 0  # events a detector raised on (dead-lettered, processing goes on)
        self.stale = 0  # records dropped because they were below the expected offset (already received)
        self.gaps = 0  # times a record came above the expected offset (markers, compaction, retention)
        self.drained = 0  # records (good and bad) the last drain fed
        self.audit: list[tuple[str, int, int, int]] | None = [] if audit else None  # (topic, first, last, n)
        for t, off in (positions or {}).items():
            self.start_at(t, off)

    # ---------------------------------------------------------------- feeding
    def start_at(self, topic: str, offset: int) -> None:
        """The consumer is positioned at ``offset`` for ``topic`` (after restore or a fresh start)."""
        self.next_offset[topic] = offset
        self.received_upto[topic] = offset

    def add(self, topic: str, records: list[Any]) -> int:
        """Queue fetched records (aiokafka ConsumerRecords) of one topic; return how many were bad.

        Records below the offset already received are dropped (counted in ``stale``); a topic
        without a start position takes the first record's offset (unit tests; the worker always
        gives positions)."""
        expected = self.received_upto.get(topic)
        if expected is None:
            if not records:
                return 0
            self.start_at(topic, records[0].offset)
            expected = records[0].offset
        if records and records[0].offset < expected:
            keep = [r for r in records if r.offset >= expected]
            self.stale += len(records) - len(keep)
            records = keep
        if not records:
            return 0
        if records[0].offset > expected:
            self.gaps += 1
        q = self.queues[topic]
        fr = self.frontier[topic]
        bad = 0
        append = q.append
        for r in records:
            ev = decode_or_reject(r.value)
            if isinstance(ev, BadEvent):
                bad += 1
                append((fr, r.offset, None, DeadLetter(topic, self.partition, r.offset, r.key, r.value, ev.reason),
                        topic))
                continue
            ts = ev["ts"]
            if ts > fr:
                fr = ts
            append((ts, r.offset, ev, None, topic))
        self.frontier[topic] = fr
        self.received_upto[topic] = records[-1].offset + 1
        self.events_in[topic] += len(records) - bad
        return bad

    @property
    def buffered(self) -> int:
        return sum(len(q) for q in self.queues.values())

    def safe_time(self, now: float | None = None, quiet: bool = False) -> float:
        """Event time up to which no topic of this partition can still deliver something earlier.

        A topic that has not delivered all it has bounds it by its newest event. A caught-up topic
        that has delivered something bounds it by its newest event + ``max_lead_s``, but for at
        most ``hold_s`` of wall time (``now``, monotonic) per stretch of held-back records: the
        time its producer gets to deliver what belongs next to them; ``quiet`` (no topic of the
        partition delivered anything lately) releases them at once. Without ``now`` the lead
        bound is not applied."""
        strict = lead = _INF
        for t in self.topics:
            fr = self.frontier[t]
            if not self.caught_up[t]:
                if fr < strict:
                    strict = fr
            elif fr > -_INF and fr + self.max_lead_s < lead:
                lead = fr + self.max_lead_s
        if now is None or lead >= strict or not self._held_by_lead(lead, strict):
            self.held_since = None
            return strict
        if lead == self._released_at:
            # this stretch waited its hold_s already and the slower topic has not moved since: what comes
            # after is not held again (else a live GPU stream beside a quiet billing topic went out in
            # bursts, one every hold_s, for as long as billing stayed quiet)
            return strict
        if self.held_since is None or lead != self._held_at:  # a new stretch: the slower topic moved on
            self.held_since, self._held_at = now, lead
        if quiet or now - self.held_since >= self.hold_s:
            self.held_since = None
            self._released_at = lead
            return strict  # waited long enough: the slower topic has nothing more for this stretch
        return lead

    def _held_by_lead(self, lead: float, strict: float) -> bool:
        """Whether the lead bound holds something back now (a queued topic's newest event is past it;
        cheap, and a false positive only delays by ``hold_s``)."""
        return any(q and lead < self.frontier[t] for t, q in self.queues.items())

    # ---------------------------------------------------------------- running
    def drain(self, force: bool = False, now: float | None = None,
              quiet: bool = False) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        """Feed the Engine every queued record that is safe in event time (all of them with
        ``force``); return the anomaly events and the dead letters, in processing order."""
        safe = _INF if force else self.safe_time(now, quiet)
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
                if self.audit is not None:
                    self.audit.append((t, run[0][1], run[-1][1], len(run)))
        self.drained = sum(len(r) for r in runs)
        if not runs:
            return [], []
        self.dirty = True
        items = runs[0] if len(runs) == 1 else heapq.merge(*runs, key=_by_ts)
        out: list[dict[str, Any]] = []
        dead: list[DeadLetter] = []
        engine = self.engine
        process = engine.process
        for _ts, off, ev, dl, topic in items:
            if ev is not None:
                try:
                    found = process(ev, (topic, off))
                except Exception as exc:  # noqa: BLE001 - a record that crashes a detector is poison too
                    self.errors += 1
                    if self.errors <= 5:
                        log.exception("detector failed on an event of partition %d; dead-lettering it", self.partition)
                    dead.append(DeadLetter(topic, self.partition, off, None, encode(ev),
                                           f"internal error in detectors: {exc.__class__.__name__}: {exc}"[:500]))
                    continue
                if engine.rejected:  # money beyond the limits, dated far ahead (maybe an earlier, held event)
                    dead.extend(self._refused())
                if found:
                    out.extend(found)
            else:
                dead.append(dl)  # type: ignore[arg-type]
        return out, dead

    def _refused(self) -> list[DeadLetter]:
        """Dead letters for the events the Engine refused as bad input (as replay reports their lines).
        The value is the event as validated (the record's own bytes are not kept once decoded)."""
        return [DeadLetter(r.ref[0], self.partition, r.ref[1], kafka_key(r.event).encode(), encode(r.event), r.reason)
                for r in self.engine.take_rejected()]
