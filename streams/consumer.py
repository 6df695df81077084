"""The worker's hot path: a batch consumer of the four input topics that it owns.

faust's per-message Stream path costs ~55-75 us an event here (shared/BROKER.md); reading with
aiokafka ``getmany`` and decoding in batches costs ~2 us. So :class:`BatchWorker` owns an
aiokafka consumer in its own consumer group and runs inside the faust app (see
``streams.app``), which keeps lifecycle, signals, logging, the producer and ``/metrics``.

Checkpoints (state = snapshot + offsets), in this order, so a crash anywhere loses nothing:

1. anomaly events and dead letters produced so far are flushed (durable);
2. each partition's Engine is snapshotted with the input offsets it covers, and flushed;
3. the consumer offsets are committed (for lag tools and as a fallback; the snapshot's
   offsets are what recovery seeks to).

Recovery on assignment: load the latest snapshot, restore the Engine, seek each input topic
to the snapshot's offset, replay the rest. Replayed input re-emits the same anomaly events
(stable ids), so outputs are at-least-once and idempotent; nothing re-opens cold.

Partition assignment uses Kafka's range assignor: with equal partition counts on all input
topics it gives a member the same partition numbers of every topic (co-partitioning), and
the worker checks that it did.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener, TopicPartition

from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.contract import INSIGHT, anomaly_key
from spendwatch.events import encode
from spendwatch.kafka import KafkaConfig
from streams.metrics import WorkerMetrics
from streams.partition import DeadLetter, PartitionTask
from streams.settings import WorkerSettings
from streams.sink import Sink
from streams.state import Snapshot, SnapshotStore
from streams.topics import WorkerTopics

log = logging.getLogger("spendwatch.worker")
_BAD_LOG_PER_CHECKPOINT = 20
_GC_GEN0 = 50_000
MAX_DEADLETTER_RAW = 512 * 1024


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
    return orjson.dumps(doc)


class BatchWorker:
    """Consume, align in event time, detect, publish, checkpoint. One instance per process."""

    def __init__(self, settings: Settings, worker: WorkerSettings, kafka: KafkaConfig, topics: WorkerTopics,
                 sink: Sink, store: SnapshotStore, metrics: WorkerMetrics | None = None,
                 exit_when_idle_s: float | None = None, on_anomaly: Callable[[dict[str, Any]], Any] | None = None,
                 on_exit: Callable[[], Awaitable[None]] | None = None) -> None:
        self.settings, self.worker, self.kafka, self.topics = settings, worker, kafka, topics
        self.sink, self.store = sink, store
        self.metrics = metrics or WorkerMetrics()
        self.exit_when_idle_s = exit_when_idle_s
        self.on_anomaly = on_anomaly
        self.on_exit = on_exit
        self.tasks: dict[int, PartitionTask] = {}
        self._parked: dict[int, PartitionTask] = {}  # revoked in this rebalance, may come straight back
        self._snapshot_at: dict[int, float] = {}
        self._paused: set[Any] = set()
        self._last_data: dict[Any, float] = {}
        self._stopping = asyncio.Event()
        self._consumer: Any = None
        self.events = 0
        self.bad = 0
        self.anomalies = 0
        self.failed: BaseException | None = None
        self._bad_logged = 0
        self._bad_unlogged = 0
        self._pending: list[Awaitable[Any]] = []  # sends not yet confirmed by a checkpoint
        self._assigned_at = 0.0  # monotonic time of the last assignment
        self.first_record_at = 0.0  # wall clock of the first record and of the last processed batch (bench)
        self.last_processed_at = 0.0

    # ----------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        w = self.worker
        self._consumer = AIOKafkaConsumer(
            **self.kafka.aiokafka_kwargs(), group_id=w.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", partition_assignment_strategy=(RangePartitionAssignor,),
            session_timeout_ms=int(w.session_timeout_s * 1000),
            heartbeat_interval_ms=int(w.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(max(w.session_timeout_s, 6) * 1000),
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
        log.info("worker started", extra={"group": w.group_id, "topics": list(self.topics.inputs)})

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
                await self.checkpoint(list(self.tasks.values()), force=True)
            except Exception:  # noqa: BLE001 - shutting down: report, then still leave the group
                log.exception("final checkpoint failed")
            await self._consumer.stop()
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
            batch = await c.getmany(timeout_ms=200, max_records=w.batch_max_records)
            now = time.monotonic()
            n = 0
            for tp, records in batch.items():
                task = self.tasks.get(tp.partition)
                if task is None or not records:
                    continue
                n += len(records)
                bad = task.add(tp.topic, records)
                self._last_data[tp] = now
                if len(records) > bad:
                    m.events_in.labels(tp.topic).inc(len(records) - bad)
                self.events += len(records) - bad
            if n:
                m.batch_size.observe(n)
                last_input = now
                if not started:
                    self.first_record_at = time.time()
                started = True
            self._update_caught_up(now)
            for task in list(self.tasks.values()):
                out, dead = task.drain()
                if out or dead:
                    await self._publish(out, dead)
            if n:
                self.last_processed_at = time.time()
            self._flow_control()
            if now - last_checkpoint >= w.checkpoint_interval_s:
                await self.checkpoint(list(self.tasks.values()))
                last_checkpoint = time.monotonic()
            self._gauges()
            # idle = nothing arrived since the later of the last record and the last assignment
            # (a worker restored at the end of its input has nothing to read and must still exit)
            # and, before the first record, a little longer: the first fetch may lag the assignment
            idle_s = self.exit_when_idle_s
            if idle_s is not None and self.tasks:
                idle_after = idle_s if started else max(idle_s, 10.0)
                if (now - max(last_input, self._assigned_at) >= idle_after
                        and all(t.buffered == 0 for t in self.tasks.values())):
                    log.info("idle for %.1fs: stopping", idle_after)
                    break

    def _update_caught_up(self, now: float) -> None:
        """A topic partition stops holding back event time once it has delivered all it has."""
        c = self._consumer
        idle = self.worker.idle_partition_s
        for task in self.tasks.values():
            for topic in task.topics:
                tp = _tp(topic, task.partition)
                hw = c.highwater(tp)
                caught = hw is not None and task.received_upto.get(topic, 0) >= hw
                if not caught and not task.queues[topic]:
                    caught = now - self._last_data.get(tp, now) >= idle
                    if tp not in self._last_data:
                        self._last_data[tp] = now
                task.caught_up[topic] = caught

    def _flow_control(self) -> None:
        """Pause topic partitions far ahead in event time while a slower one catches up."""
        c = self._consumer
        high = self.worker.max_buffered
        total = 0
        for task in self.tasks.values():
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

    async def _publish(self, anomalies: list[dict[str, Any]], dead: list[DeadLetter]) -> None:
        send, pending = self.sink.send, self._pending
        for a in anomalies:
            # insights (structural waste, reported not paged) go to their own topic, never the anomaly stream
            topic = self.topics.insights if a["type"] == INSIGHT else self.topics.anomalies
            pending.append(await send(topic, anomaly_key(a).encode(), encode(a)))
            self.metrics.anomalies_out.labels(a["kind"], a["state"]).inc()
            if self.on_anomaly is not None:
                self.on_anomaly(a)
        self.anomalies += len(anomalies)
        for dl in dead:
            pending.append(await send(self.topics.deadletter, dl.key, deadletter_value(dl)))
            self.metrics.bad_events.labels(dl.topic, dl.reason.split(":", 1)[0][:60]).inc()
            if self._bad_logged < _BAD_LOG_PER_CHECKPOINT:  # a flood of bad input must not flood the log
                self._bad_logged += 1
                log.warning("bad input dead-lettered", extra={"topic": dl.topic, "partition": dl.partition,
                                                              "offset": dl.offset, "reason": dl.reason[:300]})
            else:
                self._bad_unlogged += 1
        self.bad += len(dead)

    def _gauges(self) -> None:
        wall, mono = time.time(), time.monotonic()
        for p, task in self.tasks.items():
            wm = task.engine.watermark
            if wm != float("-inf"):
                self.metrics.event_time_lag.labels(str(p)).set(wall - wm)
            at = self._snapshot_at.get(p)
            if at is not None:
                self.metrics.snapshot_age.labels(str(p)).set(mono - at)

    # --------------------------------------------------------------- checkpoints
    async def checkpoint(self, tasks: list[PartitionTask], force: bool = False) -> None:
        """Flush outputs, snapshot changed partitions with their offsets, then commit offsets."""
        if self._bad_unlogged:
            log.warning("%d more bad records dead-lettered (not logged one by one)", self._bad_unlogged)
        self._bad_logged = self._bad_unlogged = 0
        if not tasks:
            return
        await self.sink.flush()  # outputs first: a snapshot must never cover an anomaly not yet durable
        pending, self._pending = self._pending, []
        for fut in pending:
            await fut  # a refused output fails the checkpoint: the next owner replays from the last good one
        snaps = [Snapshot(t.partition, dict(t.next_offset), t.engine.snapshot(), t.engine.watermark)
                 for t in tasks if t.dirty or force or t.partition not in self._snapshot_at]
        if snaps:
            await self.store.save(snaps)
            now = time.monotonic()
            for s in snaps:
                self._snapshot_at[s.partition] = now
            self.metrics.snapshots.inc(len(snaps))
        for t in tasks:  # an unchanged Engine is still covered by its last snapshot
            if not t.dirty:
                self._snapshot_at[t.partition] = time.monotonic()
        offsets = {_tp(topic, t.partition): off for t in tasks for topic, off in t.next_offset.items()}
        try:
            await self._consumer.commit(offsets)
        except Exception as exc:  # noqa: BLE001 - refused during a rebalance; the snapshot already covers it
            log.info("offset commit skipped: %s", exc.__class__.__name__)
        for t in tasks:
            t.dirty = False

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
        numbers = {tp.partition for tp in revoked}
        tasks = [t for p, t in self.tasks.items() if p in numbers]
        log.info("partitions revoked", extra={"partitions": sorted(numbers)})
        try:
            await self.checkpoint(tasks)
        except Exception:  # noqa: BLE001 - the next owner replays from the previous snapshot instead
            log.exception("checkpoint on revoke failed")
        for t in tasks:
            self._parked[t.partition] = self.tasks.pop(t.partition)
        for tp in list(self._paused):
            if tp in revoked:
                self._paused.discard(tp)
        for p in numbers:
            self.metrics.owned.labels(str(p)).set(0)
        self.metrics.assigned.set(len(self.tasks))

    async def on_assigned(self, assigned: set[Any]) -> None:
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
        parked, self._parked = self._parked, {}
        fresh = [p for p in sorted(by_number) if p not in parked]
        snaps = await self.store.load(fresh) if fresh else {}
        for p in sorted(by_number):
            task = parked.get(p)
            if task is not None:  # ours a moment ago: state is current, only the buffered records are dropped
                task = PartitionTask(p, list(self.topics.inputs), task.engine)
                offsets = dict(parked[p].next_offset)
                log.info("partition assigned", extra={"partition": p, "restored": "kept",
                                                      "open_anomalies": len(task.engine.open_anomaly_ids),
                                                      "offsets": offsets})
            else:
                engine = Engine(self.settings, scope=self._scope(p))
                snap = snaps.get(p)
                offsets = {}
                if snap is not None:
                    engine.restore(snap.engine)
                    self.metrics.restored.inc()
                    offsets = dict(snap.offsets)
                    self._snapshot_at[p] = time.monotonic() - max(0.0, time.time() - snap.created_at)
                task = PartitionTask(p, list(self.topics.inputs), engine)
                log.info("partition assigned", extra={"partition": p, "restored": snap is not None,
                                                      "open_anomalies": len(engine.open_anomaly_ids),
                                                      "offsets": offsets})
            for topic in by_number[p]:
                tp = _tp(topic, p)
                off = offsets.get(topic)
                if off is None:
                    off = await c.committed(tp)  # no snapshot: the committed offset, else the reset policy
                if off is not None:
                    c.seek(tp, off)
                    task.start_at(topic, off)
                # else: the consumer starts at auto_offset_reset=earliest; the first record tells the offset
            self.tasks[p] = task
            self.metrics.owned.labels(str(p)).set(1)
        self.metrics.assigned.set(len(self.tasks))
        self.metrics.split.set(split)
        self._assigned_at = time.monotonic()


def _tp(topic: str, partition: int) -> TopicPartition:
    return TopicPartition(topic, partition)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka rebalance listener; aiokafka awaits these inside ``getmany``."""

    def __init__(self, worker: BatchWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        await self.worker.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        await self.worker.on_assigned(assigned)
