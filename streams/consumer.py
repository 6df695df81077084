"""The worker's hot path: a batch consumer of the four input topics that it owns.

faust's per-message Stream path costs ~55-75 us an event here (shared/BROKER.md); reading with
aiokafka ``getmany`` and decoding in batches costs ~2 us. So :class:`BatchWorker` owns an
aiokafka consumer in its own consumer group and runs inside the faust app (see
``streams.app``), which keeps lifecycle, signals, logging and ``/metrics``.

Exactly once (``streams.outputs``): each owned partition number has a transactional producer;
a partition's anomaly events and dead letters, its changed state records (``streams.state``)
and the input offsets they cover are committed in one transaction at every checkpoint. A
checkpoint that fails (fenced by a new owner, broker gone, timeout) aborts, and the partition
is rebuilt from its last committed state: in-memory state never runs ahead of what is durable.
On a broker without transactions the worker falls back to at-least-once with stable ids.

Nothing skipped on assignment: the rebalance listener runs concurrently with ``getmany`` in
aiokafka, so (1) listener and batch processing take one lock, (2) newly assigned partitions
are paused until their state is loaded and every one of their topic partitions has been
*seeked* explicitly (checkpoint offset, else the group's committed offset, else the
partition's beginning), and (3) a batch fetched while a rebalance ran is discarded and its
partitions re-seeked to what was already received (an assignment epoch), because its records
may predate the seeks. Records below the expected offset are dropped, never taken as a start.

Partition assignment uses Kafka's range assignor: with equal partition counts on all input
topics it gives a member the same partition numbers of every topic (co-partitioning), and
the worker checks that it did.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener, TopicPartition

from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.contract import INSIGHT, anomaly_key
from spendwatch.errors import ConfigError
from spendwatch.events import encode
from spendwatch.kafka import KafkaConfig
from streams import engine_state as es
from streams import faults
from streams.metrics import WorkerMetrics
from streams.outputs import (
    AtLeastOnceOutputs,
    CheckpointFailed,
    Outputs,
    TransactionalOutputs,
    supports_transactions,
)
from streams.partition import DeadLetter, PartitionTask
from streams.settings import WorkerSettings
from streams.state import FULL_SLOTS, INCREMENTAL_SLOT, Checkpoint, Head, LoadedState, StateEncoder, StateReader
from streams.topics import WorkerTopics

log = logging.getLogger("spendwatch.worker")
_BAD_LOG_PER_CHECKPOINT = 20
_REJECT_LOG_MAX = 20
_GC_GEN0 = 50_000
_QUIET_S = 0.5  # a partition that received nothing this long releases what the lead bound holds (end of input)
_THREAD_KEYS = 2_000  # checkpoints of more changed keys than this serialise in a thread (heartbeats go on)
MAX_DEADLETTER_RAW = 512 * 1024
MAX_DEADLETTER_BYTES = 900 * 1024  # under the 1 MiB default message.max.bytes of brokers


def deadletter_value(dl: DeadLetter) -> bytes:
    """The dead-letter record: the raw value (text, or base64 when not UTF-8), the reason, and where."""
    doc: dict[str, Any] = {"type": "deadletter", "reason": dl.reason, "topic": dl.topic, "partition": dl.partition,
                           "offset": dl.offset, "key": None if dl.key is None else dl.key.decode("utf-8", "replace")}
    if dl.value is None:
        doc["raw"] = None
    elif len(dl.value) > MAX_DEADLETTER_RAW:  # keep the dead letter under the broker's message size
        doc["raw"] = dl.value[:MAX_DEADLETTER_RAW].decode("utf-8", "replace")
        doc["raw_truncated_from"] = len(dl.value)
    else:
        try:
            doc["raw"] = dl.value.decode("utf-8")
        except UnicodeDecodeError:
            doc["raw"] = None
            doc["raw_b64"] = base64.b64encode(dl.value).decode()
    out = orjson.dumps(doc)
    if len(out) > MAX_DEADLETTER_BYTES:  # escapes (control characters) can multiply the size: keep bytes instead
        raw = dl.value or b""
        doc["raw"] = None
        doc["raw_b64"] = base64.b64encode(raw[:MAX_DEADLETTER_RAW]).decode()
        doc["raw_truncated_from"] = len(raw)
        out = orjson.dumps(doc)
    return out


@dataclass
class _Owned:
    """A partition number this worker owns: its task and how its state is written."""

    task: PartitionTask
    encoder: StateEncoder
    seq: int  # sequence number of the next checkpoint
    slot: str | None  # slot the last head names (full checkpoints alternate)
    life_digest: bytes
    life_seq: int
    checkpointed: bool  # has a checkpoint (restored or written) that covers its state
    set_aside: dict[str, int] = field(default_factory=dict)  # Engine counters already added to /metrics


def _tp(topic: str, partition: int) -> TopicPartition:
    return TopicPartition(topic, partition)


def _digest(data: bytes | None) -> bytes:
    return hashlib.blake2b(data or b"", digest_size=16).digest()


class BatchWorker:
    """Consume, align in event time, detect, publish, checkpoint. One instance per process."""

    def __init__(self, settings: Settings, worker: WorkerSettings, kafka: KafkaConfig, topics: WorkerTopics,
                 metrics: WorkerMetrics | None = None, exit_when_idle_s: float | None = None,
                 on_anomaly: Callable[[dict[str, Any]], Any] | None = None,
                 on_exit: Callable[[], Awaitable[None]] | None = None) -> None:
        self.settings, self.worker, self.kafka, self.topics = settings, worker, kafka, topics
        self.metrics = metrics or WorkerMetrics()
        self.exit_when_idle_s = exit_when_idle_s
        self.on_anomaly = on_anomaly
        self.on_exit = on_exit
        self.owned: dict[int, _Owned] = {}
        self._parked: dict[int, _Owned] = {}  # revoked in this rebalance, may come straight back
        self._broken: dict[int, float] = {}  # partitions to rebuild after a failed checkpoint: retry time
        self._fenced: set[int] = set()  # another worker took these over; ours only until the next rebalance
        self._snapshot_at: dict[int, float] = {}
        self._paused: set[Any] = set()
        self._last_data: dict[Any, float] = {}
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._epoch = 0
        self._consumer: Any = None
        self.outputs: Outputs | None = None
        self.reader: StateReader | None = None
        self.exactly_once = False
        self.events = 0
        self.bad = 0
        self.anomalies = 0
        self.failed: BaseException | None = None
        self._bad_logged = 0
        self._bad_unlogged = 0
        self._rejects_logged = 0
        self._assigned_at = 0.0  # monotonic time of the last assignment
        self.first_record_at = 0.0  # wall clock of the first record and of the last processed batch (bench)
        self.last_processed_at = 0.0

    @property
    def tasks(self) -> dict[int, PartitionTask]:
        return {p: o.task for p, o in self.owned.items()}

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        w = self.worker
        await self._choose_outputs()
        self._consumer = AIOKafkaConsumer(
            **self.kafka.aiokafka_kwargs(), group_id=w.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=int(w.session_timeout_s * 1000),
            heartbeat_interval_ms=int(w.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(max(w.session_timeout_s * 3, 30) * 1000),  # time to checkpoint on revoke
            max_poll_interval_ms=300_000, fetch_max_bytes=64 << 20, max_partition_fetch_bytes=8 << 20,
            check_crcs=False)
        self._consumer.subscribe(list(self.topics.inputs), listener=_Listener(self))
        await self._consumer.start()
        # Each batch allocates ~10 objects an event, all short-lived except detector state. With
        # CPython's default thresholds the collector scans the long-lived heap again and again
        # (measured: ~25% of the worker's CPU); freeze what exists now and collect young objects
        # less often.
        gc.freeze()
        gc.set_threshold(_GC_GEN0, 50, 1000)
        log.info("worker started", extra={"group": w.group_id, "topics": list(self.topics.inputs),
                                          "guarantee": "exactly_once" if self.exactly_once else "at_least_once"})

    async def _choose_outputs(self) -> None:
        w = self.worker
        want = w.guarantee
        if want not in ("auto", "exactly_once", "at_least_once"):
            raise ConfigError(f"worker.guarantee: {want!r} is not one of auto, exactly_once, at_least_once")
        ok, why = (False, "at_least_once asked for") if want == "at_least_once" else \
            await supports_transactions(self.kafka, f"{self.topics.state}.probe")
        if ok:
            self.exactly_once = True
            self.outputs = TransactionalOutputs(self.kafka, self.topics.state, w.group_id,
                                                int(w.transaction_timeout_s * 1000))
            log.info("exactly once: outputs, state and offsets committed in one Kafka transaction per partition")
        else:
            if want == "exactly_once":
                raise ConfigError(f"worker.guarantee is exactly_once but {self.kafka.bootstrap_servers} gives no "
                                  f"transactional producer ({why}); check the broker version and the "
                                  f"TransactionalId ACLs, or set guarantee auto/at_least_once")
            self.outputs = AtLeastOnceOutputs(self.kafka, self._commit_offsets)
            if want == "auto":
                log.warning("broker has no transactions (%s): at-least-once with stable anomaly ids "
                            "(a crash re-emits the events since the last checkpoint)", why[:200])
        self.reader = StateReader(self.topics.state, self.kafka.aiokafka_kwargs(),
                                  settle_s=0.0 if self.exactly_once else 1.0)

    async def _commit_offsets(self, offsets: dict[Any, int]) -> None:
        await self._consumer.commit(offsets)

    def stop(self) -> None:
        """Ask the loop to finish: it checkpoints, commits and leaves the group."""
        self._stopping.set()

    async def run(self) -> None:
        try:
            await self._loop()
        except Exception as exc:  # noqa: BLE001 - reported, then the process stops with an error
            log.exception("worker loop failed")
            self.failed = exc
        finally:
            try:
                async with self._lock:
                    await self._checkpoint_all(force=True)
            except Exception:  # noqa: BLE001 - shutting down: report, then still leave the group
                log.exception("final checkpoint failed")
            await self._consumer.stop()
            if self.outputs is not None:
                await self.outputs.stop()
            log.info("worker stopped", extra={"events": self.events, "bad": self.bad, "anomalies": self.anomalies,
                                              "first_record_at": self.first_record_at,
                                              "last_processed_at": self.last_processed_at})
            if self.on_exit is not None and not self._stopping.is_set():
                await self.on_exit()  # ended by itself (idle or failure): stop the hosting process

    # ----------------------------------------------------------------- hot path
    async def _loop(self) -> None:
        c = self._consumer
        w = self.worker
        m = self.metrics
        last_checkpoint = time.monotonic()
        last_input = time.monotonic()
        started = False
        while not self._stopping.is_set():
            epoch = self._epoch
            batch = await c.getmany(timeout_ms=200, max_records=w.batch_max_records)
            async with self._lock:
                now = time.monotonic()
                if epoch != self._epoch:  # a rebalance or rebuild ran meanwhile: records may predate its seeks
                    if batch:
                        m.discarded.inc(sum(len(r) for r in batch.values()))
                    self._reseek_owned()
                    batch = {}
                n = 0
                for tp, records in batch.items():
                    own = self.owned.get(tp.partition)
                    if own is None or not records:
                        continue  # not ours (any more): its owner reads it from its own checkpoint
                    task = own.task
                    n += len(records)
                    bad = task.add(tp.topic, records)
                    self._last_data[tp] = now
                    if len(records) > bad:
                        m.events_in.labels(tp.topic).inc(len(records) - bad)
                if n:
                    m.batch_size.observe(n)
                    last_input = now
                    if not started:
                        self.first_record_at = time.time()
                    started = True
                self._update_caught_up(now)
                for p, own in list(self.owned.items()):
                    quiet = all(now - self._last_data.get(_tp(t, p), now) >= _QUIET_S for t in own.task.topics)
                    out, dead = own.task.drain(now=now, quiet=quiet)
                    self.events += own.task.drained - len(dead)  # processed, not only received
                    if out or dead or own.task.audit:
                        try:
                            await self._publish(p, own, out, dead)
                        except CheckpointFailed as exc:
                            await self._rebuild(exc)
                if n:
                    self.last_processed_at = time.time()
                self._flow_control()
                if now - last_checkpoint >= w.checkpoint_interval_s:
                    await self._checkpoint_all()
                    last_checkpoint = time.monotonic()
                if self._broken:
                    await self._retry_broken()
                self._gauges()
            # idle = nothing arrived since the later of the last record and the last assignment
            # (a worker restored at the end of its input has nothing to read and must still exit)
            # and, before the first record, a little longer: the first fetch may lag the assignment
            idle_s = self.exit_when_idle_s
            if idle_s is not None and self.owned and not self._broken:
                idle_after = idle_s if started else max(idle_s, 10.0)
                if (now - max(last_input, self._assigned_at) >= idle_after
                        and all(o.task.buffered == 0 for o in self.owned.values())):
                    log.info("idle for %.1fs: stopping", idle_after)
                    break

    def _reseek_owned(self) -> None:
        """Point every owned topic partition back at what its task has received (after a discarded batch)."""
        c = self._consumer
        for p, own in self.owned.items():
            for topic, off in own.task.received_upto.items():
                try:
                    c.seek(_tp(topic, p), off)
                except Exception:  # noqa: BLE001 - not assigned any more: the listener handles it
                    log.debug("reseek of %s[%d] skipped", topic, p)

    def _update_caught_up(self, now: float) -> None:
        """A topic partition stops holding back event time once it has delivered all it has."""
        c = self._consumer
        idle = self.worker.idle_partition_s
        for own in self.owned.values():
            task = own.task
            for topic in task.topics:
                tp = _tp(topic, task.partition)
                hw = _end(c, tp)
                last = self._last_data.get(tp)
                if last is None:
                    self._last_data[tp] = last = now
                if hw is not None:  # the broker told us its end: caught up = everything up to it received
                    caught = task.received_upto.get(topic, 0) >= hw
                    if not caught:
                        pos = _position(c, tp)  # past transaction markers and compacted offsets
                        caught = pos is not None and pos >= hw and not task.queues[topic]
                else:  # no fetch answered yet: only a long silence since the assignment lets it go
                    caught = not task.queues[topic] and now - last >= idle
                task.caught_up[topic] = caught

    def _flow_control(self) -> None:
        """Pause topic partitions far ahead in event time while a slower one catches up."""
        c = self._consumer
        high = self.worker.max_buffered
        total = 0
        for own in self.owned.values():
            task = own.task
            for topic, q in task.queues.items():
                tp = _tp(topic, task.partition)
                total += len(q)
                if len(q) > high and tp not in self._paused:
                    c.pause(tp)
                    self._paused.add(tp)
                elif len(q) < high // 2 and tp in self._paused:
                    c.resume(tp)
                    self._paused.discard(tp)
        self.metrics.buffered.set(total)

    async def _publish(self, p: int, own: _Owned, anomalies: list[dict[str, Any]], dead: list[DeadLetter]) -> None:
        outputs = self.outputs
        assert outputs is not None
        for a in anomalies:
            # insights (structural waste, reported not paged) go to their own topic, never the anomaly stream
            topic = self.topics.insights if a["type"] == INSIGHT else self.topics.anomalies
            await outputs.send(p, topic, anomaly_key(a).encode(), encode(a))
            faults.maybe_kill("outputs")
            self.metrics.anomalies_out.labels(a["kind"], a["state"]).inc()
            if self.on_anomaly is not None:
                self.on_anomaly(a)
        self.anomalies += len(anomalies)
        for dl in dead:
            await outputs.send(p, self.topics.deadletter, dl.key, deadletter_value(dl))
            self.metrics.bad_events.labels(dl.topic, dl.reason.split(":", 1)[0][:60]).inc()
            if self._bad_logged < _BAD_LOG_PER_CHECKPOINT:  # a flood of bad input must not flood the log
                self._bad_logged += 1
                log.warning("bad input dead-lettered", extra={"topic": dl.topic, "partition": dl.partition,
                                                              "offset": dl.offset, "reason": dl.reason[:300]})
            else:
                self._bad_unlogged += 1
        self.bad += len(dead)
        audit = own.task.audit
        if audit and self.topics.audit:
            for topic, first, last, count in audit:
                await outputs.send(p, self.topics.audit, f"{topic}/{p}".encode(), orjson.dumps(
                    {"topic": topic, "partition": p, "first": first, "last": last, "count": count}))
        if audit is not None:
            audit.clear()

    def _gauges(self) -> None:
        wall, mono = time.time(), time.monotonic()
        set_aside = self.metrics.set_aside
        for p, own in self.owned.items():
            counted = own.set_aside
            for reason, n in own.task.engine.counters.items():  # what detectors set aside, by reason
                if n > counted.get(reason, 0):
                    set_aside.labels(reason).inc(n - counted.get(reason, 0))
                    counted[reason] = n
            wm = own.task.engine.watermark
            if wm != float("-inf"):
                self.metrics.event_time_lag.labels(str(p)).set(wall - wm)
            at = self._snapshot_at.get(p)
            if at is not None:
                self.metrics.snapshot_age.labels(str(p)).set(mono - at)

    # --------------------------------------------------------------- checkpoints
    async def _checkpoint_all(self, force: bool = False) -> None:
        if self._bad_unlogged:
            log.warning("%d more bad records dead-lettered (not logged one by one)", self._bad_unlogged)
        self._bad_logged = self._bad_unlogged = 0
        todo = [(p, o) for p, o in self.owned.items() if o.task.dirty or force or not o.checkpointed]
        now = time.monotonic()
        for p, o in self.owned.items():  # an unchanged Engine is still covered by its last checkpoint
            if o.checkpointed and not o.task.dirty:
                self._snapshot_at[p] = now
        if not todo:
            return
        results = await asyncio.gather(*(self._checkpoint(p, o) for p, o in todo), return_exceptions=True)
        for r in results:
            if isinstance(r, CheckpointFailed):
                await self._rebuild(r)
            elif isinstance(r, BaseException):
                raise r

    async def _checkpoint(self, p: int, own: _Owned) -> None:
        outputs = self.outputs
        assert outputs is not None
        started = time.perf_counter()
        n_keys = len(own.task.engine._instances) if not self.exactly_once else 0
        if n_keys > _THREAD_KEYS or len(getattr(own.task.engine._instances, "touched", ())) > _THREAD_KEYS:
            cp, records = await asyncio.to_thread(build_checkpoint, p, own, not self.exactly_once)
        else:
            cp, records = build_checkpoint(p, own, not self.exactly_once)
        offsets = {_tp(topic, p): off for topic, off in own.task.next_offset.items()}
        await outputs.commit(p, self.topics.state, records, offsets)
        own.seq = cp.head.seq + 1
        own.slot = cp.head.slot
        own.life_seq = cp.head.life_seq
        if cp.life is not None:
            own.life_digest = _digest(cp.life)
        own.checkpointed = True
        own.task.dirty = False
        self._snapshot_at[p] = time.monotonic()
        m = self.metrics
        m.snapshots.inc()
        m.state_records.inc(len(records))
        m.state_bytes.inc(sum(len(v) for _k, v in records if v is not None))
        m.checkpoint_seconds.observe(time.perf_counter() - started)

    async def _rebuild(self, exc: CheckpointFailed) -> None:
        """A partition's checkpoint failed: drop its in-memory state and rebuild it from the last committed one."""
        p = exc.partition
        own = self.owned.pop(p, None)
        self.metrics.checkpoint_failures.inc()
        if self.outputs is not None:
            await self.outputs.abort(p)
        self._epoch += 1
        self._pause_partition(p)
        if exc.fenced:
            log.warning("partition %d: fenced, another worker owns it now; dropping it", p)
            self._fenced.add(p)
            self.metrics.owned.labels(str(p)).set(0)
            if self.outputs is not None:
                await self.outputs.close(p)
            return
        log.warning("partition %d: %s; rebuilding it from its last checkpoint", p, exc)
        if own is not None:
            self._broken[p] = time.monotonic()

    async def _retry_broken(self) -> None:
        now = time.monotonic()
        due = [p for p, at in self._broken.items() if at <= now]
        if not due:
            return
        assigned = self._consumer.assignment()
        due = [p for p in due if any(tp.partition == p for tp in assigned)]
        for p in list(self._broken):
            if not any(tp.partition == p for tp in assigned):
                del self._broken[p]  # not ours any more
        if not due:
            return
        try:
            await self._open_partitions(due)
            for p in due:
                self._broken.pop(p, None)
                self.metrics.owned.labels(str(p)).set(1)
        except Exception as exc:  # noqa: BLE001 - broker still away: try again shortly
            log.warning("rebuilding partitions %s failed (%s: %s); retrying", due, exc.__class__.__name__, exc)
            for p in due:
                self._broken[p] = time.monotonic() + 2.0
        self._epoch += 1

    def _pause_partition(self, p: int) -> None:
        c = self._consumer
        for topic in self.topics.inputs:
            tp = _tp(topic, p)
            with contextlib.suppress(Exception):  # not assigned
                c.pause(tp)
            self._paused.discard(tp)

    def _scope(self, partition: int) -> str:
        """The keys an Engine of ``partition`` sees: all of them ("") when the inputs have one
        partition, else that partition's (insights that join keys across it say so)."""
        try:
            count = len(self._consumer.partitions_for_topic(self.topics.inputs[0]) or ())
        except Exception:  # noqa: BLE001 - no metadata: assume a share
            count = 0
        return "" if count == 1 else f"p{partition}"

    # ----------------------------------------------------------------- rebalance
    async def on_revoked(self, revoked: set[Any]) -> None:
        async with self._lock:
            self._epoch += 1
            numbers = {tp.partition for tp in revoked}
            log.info("partitions revoked", extra={"partitions": sorted(numbers)})
            mine = {p: o for p, o in self.owned.items() if p in numbers}
            results = await asyncio.gather(*(self._checkpoint(p, o) for p, o in mine.items()
                                             if o.task.dirty or not o.checkpointed), return_exceptions=True)
            failed = {r.partition for r in results if isinstance(r, CheckpointFailed)}
            for r in results:
                if isinstance(r, BaseException) and not isinstance(r, CheckpointFailed):
                    log.error("checkpoint on revoke failed: %s", r)
                    failed |= set(mine)
            for p, own in mine.items():
                del self.owned[p]
                if p in failed:  # the next owner replays from the previous checkpoint instead
                    if self.outputs is not None:
                        await self.outputs.abort(p)
                        await self.outputs.close(p)
                else:
                    self._parked[p] = own
            for p in list(self._broken):
                if p in numbers:
                    del self._broken[p]
            self._fenced -= numbers
            for tp in list(self._paused):
                if tp in revoked:
                    self._paused.discard(tp)
            for p in numbers:
                self.metrics.owned.labels(str(p)).set(0)
            self.metrics.assigned.set(len(self.owned))
            self._epoch += 1

    async def on_assigned(self, assigned: set[Any]) -> None:
        async with self._lock:
            self._epoch += 1
            c = self._consumer
            by_number: dict[int, set[str]] = {}
            for tp in assigned:
                by_number.setdefault(tp.partition, set()).add(tp.topic)
            split = 0
            for p, got in sorted(by_number.items()):
                missing = set(self.topics.inputs) - got
                if missing:
                    split += 1
                    log.error("partition %d of %s is assigned to another worker: detectors keyed across topics may "
                              "miss events; give the input topics equal partition counts", p, sorted(missing))
            for tp in assigned:  # nothing of a new assignment is read before its state is loaded and seeked
                c.pause(tp)
            parked, self._parked = self._parked, {}
            for p, own in parked.items():
                if p in by_number:  # ours a moment ago, checkpointed on revoke: state is current
                    task = own.task
                    positions = dict(task.next_offset)
                    own.task = self._task(p, task.engine, positions)
                    self.owned[p] = own
                    self._seek(p, positions)
                    log.info("partition assigned", extra={"partition": p, "restored": "kept",
                                                          "open_anomalies": len(task.engine.open_anomaly_ids),
                                                          "offsets": positions})
                elif self.outputs is not None:
                    await self.outputs.close(p)
            fresh = [p for p in sorted(by_number) if p not in self.owned]
            try:
                await self._open_partitions(fresh)
            except Exception as exc:  # noqa: BLE001 - broker trouble: retried from the loop
                log.warning("loading partitions %s failed (%s: %s); retrying", fresh, exc.__class__.__name__, exc)
                for p in fresh:
                    self._broken[p] = time.monotonic() + 1.0
            for p in sorted(self.owned):
                if p in by_number:
                    for topic in by_number[p]:
                        c.resume(_tp(topic, p))
                    self.metrics.owned.labels(str(p)).set(1)
            self.metrics.assigned.set(len(self.owned))
            self.metrics.split.set(split)
            self._assigned_at = time.monotonic()
            self._epoch += 1

    def _task(self, p: int, engine: Engine, positions: dict[str, int]) -> PartitionTask:
        w = self.worker
        return PartitionTask(p, list(self.topics.inputs), engine, positions, w.max_lead_s, w.lead_wait_s,
                             audit=bool(self.topics.audit))

    def _seek(self, p: int, positions: dict[str, int]) -> None:
        now = time.monotonic()
        for topic, off in positions.items():
            self._consumer.seek(_tp(topic, p), off)
            self._last_data[_tp(topic, p)] = now  # silence is counted from this assignment, not an older one

    async def _open_partitions(self, partitions: list[int]) -> None:
        """Fence the previous owner, load the last committed state, restore, seek every topic, resume."""
        if not partitions:
            return
        assert self.outputs is not None and self.reader is not None
        c = self._consumer
        await asyncio.gather(*(self.outputs.open(p) for p in partitions))
        loaded = await self.reader.load(partitions)
        tps = [_tp(t, p) for p in partitions for t in self.topics.inputs]
        need_start = []
        positions: dict[int, dict[str, int]] = {}
        for p in partitions:
            head = loaded[p].head
            positions[p] = dict(head.offsets) if head is not None else {}
        for tp in tps:
            if tp.topic not in positions[tp.partition]:
                off = await c.committed(tp)  # no checkpoint of this topic: the group's offset, else the beginning
                if off is not None and off >= 0:
                    positions[tp.partition][tp.topic] = off
                else:
                    need_start.append(tp)
        if need_start:
            for tp, off in (await c.beginning_offsets(need_start)).items():
                positions[tp.partition][tp.topic] = int(off)
        for p in partitions:
            ls = loaded[p]
            engine = self._restore(ls)
            task = self._task(p, engine, positions[p])
            head = ls.head
            self.owned[p] = owned_from(task, ls)
            self._seek(p, positions[p])
            for topic in self.topics.inputs:
                c.resume(_tp(topic, p))
            if head is not None:
                self.metrics.restored.inc()
                self._snapshot_at[p] = time.monotonic() - max(0.0, time.time() - head.created_at)
            log.info("partition assigned", extra={"partition": p, "restored": head is not None,
                                                  "keys": len(ls.entries), "state_records": ls.records,
                                                  "open_anomalies": len(engine.open_anomaly_ids),
                                                  "offsets": positions[p]})

    def _restore(self, ls: LoadedState) -> Engine:
        """An Engine from loaded state; refused records and keys are logged, counted and start cold."""
        engine, rejected = restore_engine(self.settings, ls, self._scope(ls.partition))
        for reason, count in rejected.items():
            self.metrics.state_rejected.labels(reason.split(":", 1)[0][:80]).inc(count)
            if self._rejects_logged < _REJECT_LOG_MAX:
                self._rejects_logged += 1
                log.error("state record refused: %s", reason[:300],
                          extra={"partition": ls.partition, "count": count, "topic": self.topics.state})
        return engine


def build_checkpoint(p: int, own: _Owned, full: bool) -> tuple[Checkpoint, list[Any]]:
    """A partition's checkpoint and its records: the keys touched since the last one (all keys when
    ``full``), the lifecycle if it changed, the head. CPU work: the worker runs it in a thread
    when many keys changed."""
    task, engine = own.task, own.task.engine
    touched = es.take_touched(engine)
    keys: set[es.Key] | list[es.Key] = es.all_keys(engine) if full else touched
    ticking = es.ticking_keys(engine)
    blobs = es.snapshot_keys(engine, keys)
    deleted = [] if full else [k for k in touched if k not in blobs]
    life = es.lifecycle_state(engine)
    write_life = full or _digest(life) != own.life_digest
    if full:
        slot = FULL_SLOTS[1] if own.slot == FULL_SLOTS[0] else FULL_SLOTS[0]  # never the slot the head names
    else:
        slot = INCREMENTAL_SLOT
    head = Head(p, own.seq, dict(task.next_offset), es.clock_state(engine), slot, full,
                own.seq if write_life else own.life_seq)
    cp = Checkpoint(head, {k: (b, k in ticking) for k, b in blobs.items()}, deleted, life if write_life else None)
    return cp, own.encoder.records(cp)


def restore_engine(settings: Settings, ls: LoadedState, scope: str = "") -> tuple[Engine, dict[str, int]]:
    """An Engine restored from loaded state, and the reasons (with counts) for what was refused;
    ``scope``: the keys it sees (see :class:`~detectors.base.DetectorContext`)."""
    engine = es.track(Engine(settings, scope=scope))
    rejected = dict(ls.rejected)
    if ls.head is not None:
        es.restore_clock(engine, ls.head.clock)
    refused = es.restore_keys(engine, ls.entries, ls.ticking)
    for reason in refused.values():
        rejected[reason] = rejected.get(reason, 0) + 1
    if ls.life is not None:
        try:
            es.restore_lifecycle(engine, ls.life)
        except es.StateRejected as exc:
            rejected[exc.reason] = rejected.get(exc.reason, 0) + 1
    es.take_touched(engine)
    return engine, rejected


def owned_from(task: PartitionTask, ls: LoadedState) -> _Owned:
    """The bookkeeping of a partition restored from ``ls`` (or started fresh when it has no head)."""
    head = ls.head
    return _Owned(task, StateEncoder(task.partition, ls.parts), ls.max_seq + 1, head.slot if head else None,
                  _digest(ls.life), head.life_seq if head else -1, head is not None)


def _assignment_state(c: Any, tp: TopicPartition) -> Any:
    try:
        return c._subscription.subscription.assignment.state_value(tp)
    except AttributeError:
        return None


def _position(c: Any, tp: TopicPartition) -> int | None:
    st = _assignment_state(c, tp)
    if st is None or not st.has_valid_position:
        return None
    return int(st.position)


def _end(c: Any, tp: TopicPartition) -> int | None:
    """The partition's readable end: the last stable offset under read_committed, else the high watermark."""
    st = _assignment_state(c, tp)
    if st is None:
        return None
    lso = getattr(st, "lso", None)
    if lso is not None and lso >= 0:
        return int(lso)
    hw = st.highwater
    return None if hw is None else int(hw)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka rebalance listener; aiokafka awaits these from its coordinator task, concurrently with getmany."""

    def __init__(self, worker: BatchWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        await self.worker.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        await self.worker.on_assigned(assigned)
