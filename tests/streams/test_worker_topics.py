"""Topics on a real broker: created when missing, verified when present, co-partitioning enforced."""

from __future__ import annotations

import asyncio
import time

import pytest
from kafkatools import kcfg

from spendwatch.errors import ConfigError
from streams.topics import WorkerTopics, ensure_topics

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(60)]


async def _counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(names)}
    finally:
        await admin.close()


def test_missing_topics_are_created_with_the_partition_count(kafka_bootstrap: str, unique: str) -> None:
    k = kcfg(kafka_bootstrap, f"t{unique}.")
    topics = WorkerTopics.of(k, "g")
    with pytest.raises(ConfigError, match="topics missing"):
        asyncio.run(ensure_topics(k, topics, 3, 1, create=False))
    assert asyncio.run(ensure_topics(k, topics, 3, 1)) == 3
    counts = asyncio.run(_counts(kafka_bootstrap, [*topics.inputs, topics.anomalies, topics.deadletter,
                                                   topics.state, topics.insights]))
    assert set(counts.values()) == {3} and len(counts) == 9  # 4 inputs + feedback, 3 outputs, the state
    assert asyncio.run(ensure_topics(k, topics, 5, 1, create=False)) == 3  # present: verified, count kept


def test_input_topics_that_are_not_co_partitioned_are_refused(kafka_bootstrap: str, unique: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    k = kcfg(kafka_bootstrap, f"t{unique}.")
    topics = WorkerTopics.of(k, "g")

    async def make() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topics.inputs[0], 4, 1), NewTopic(topics.inputs[1], 2, 1)])
        finally:
            await admin.close()

    asyncio.run(make())
    deadline = time.monotonic() + 20
    while (sorted(asyncio.run(_counts(kafka_bootstrap, list(topics.inputs[:2]))).values()) != [2, 4]
           and time.monotonic() < deadline):
        time.sleep(0.2)  # Apache Kafka: a new topic's partitions show in the metadata a moment later
    with pytest.raises(ConfigError, match="not co-partitioned"):
        asyncio.run(ensure_topics(k, topics, 4, 1))


def test_a_refused_login_is_a_clear_error_and_never_logs_the_password(kafka_bootstrap: str, unique: str) -> None:
    import os
    import subprocess
    import sys

    from kafkatools import ROOT

    env = {**os.environ, "SPENDWATCH_KAFKA": kafka_bootstrap, "SPENDWATCH_TOPIC_PREFIX": f"t{unique}.",
           "SPENDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SPENDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "SPENDWATCH_KAFKA_SASL_USERNAME": "spendwatch", "SPENDWATCH_KAFKA_SASL_PASSWORD": "Hunter2-s3cret"}
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "--log-level", "DEBUG", "worker", "--metrics-port",
                        "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=50)
    assert p.returncode == 2
    assert "cannot reach Kafka" in p.stderr
    assert "Hunter2-s3cret" not in p.stdout + p.stderr
