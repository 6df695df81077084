"""The worker's topics: names, creating or verifying them on the broker (Kafka admin adapter), reading one back.

Input topics (the contract's four and ``spendwatch.feedback``) must be co-partitioned: the same
partition count on all of them, so that partition N of every topic holds the same detector keys.
The worker refuses to start otherwise, because splitting one key's GPU samples and billing
across Engines would silently break detection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from spendwatch.contract import ANOMALY, DEADLETTER, FEEDBACK, INPUT_TYPES, INSIGHT
from spendwatch.errors import ConfigError, ExternalError
from spendwatch.kafka import KafkaConfig

log = logging.getLogger(__name__)

# What the worker reads: the contract's four inputs and the people's verdicts on anomalies (feedback is
# partitioned like the input it is about, so it reaches the Engine that holds that detector's state)
WORKER_INPUTS = (*INPUT_TYPES, FEEDBACK)
STATE_TOPIC = "spendwatch.state."
STATE_MAX_BYTES = 4 << 20  # state records are at most ~512 KiB (streams.state.PART_BYTES)
OUTPUT_MAX_BYTES = 4 << 20  # dead letters are kept under 1 MiB; room for large anomaly evidence


@dataclass(frozen=True)
class WorkerTopics:
    inputs: tuple[str, ...]
    anomalies: str
    deadletter: str
    state: str
    audit: str | None = None
    insights: str = "spendwatch.insights"  # structural waste: reported, not paged (keyed by insight id)

    @classmethod
    def of(cls, kafka: KafkaConfig, group_id: str, audit_topic: str | None = None) -> WorkerTopics:
        return cls(inputs=tuple(kafka.topic(t) for t in WORKER_INPUTS), anomalies=kafka.topic(ANOMALY),
                   deadletter=kafka.topic(DEADLETTER), state=kafka.topic_prefix + STATE_TOPIC + group_id,
                   audit=kafka.topic_prefix + audit_topic if audit_topic else None,
                   insights=kafka.topic(INSIGHT))


async def ensure_topics(kafka: KafkaConfig, topics: WorkerTopics, partitions: int, replication: int,
                        create: bool = True, state_config: dict[str, str] | None = None) -> int:
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
        extra = [topics.audit] if topics.audit else []
        existing = await _partition_counts(admin, [*topics.inputs, topics.anomalies, topics.deadletter, topics.state,
                                                   topics.insights, *extra])
        input_counts = {t: existing[t] for t in topics.inputs if t in existing}
        n = next(iter(input_counts.values()), partitions)
        if len(set(input_counts.values())) > 1:
            raise ConfigError(f"input topics are not co-partitioned: partition counts {input_counts}; "
                              f"give them all the same count")
        state_cfg = {"cleanup.policy": "compact", "max.message.bytes": str(STATE_MAX_BYTES),
                     "min.compaction.lag.ms": "0", **(state_config or {})}
        out_cfg = {"max.message.bytes": str(OUTPUT_MAX_BYTES)}
        specs: list[tuple[str, int, dict[str, str]]] = [(t, n, {}) for t in topics.inputs]
        specs += [(topics.anomalies, partitions, out_cfg), (topics.deadletter, partitions, out_cfg),
                  (topics.state, n, state_cfg), (topics.insights, partitions, out_cfg)]
        specs += [(t, n, {}) for t in extra]
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
