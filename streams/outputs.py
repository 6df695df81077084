"""Where the worker's outputs, state and offsets go, and how they are made durable together.

:class:`TransactionalOutputs` (exactly once, the default on Apache Kafka): one transactional
producer per owned input partition, ``transactional.id = <state topic>.<partition>``. The
anomaly events and dead letters a partition produces, its changed state records and its
input offsets (``send_offsets_to_transaction``) go into one Kafka transaction, committed at
each checkpoint. Readers with ``isolation_level=read_committed`` see a checkpoint's outputs
all at once or not at all, so a crash at any instant yields no duplicate and no loss.

Why one transactional id per *partition* and not one per worker: aiokafka's
``send_offsets_to_transaction`` sends ``TxnOffsetCommit`` v0, without the consumer group's
generation (KIP-447), so the broker cannot fence a zombie worker by group membership. With
a stable id per partition, the new owner's ``init_transactions`` bumps the producer epoch:
the previous owner's open transaction is aborted and any later write or commit from it fails
with ``ProducerFenced`` (classic KIP-98 fencing), whatever that worker still believes it
owns. The cost is one producer (one connection) per owned partition and one commit per
partition per checkpoint.

:class:`AtLeastOnceOutputs` (brokers without transactions, e.g. Tansu, or a principal with no
TransactionalId ACL): one plain producer; a checkpoint awaits every output, then writes the
state, then commits offsets. A crash re-emits outputs since the last checkpoint with the same
ids (idempotent consumers: the history store upserts, the alerter's notification log dedups).

:func:`supports_transactions` decides between them at start (and the worker logs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from spendwatch.errors import ExternalError
from spendwatch.kafka import KafkaConfig
from streams import faults
from streams.state import Record

log = logging.getLogger("spendwatch.worker")
_PRODUCER_KW: dict[str, Any] = {"linger_ms": 5, "max_batch_size": 1 << 20, "max_request_size": 4 << 20}


class CheckpointFailed(Exception):
    """A partition's checkpoint did not commit; its in-memory state must be rebuilt from the last one."""

    def __init__(self, partition: int, cause: BaseException) -> None:
        super().__init__(f"checkpoint of partition {partition} failed: {cause.__class__.__name__}: {cause}")
        self.partition = partition
        self.cause = cause

    @property
    def fenced(self) -> bool:
        from aiokafka.errors import ProducerFenced

        return isinstance(self.cause, ProducerFenced)


async def supports_transactions(kafka: KafkaConfig, probe_id: str, timeout_s: float = 20.0) -> tuple[bool, str]:
    """Whether the broker gives this principal a transactional producer id; (ok, why not)."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaConnectionError

    p = AIOKafkaProducer(**kafka.aiokafka_kwargs(), transactional_id=probe_id)
    try:
        await asyncio.wait_for(p.start(), timeout_s)
        await asyncio.wait_for(p.begin_transaction(), timeout_s)
        await asyncio.wait_for(p.commit_transaction(), timeout_s)
        return True, ""
    except KafkaConnectionError as exc:
        raise ExternalError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any refusal means: no transactions here
        return False, f"{exc.__class__.__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):  # the probe producer may be half-started
            await asyncio.wait_for(p.stop(), 10)


class Outputs:
    """Interface: send outputs of a partition, commit a partition's checkpoint, open/close partitions."""

    transactional = False

    async def open(self, partition: int) -> None: ...

    async def close(self, partition: int) -> None: ...

    async def send(self, partition: int, topic: str, key: bytes | None, value: bytes,
                   out_partition: int | None = None) -> None: ...

    async def commit(self, partition: int, state_topic: str, records: list[Record],
                     offsets: dict[Any, int]) -> None: ...

    async def abort(self, partition: int) -> None: ...

    async def stop(self) -> None: ...


class TransactionalOutputs(Outputs):
    transactional = True

    def __init__(self, kafka: KafkaConfig, id_prefix: str, group_id: str, timeout_ms: int = 60_000) -> None:
        self.kafka, self.id_prefix, self.group_id, self.timeout_ms = kafka, id_prefix, group_id, timeout_ms
        self._producers: dict[int, Any] = {}
        self._in_txn: set[int] = set()
        self._pending: dict[int, list[Awaitable[Any]]] = {}

    def transactional_id(self, partition: int) -> str:
        return f"{self.id_prefix}.{partition}"

    async def open(self, partition: int) -> None:
        """Start the partition's producer: fences any previous owner and aborts its open transaction."""
        from aiokafka import AIOKafkaProducer

        await self.close(partition)
        p = AIOKafkaProducer(**self.kafka.aiokafka_kwargs(), transactional_id=self.transactional_id(partition),
                             transaction_timeout_ms=self.timeout_ms, **_PRODUCER_KW)
        try:
            await p.start()
        except BaseException:
            await _stop_quietly(p)
            raise
        self._producers[partition] = p
        self._pending[partition] = []

    async def close(self, partition: int) -> None:
        p = self._producers.pop(partition, None)
        self._in_txn.discard(partition)
        self._pending.pop(partition, None)
        if p is not None:
            await _stop_quietly(p)

    async def _begin(self, partition: int) -> Any:
        p = self._producers[partition]
        if partition not in self._in_txn:
            await p.begin_transaction()
            self._in_txn.add(partition)
        return p

    async def send(self, partition: int, topic: str, key: bytes | None, value: bytes,
                   out_partition: int | None = None) -> None:
        try:
            p = await self._begin(partition)
            self._pending[partition].append(await p.send(topic, value, key=key, partition=out_partition))
        except Exception as exc:  # noqa: BLE001 - the checkpoint of this partition cannot commit now
            raise CheckpointFailed(partition, exc) from exc

    async def commit(self, partition: int, state_topic: str, records: list[Record],
                     offsets: dict[Any, int]) -> None:
        try:
            p = await self._begin(partition)
            for key, value in records:
                self._pending[partition].append(await p.send(state_topic, value, key=key, partition=partition))
            faults.maybe_kill("state_sent")
            if offsets:
                await p.send_offsets_to_transaction(offsets, self.group_id)
            faults.maybe_kill("offsets_sent")
            pending, self._pending[partition] = self._pending[partition], []
            for fut in pending:
                await fut  # a refused record fails the commit instead of being silently lost
            commit = asyncio.ensure_future(p.commit_transaction())
            await faults.maybe_kill_async("commit")  # EndTxn in flight
            await commit
            self._in_txn.discard(partition)
        except Exception as exc:  # noqa: BLE001 - fenced, timed out, broker gone: rebuild from the last one
            raise CheckpointFailed(partition, exc) from exc

    async def abort(self, partition: int) -> None:
        """Abort the partition's open transaction; if that fails too, drop the producer (the next open fences)."""
        p = self._producers.get(partition)
        if p is None:
            return
        if partition in self._in_txn:
            try:
                await asyncio.wait_for(p.abort_transaction(), 15)
                self._in_txn.discard(partition)
                self._pending[partition] = []
                return
            except Exception as exc:  # noqa: BLE001 - e.g. fenced: this producer is finished
                log.info("abort of partition %d failed (%s): closing its producer", partition,
                         exc.__class__.__name__)
        await self.close(partition)

    async def stop(self) -> None:
        for partition in list(self._producers):
            await self.close(partition)


class AtLeastOnceOutputs(Outputs):
    """One plain producer; the consumer's ``commit`` is called with the offsets after state is durable."""

    def __init__(self, kafka: KafkaConfig, commit_offsets: Callable[[dict[Any, int]], Awaitable[None]]) -> None:
        self.kafka = kafka
        self._commit_offsets = commit_offsets
        self._producer: Any = None
        self._pending: dict[int, list[Awaitable[Any]]] = {}

    async def _ensure(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            p = AIOKafkaProducer(**self.kafka.aiokafka_kwargs(), acks="all", **_PRODUCER_KW)
            await p.start()
            self._producer = p
        return self._producer

    async def open(self, partition: int) -> None:
        await self._ensure()
        self._pending[partition] = []

    async def close(self, partition: int) -> None:
        self._pending.pop(partition, None)

    async def send(self, partition: int, topic: str, key: bytes | None, value: bytes,
                   out_partition: int | None = None) -> None:
        p = await self._ensure()
        try:
            self._pending.setdefault(partition, []).append(await p.send(topic, value, key=key,
                                                                        partition=out_partition))
        except Exception as exc:  # noqa: BLE001
            raise CheckpointFailed(partition, exc) from exc

    async def commit(self, partition: int, state_topic: str, records: list[Record],
                     offsets: dict[Any, int]) -> None:
        p = await self._ensure()
        try:
            pending, self._pending[partition] = self._pending.get(partition, []), []
            for fut in pending:
                await fut  # outputs durable before the state that covers them
            body, head = records[:-1], records[-1]
            futs = [await p.send(state_topic, v, key=k, partition=partition) for k, v in body]
            for fut in futs:
                await fut  # the whole slot durable before the head names it
            faults.maybe_kill("state_sent")
            await (await p.send(state_topic, head[1], key=head[0], partition=partition))
        except Exception as exc:  # noqa: BLE001
            raise CheckpointFailed(partition, exc) from exc
        try:
            await self._commit_offsets(offsets)
        except Exception as exc:  # noqa: BLE001 - refused during a rebalance; the state head covers it
            log.info("offset commit skipped: %s", exc.__class__.__name__)

    async def abort(self, partition: int) -> None:
        self._pending[partition] = []  # sent records stay sent: at-least-once

    async def stop(self) -> None:
        if self._producer is not None:
            await _stop_quietly(self._producer)
            self._producer = None


async def _stop_quietly(producer: Any) -> None:
    try:
        await asyncio.wait_for(producer.stop(), 15)
    except Exception:  # noqa: BLE001 - stopping a producer that failed
        log.debug("producer stop failed", exc_info=True)
