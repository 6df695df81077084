"""The one Kafka key rule (spendwatch/contract.py), as the contract's topic table states it."""

from __future__ import annotations

from typing import Any

from spendwatch.contract import INPUT_TYPES, TOPICS, kafka_key, topic_name
from spendwatch.kafka import KafkaConfig
from tests.factories import gpu_sample


def gpu(mig: str | None = None) -> dict[str, Any]:
    return gpu_sample(1.0, mig_uuid=mig)


def test_keys_per_contract() -> None:
    assert kafka_key(gpu()) == "n1/GPU-1"
    assert kafka_key(gpu(mig="MIG-x")) == "n1/MIG-x"
    assert kafka_key({"type": "billing_delta", "workload": {"id": "ns/app"}}) == "ns/app"
    assert kafka_key({"type": "training_run", "model_id": "m"}) == "m"
    assert kafka_key({"type": "model_observation", "model_id": "m", "values": {}}) == "m"
    assert kafka_key({"type": "anomaly", "id": "idle_gpu-abc"}) == "idle_gpu-abc"


def test_a_value_that_is_not_an_event_still_gets_a_key() -> None:
    # a producer routes bad lines to the worker (which dead-letters them) instead of failing on them
    assert kafka_key({"type": "billing_delta", "workload": "not an object"}) == ""
    assert kafka_key({"type": "training_run"}) == ""
    assert kafka_key({"type": "no such type", "model_id": "m"}) == ""
    assert kafka_key({"type": "gpu_sample"}) == "None/None"


def test_topics_per_contract() -> None:
    assert [TOPICS[t] for t in INPUT_TYPES] == ["spendwatch.gpu.samples", "spendwatch.billing.deltas",
                                                 "spendwatch.training.runs", "spendwatch.model.observations"]
    assert (TOPICS["anomaly"], TOPICS["deadletter"]) == ("spendwatch.anomalies", "spendwatch.deadletter")
    assert topic_name("anomaly", "dev.") == "dev.spendwatch.anomalies"
    assert KafkaConfig(topic_prefix="p.").topic("gpu_sample") == "p.spendwatch.gpu.samples"
