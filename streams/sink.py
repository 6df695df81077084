"""Output adapters: where the worker's anomaly events, dead letters and snapshots are sent.

The worker needs two things from a producer: ``send`` (enqueue, return an awaitable that
says whether the broker took the record) and ``flush`` (everything sent so far is durable).
:class:`FaustSink` uses the faust app's producer (faust owns its lifecycle);
:class:`AIOKafkaSink` owns a plain aiokafka producer, for running the worker without faust.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

from spendwatch.kafka import KafkaConfig


class Sink(Protocol):
    async def send(self, topic: str, key: bytes | None, value: bytes,
                   partition: int | None = None) -> Awaitable[Any]: ...

    async def flush(self) -> None: ...


class FaustSink:
    def __init__(self, producer: Any) -> None:
        self.producer = producer

    async def send(self, topic: str, key: bytes | None, value: bytes,
                   partition: int | None = None) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.producer.send(topic, key, value, partition, None, None)
        return fut

    async def flush(self) -> None:
        await self.producer.flush()


class AIOKafkaSink:
    def __init__(self, kafka: KafkaConfig, max_request_size: int = 16 << 20) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(**kafka.aiokafka_kwargs(), acks="all", linger_ms=5,
                                         max_request_size=max_request_size)

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def send(self, topic: str, key: bytes | None, value: bytes,
                   partition: int | None = None) -> Awaitable[Any]:
        fut: Awaitable[Any] = await self.producer.send(topic, value, key=key, partition=partition)
        return fut

    async def flush(self) -> None:
        await self.producer.flush()
