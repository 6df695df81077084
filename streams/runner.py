"""Running a worker: the ``spendwatch worker`` process, or in-process until the input is idle.

``run_worker`` builds everything at the process edge (topics, faust app, batch consumer with
its transactional outputs) and blocks until SIGTERM/SIGINT or, with ``exit_when_idle_s``,
until no input arrived for that long; it then checkpoints (outputs, state and offsets in one
transaction per partition) and returns a :class:`WorkerResult`.

``run_worker_until_idle(settings, bootstrap, ...)`` is the short form for drivers such as
``spendwatch demo --kafka``: produce the events, call it, read ``spendwatch.anomalies``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from spendwatch.config import Settings
from spendwatch.kafka import KafkaConfig, kafka_config
from streams.consumer import BatchWorker
from streams.logs import handler
from streams.metrics import WorkerMetrics
from streams.settings import WorkerSettings
from streams.topics import WorkerTopics, ensure_topics

log = logging.getLogger("spendwatch.worker")


@dataclass
class WorkerResult:
    events: int
    bad: int
    anomalies: int
    exit_code: int


def _history_hook(url: str | None) -> Any:
    """``spendwatch.history.open_store(url).record`` when a history URL is given."""
    if not url:
        return None
    from spendwatch.history import open_store

    return open_store(url).record


def _setup_logging(level: str, fmt: str) -> None:
    """Our handler on the root logger; faust is told not to install its own (override_logging=False)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler(fmt))
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def run_worker(settings: Settings, kafka: KafkaConfig | None = None, worker: WorkerSettings | None = None, *,
               exit_when_idle_s: float | None = None, log_level: str = "INFO", log_format: str = "text",
               history_url: str | None = None, install_signal_handlers: bool = True) -> WorkerResult:
    """Run one worker process until a signal (or idle input); return its counts."""
    import faust
    import uvloop

    from streams.app import WorkerService, create_app

    kafka = kafka or kafka_config(settings)
    worker = worker or settings.build(WorkerSettings, "worker")
    topics = WorkerTopics.of(kafka, worker.group_id, worker.audit_topic)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    state_cfg = {"segment.ms": str(worker.state_segment_ms),
                 "min.cleanable.dirty.ratio": str(worker.state_min_cleanable_dirty_ratio)}
    loop.run_until_complete(ensure_topics(kafka, topics, worker.partitions, worker.replication,
                                          create=worker.create_topics, state_config=state_cfg))
    metrics = WorkerMetrics()
    _setup_logging(log_level, log_format)
    app = create_app(worker, kafka, metrics)
    fw: Any = None
    holder: dict[str, BatchWorker] = {}

    async def on_exit() -> None:
        asyncio.ensure_future(fw.stop())

    def build() -> BatchWorker:
        b = BatchWorker(settings, worker, kafka, topics, metrics, exit_when_idle_s=exit_when_idle_s,
                        on_anomaly=_history_hook(history_url), on_exit=on_exit)
        holder["b"] = b
        return b

    app.service(WorkerService(build, loop=loop))  # type: ignore[arg-type]
    fw = faust.Worker(app, loop=loop, loglevel=log_level, quiet=True, redirect_stdouts=False,
                      override_logging=False)
    if not install_signal_handlers:
        fw.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    code = 0
    try:
        fw.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0)
    b = holder.get("b")
    if b is not None and b.failed is not None:
        code = code or 1
    return WorkerResult(events=b.events if b else 0, bad=b.bad if b else 0, anomalies=b.anomalies if b else 0,
                        exit_code=code)


def run_worker_until_idle(settings: Settings, bootstrap: str | None = None, *, idle_s: float = 5.0,
                          group_id: str | None = None, topic_prefix: str | None = None, metrics_port: int = 0,
                          log_level: str = "WARNING", **worker_overrides: Any) -> WorkerResult:
    """Run a worker in this process until no input arrived for ``idle_s``; return its counts.

    ``bootstrap`` / ``topic_prefix`` override the ``kafka`` settings (and SPENDWATCH_KAFKA);
    ``metrics_port=0`` (default) serves no HTTP. Signal handlers are left alone, so this is
    safe to call from another command. ``worker_overrides`` are :class:`WorkerSettings`
    fields (e.g. ``session_timeout_s=3`` for a quicker group join on a single-worker demo).
    """
    kafka = kafka_config(settings)
    if bootstrap:
        kafka = replace(kafka, bootstrap_servers=bootstrap)
    if topic_prefix is not None:
        kafka = replace(kafka, topic_prefix=topic_prefix)
    worker = settings.build(WorkerSettings, "worker")
    worker = replace(worker, metrics_port=metrics_port, group_id=group_id or worker.group_id, **worker_overrides)
    return run_worker(settings, kafka, worker, exit_when_idle_s=idle_s, log_level=log_level,
                      install_signal_handlers=False)
