"""The worker's topics: names, creating or verifying them on the broker (Kafka admin adapter), reading one back.

Input topics must be co-partitioned: the same partition count on all four, so that partition N
of every topic holds the same detector keys. The worker refuses to start otherwise, because
splitting one key's GPU samples and billing across Engines would silently break detection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from spendwatch.contract import ANOMALY, DEADLETTER, INPUT_TYPES, INSIGHT
from spendwatch.errors import ConfigError, ExternalError
from spendwatch.kafka import KafkaConfig

log = logging.getLogger(__name__)

STATE_TOPIC = "spendwatch.state."
SNAPSHOT_MAX_BYTES = 16 << 20  # a big Engine snapshot is still one record


@dataclass(frozen=True)
class WorkerTopics:
    inputs: tuple[str, ...]
    anomalies: str
    deadletter: str
    state: str
    insights: str = "spendwatch.insights"  # structural waste: reported, not paged (keyed by insight id)

    @classmethod
    def of(cls, kafka: KafkaConfig, group_id: str) -> WorkerTopics:
        return cls(inputs=tuple(kafka.topic(t) for t in INPUT_TYPES), anomalies=kafka.topic(ANOMALY),
                   deadletter=kafka.topic(DEADLETTER), state=kafka.topic_prefix + STATE_TOPIC + group_id,
                   insights=kafka.topic(INSIGHT))


async def ensure_topics(kafka: KafkaConfig, topics: WorkerTopics, partitions: int, replication: int,
                        create: bool = True) -> int:
    """Create missing topics (or only check them with ``create=False``); return the input partition count.

    Raises ConfigError when the input topics differ in partition count or a topic is missing
    and may not be created.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(**kafka.aiokafka_kwargs())
    try:
        await admin.start()
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same to the user
        raise ExternalError(f"cannot reach Kafka at {kafka.bootstrap_servers}: {exc}") from None
    try:
        existing = await _partition_counts(admin, [*topics.inputs, topics.anomalies, topics.deadletter, topics.state,
                                                   topics.insights])
        input_counts = {t: existing[t] for t in topics.inputs if t in existing}
        n = next(iter(input_counts.values()), partitions)
        if len(set(input_counts.values())) > 1:
            raise ConfigError(f"input topics are not co-partitioned: partition counts {input_counts}; "
                              f"give them all the same count")
        state_cfg = {"cleanup.policy": "compact", "max.message.bytes": str(SNAPSHOT_MAX_BYTES)}
        specs: list[tuple[str, int, dict[str, str]]] = [(t, n, {}) for t in topics.inputs]
        specs += [(topics.anomalies, partitions, {}), (topics.deadletter, partitions, {}),
                  (topics.state, n, state_cfg), (topics.insights, partitions, {})]
        missing = [(t, p, c) for t, p, c in specs if t not in existing]
        if missing and not create:
            raise ConfigError(f"topics missing on {kafka.bootstrap_servers}: {', '.join(t for t, _, _ in missing)} "
                              f"(start without --no-create-topics to create them)")
        if missing:
            log.info("creating topics %s", ", ".join(f"{t}[{p}]" for t, p, _ in missing))
            await admin.create_topics([NewTopic(t, p, replication, topic_configs=c) for t, p, c in missing])
        if topics.state in existing and existing[topics.state] < n:
            raise ConfigError(f"state topic {topics.state} has {existing[topics.state]} partitions, fewer than "
                              f"the {n} input partitions")
        return n
    finally:
        await admin.close()


async def _partition_counts(admin: object, names: list[str]) -> dict[str, int]:
    listed = set(await admin.list_topics())  # type: ignore[attr-defined]
    wanted = [t for t in names if t in listed]
    if not wanted:
        return {}
    out: dict[str, int] = {}
    for desc in await admin.describe_topics(wanted):  # type: ignore[attr-defined]
        if desc.get("error_code", 0) == 0 and desc.get("partitions"):
            out[desc["topic"]] = len(desc["partitions"])
    return out


async def read_topic(kafka: KafkaConfig, topic: str, idle_s: float = 1.5, timeout_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from the beginning (no consumer group), until nothing came for
    ``idle_s`` or ``timeout_s`` passed. For reading results back (demo, tests), not a hot path."""
    import time

    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, **kafka.aiokafka_kwargs(), group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
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
