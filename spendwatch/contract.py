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
