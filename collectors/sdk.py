"""The Python SDK for training pipelines and model servers: publish in two lines.

    >>> from spendwatch.client import SpendwatchClient                       # doctest: +SKIP
    >>> SpendwatchClient().training_run("run-42", "churn", "ml/churn-train", "succeeded",
    ...                                 metric=("auc", 0.91, True))           # doctest: +SKIP

Events are validated before they leave (a :class:`~spendwatch.errors.BadEvent` names the bad
field) and go through the collectors' publisher: keyed per contract, acks=all, spooled to disk
while the broker is unreachable. ``SPENDWATCH_KAFKA`` and the other Kafka environment variables
apply (spendwatch.kafka). ``transport`` lets tests and ``--stdout`` replace Kafka.

It lives with the other producers of contract events in ``collectors/``; the public import
path ``spendwatch.client`` re-exports it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from collectors.publisher import KafkaTransport, Publisher, Spool
from spendwatch.contract import MODEL_OBSERVATION, TRAINING_RUN
from spendwatch.kafka import KafkaConfig, kafka_config


def workload_dict(workload: str | Mapping[str, Any]) -> dict[str, Any]:
    """A contract workload from an id string or a mapping."""
    return {"id": workload} if isinstance(workload, str) else dict(workload)


class SpendwatchClient:
    """Publishes ``training_run`` and ``model_observation`` events."""

    def __init__(self, kafka: KafkaConfig | None = None, spool_dir: str | os.PathLike[str] | None = None,
                 transport: Any = None) -> None:
        self.kafka = kafka or kafka_config()
        spool = Path(spool_dir or os.environ.get("SPENDWATCH_SPOOL_DIR")
                     or Path(tempfile.gettempdir()) / f"spendwatch-client-{os.getuid()}")
        self.publisher = Publisher(self.kafka, transport or KafkaTransport(self.kafka), Spool(spool / "client.sqlite"))

    def training_run(self, run_id: str, model_id: str, workload: str | Mapping[str, Any], status: str, *,
                     started_at: float | None = None, ended_at: float | None = None,
                     gpu_hours: float | None = None, cost_usd: float | None = None,
                     metric: tuple[str, float, bool] | Mapping[str, Any] | None = None,
                     data_version: str | None = None, code_version: str | None = None,
                     trigger: str | None = None, ts: float | None = None) -> dict[str, Any]:
        """Publish that a training run changed state; returns the event sent."""
        m = None
        if metric is not None:
            m = dict(metric) if isinstance(metric, Mapping) else {"name": metric[0], "value": metric[1],
                                                                  "higher_is_better": metric[2]}
        ev = {"type": TRAINING_RUN, "ts": time.time() if ts is None else ts, "run_id": run_id,
              "model_id": model_id, "workload": workload_dict(workload), "status": status,
              "started_at": started_at, "ended_at": ended_at, "gpu_hours": gpu_hours, "cost_usd": cost_usd,
              "metric": m, "data_version": data_version, "code_version": code_version, "trigger": trigger}
        self.publisher.publish(ev)
        return ev

    def observations(self, model_id: str, workload: str | Mapping[str, Any],
                     values: Mapping[str, Sequence[float]], ts: float | None = None) -> dict[str, Any]:
        """Publish a batch of a served model's input/output values; returns the event sent."""
        ev = {"type": MODEL_OBSERVATION, "ts": time.time() if ts is None else ts, "model_id": model_id,
              "workload": workload_dict(workload), "values": {k: list(v) for k, v in values.items()}}
        self.publisher.publish(ev)
        return ev

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything is acknowledged by the broker (True) or the timeout passes."""
        return self.publisher.flush(timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Deliver what is pending (what is not stays spooled for the next client) and stop."""
        self.publisher.close(timeout_s)

    def __enter__(self) -> SpendwatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
