"""The external contract's names and its one Kafka key rule (shared/CONTRACT.md, "Topics").

Everything that puts events on Kafka (the collectors' publisher, the SDK, ``spendwatch
produce``), everything that reads them (the worker) and every detector's state key use what is
here, so the rule that keeps one detector key in one partition number on every input topic is
written once:

- ``spendwatch.gpu.samples``: ``gpu_sample``, keyed ``<node>/<gpu_uuid>`` (MIG: ``<node>/<mig_uuid>``);
- ``spendwatch.billing.deltas``: ``billing_delta``, keyed ``workload.id``;
- ``spendwatch.training.runs``: ``training_run``, keyed ``model_id``;
- ``spendwatch.model.observations``: ``model_observation``, keyed ``model_id``;
- ``spendwatch.anomalies`` (output): ``anomaly``, keyed by the anomaly ``id``;
- ``spendwatch.deadletter`` (output): the raw value plus ``reason``, keyed as received;
- ``spendwatch.insights`` (output, an addition): ``insight`` events: structural waste that is
  reported, not paged (an always-on endpoint at low load, duplicated training, a budget the
  forecast crosses). The same fields as an ``anomaly``, keyed by the insight ``id``;
- ``spendwatch.feedback`` (an addition): ``feedback`` (what a person said about an anomaly: not a
  problem, acknowledged, snoozed), keyed like the detector the anomaly came from
  (:func:`detector_key`), so the feedback reaches the partition that holds that detector's state.

A configurable prefix goes in front of every topic name.

The partition of a record is chosen from its *partition key* (:func:`partition_key`), which is
the Kafka key except for ``gpu_sample`` (and ``feedback`` about an idle kind): there it is the
node alone, so all GPUs of a node share a partition. The idle detector pools a GPU's rhythm
with its node peers (same node, same workload) inside one Engine, and one Engine serves one
partition number, so that is what makes the worker see what ``spendwatch replay`` sees. Every
producer spendwatch ships picks ``toPositive(murmur2(partition key)) % partitions``
(:func:`partition_for`), which is what Kafka's default partitioner does with the key. A
producer that keeps the default partitioner (it hashes the whole key) is still correct, every
key's events stay together and in order, but a GPU then has only the peers that happen to
share its partition.

The key functions are lenient: they also key a value that is not a valid event (a field
missing gives an empty part, never an exception), so a producer can route a bad line to the
worker, which dead-letters it.

Examples
--------
>>> kafka_key({"type": "gpu_sample", "node": "n1", "gpu_uuid": "GPU-1", "mig_uuid": None})
'n1/GPU-1'
>>> kafka_key({"type": "gpu_sample", "node": "n1", "gpu_uuid": "GPU-1", "mig_uuid": "MIG-7"})
'n1/MIG-7'
>>> kafka_key({"type": "billing_delta", "workload": {"id": "ml/agent"}})
'ml/agent'
>>> kafka_key({"type": "training_run", "model_id": "churn"}), topic_name(TRAINING_RUN, prefix="dev.")
('churn', 'dev.spendwatch.training.runs')
>>> detector_key({"kind": "idle_gpu", "resource": "MIG-7", "evidence": {"node": "n1", "gpu_uuid": "GPU-1",
...                                                                        "mig_uuid": "MIG-7"}})
'n1/MIG-7'
>>> detector_key({"kind": "cost_spike", "resource": "sku-1", "workload": {"id": "ml/agent"}})
'ml/agent'
>>> detector_key({"kind": "retrain_loop", "resource": "churn", "evidence": {"model_id": "churn"}})
'churn'
>>> partition_key(GPU_SAMPLE, "n1/GPU-1"), partition_key(BILLING_DELTA, "ml/agent")
('n1', 'ml/agent')
>>> partition_for(GPU_SAMPLE, "n1/GPU-1", 8) == partition_for(GPU_SAMPLE, "n1/MIG-7", 8)
True
>>> murmur2(b"21"), partition_for(TRAINING_RUN, "21", 8)  # Kafka's own test vector; 3321034988 % 8
(-973932308, 4)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GPU_SAMPLE = "gpu_sample"
BILLING_DELTA = "billing_delta"
TRAINING_RUN = "training_run"
MODEL_OBSERVATION = "model_observation"
INPUT_TYPES = (GPU_SAMPLE, BILLING_DELTA, TRAINING_RUN, MODEL_OBSERVATION)
ANOMALY = "anomaly"  # the output event type, and its topic's name in TOPICS
INSIGHT = "insight"  # an addition: the output type of structural waste (reported, not paged), and its topic's name
DEADLETTER = "deadletter"  # the dead-letter topic's name in TOPICS
FEEDBACK = "feedback"  # an addition: what a person said about an anomaly (Slack buttons, the API)
FEEDBACK_VERDICTS = ("not_a_problem", "acknowledged", "snoozed")
IDLE_KINDS = ("idle_gpu", "gpu_memory_hoarding")

TOPICS = {
    GPU_SAMPLE: "spendwatch.gpu.samples",
    BILLING_DELTA: "spendwatch.billing.deltas",
    TRAINING_RUN: "spendwatch.training.runs",
    MODEL_OBSERVATION: "spendwatch.model.observations",
    ANOMALY: "spendwatch.anomalies",
    INSIGHT: "spendwatch.insights",
    DEADLETTER: "spendwatch.deadletter",
    FEEDBACK: "spendwatch.feedback",
}


def topic_name(event_type: str, prefix: str = "") -> str:
    """The topic of an input event type (or ``anomaly`` / ``deadletter``), with the configured prefix."""
    return prefix + TOPICS[event_type]


def gpu_sample_key(event: dict[str, Any]) -> str:
    """``<node>/<gpu_uuid>``, or ``<node>/<mig_uuid>`` for a MIG instance."""
    return f"{event.get('node')}/{event.get('mig_uuid') or event.get('gpu_uuid')}"


def billing_delta_key(event: dict[str, Any]) -> str:
    """``workload.id`` (empty when the value has no workload object)."""
    w = event.get("workload")
    return str(w.get("id")) if isinstance(w, dict) else ""


def model_key(event: dict[str, Any]) -> str:
    """``model_id``: the key of ``training_run`` and ``model_observation`` (empty when missing)."""
    return str(event.get("model_id") or "")


def anomaly_key(event: dict[str, Any]) -> str:
    """The anomaly's (or insight's) ``id``."""
    return str(event.get("id") or "")


def detector_key(anomaly: dict[str, Any]) -> str:
    """The state key of the detector an anomaly came from, which is also the Kafka key its input had.

    Idle kinds: ``<evidence.node>/<mig_uuid or gpu_uuid>`` (the ``gpu_sample`` key);
    ``cost_spike``: ``workload.id`` (the ``billing_delta`` key); ``retrain_*``: the ``model_id``
    (= the anomaly's ``resource``; the ``training_run`` / ``model_observation`` key). Any other
    kind: its ``resource``.
    """
    kind = str(anomaly.get("kind") or "")
    evidence = anomaly.get("evidence") if isinstance(anomaly.get("evidence"), dict) else {}
    assert isinstance(evidence, dict)
    if kind in IDLE_KINDS:
        device = evidence.get("mig_uuid") or evidence.get("gpu_uuid") or anomaly.get("resource")
        return f"{evidence.get('node')}/{device}"
    if kind == "cost_spike":
        w = anomaly.get("workload")
        return str(w.get("id")) if isinstance(w, dict) else str(anomaly.get("resource") or "")
    if kind.startswith("retrain_"):
        return str(evidence.get("model_id") or anomaly.get("resource") or "")
    return str(anomaly.get("resource") or "")


def feedback_key(event: dict[str, Any]) -> str:
    """A ``feedback`` event's ``key`` (the detector key of the anomaly it is about)."""
    return str(event.get("key") or "")


KEY_RULES: dict[str, Callable[[dict[str, Any]], str]] = {
    GPU_SAMPLE: gpu_sample_key,
    BILLING_DELTA: billing_delta_key,
    TRAINING_RUN: model_key,
    MODEL_OBSERVATION: model_key,
    ANOMALY: anomaly_key,
    INSIGHT: anomaly_key,
    FEEDBACK: feedback_key,
}


def kafka_key(event: dict[str, Any]) -> str:
    """The contract's Kafka key of an event, by its ``type`` (empty for a value of no known type)."""
    rule = KEY_RULES.get(event.get("type"))  # type: ignore[arg-type]
    return rule(event) if rule is not None else ""


def partition_key(event_type: str, key: str, kind: str | None = None) -> str:
    """The part of a record's Kafka ``key`` that chooses its partition.

    ``gpu_sample``: the node (the key up to its first ``/``; node names have none), so that all
    GPUs of a node land in one partition and the idle detector pools their rhythm; ``feedback``
    about an idle kind (``kind``): the node too, so it reaches that GPU's partition. Anything
    else: the whole key (as Kafka's default partitioner would use it).
    """
    if event_type == GPU_SAMPLE or (event_type == FEEDBACK and kind in IDLE_KINDS):
        return key.split("/", 1)[0]
    return key


_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (``org.apache.kafka.common.utils.Utils.murmur2``) as a signed 32-bit int."""
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    end = length & ~3
    for i in range(0, end, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * _M) & 0xFFFFFFFF
        h = ((h * _M) & 0xFFFFFFFF) ^ k
    extra = length & 3
    if extra == 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(event_type: str, key: str, partitions: int, kind: str | None = None) -> int:
    """The partition (of ``partitions``, numbered from 0) a record of ``event_type`` keyed ``key`` goes
    to: ``toPositive(murmur2(partition_key)) % partitions``, Kafka's default partitioner applied to
    :func:`partition_key` instead of the whole key."""
    if partitions <= 0:
        raise ValueError(f"a topic has at least one partition (got {partitions})")
    return (murmur2(partition_key(event_type, key, kind).encode()) & 0x7FFFFFFF) % partitions
