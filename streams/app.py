"""faust glue: the app that hosts the batch consumer, the producer and ``/metrics``.

faust keeps what it is good at: the worker lifecycle (start, SIGTERM/SIGINT, ordered
shutdown), logging and the web server. The app runs ``producer_only``: it has no agents, so
faust joins no consumer group of its own; the input topics are read by
:class:`streams.consumer.BatchWorker`, which faust starts as a service and stops (after its
final checkpoint) before faust stops.

Why not faust's ``processing_guarantee="exactly_once"``: faust's transactions are tied to its
own consumer (a transactional producer per partition of its agents' source topics, committed
by faust's consumer as it commits its offsets). The worker's hot path is a batch consumer
faust does not own (faust's per-message path is 25-35x slower here), so faust could not
commit the batch consumer's offsets in its transactions. ``streams.outputs`` does the same
thing for the batch consumer with aiokafka's transactional producer directly.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any

import faust
import mode

from spendwatch.kafka import KafkaConfig
from spendwatch.metrics_port import WORKER_PORT, choose_port
from streams.consumer import BatchWorker
from streams.metrics import WorkerMetrics
from streams.settings import WorkerSettings


def faust_credentials(kafka: KafkaConfig) -> Any:
    """faust's form of the TLS/SASL settings (None for PLAINTEXT)."""
    kw = kafka.aiokafka_kwargs()
    ssl_context = kw.get("ssl_context")
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(username=kafka.sasl_username, password=kafka.sasl_password,
                                     mechanism=kafka.sasl_mechanism, ssl_context=ssl_context)
    if ssl_context is not None:
        return faust.SSLCredentials(ssl_context)
    return None


def create_app(worker: WorkerSettings, kafka: KafkaConfig, metrics: WorkerMetrics,
               loghandlers: list[Any] | None = None) -> faust.App:
    """The faust app of one worker process (web on ``metrics_host:metrics_port`` unless port 0; a port
    another process holds is swapped for a free one, logged: :func:`spendwatch.metrics_port.choose_port`)."""
    port = choose_port(worker.metrics_port, worker.metrics_host, service="worker")
    data_dir = worker.data_dir or os.path.join(tempfile.gettempdir(), f"spendwatch-{worker.group_id}-{os.getpid()}")
    app = faust.App(
        worker.group_id,
        broker=[f"kafka://{h}" for h in kafka.bootstrap_servers.split(",")],
        broker_credentials=faust_credentials(kafka),
        broker_client_id=kafka.client_id,
        datadir=data_dir,
        web_enabled=port > 0,
        web_bind=worker.metrics_host,
        web_port=port or WORKER_PORT,
        web_host=worker.metrics_host,
        producer_acks=-1,
        producer_max_request_size=16 << 20,
        producer_linger_ms=5,
        topic_disable_leader=True,
        loghandlers=loghandlers or [],
    )
    app.producer_only = True  # no agents, so no faust consumer group: the batch consumer reads the inputs

    @app.page("/metrics")
    async def _metrics(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    @app.page("/healthz")
    async def _health(web: Any, request: Any) -> Any:
        return web.json({"ok": True})

    return app


class WorkerService(mode.Service):
    """Runs a BatchWorker inside the faust app: started after the producer, stopped before it."""

    def __init__(self, build: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._build = build
        self.batch: BatchWorker | None = None
        self._task: asyncio.Future[None] | None = None

    async def on_started(self) -> None:
        self.batch = self._build()
        await self.batch.start()
        self._task = asyncio.ensure_future(self.batch.run())

    async def on_stop(self) -> None:
        if self.batch is not None and self._task is not None:
            self.batch.stop()
            await self._task  # final checkpoint: flush, snapshot, commit, leave the group
