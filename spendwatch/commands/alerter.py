"""`spendwatch alerter`: consume spendwatch.anomalies, record the history, route alerts.

A separate process from the stream worker, for deployments that want alerting apart (or a
worker that does not alert). Per poll: decode the batch, record it in the history store, hand each
anomaly to the alert pipeline (which persists its decisions in the notification log), *then*
commit the offsets, then deliver what is due. A crash before the commit redelivers the batch;
both the store and the pipeline are idempotent, so that costs nothing but time.
Broker settings come from :func:`spendwatch.kafka.kafka_config` (``SPENDWATCH_KAFKA`` …).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

import orjson

from spendwatch.config import load_settings
from spendwatch.errors import BadEvent, ExternalError
from spendwatch.kafka import kafka_config

log = logging.getLogger("spendwatch.alerter")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerter",
        help="consume anomalies from Kafka, record their history and send alerts (Slack or console)",
        description="Consume the spendwatch.anomalies topic, record every anomaly event in the history store "
                    "(--db / SPENDWATCH_DB) and route alerts (Slack when SPENDWATCH_SLACK_TOKEN[_FILE] is set, "
                    "else the console). Offsets are committed after recording.",
    )
    p.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    p.add_argument("--db", metavar="URL", help="history store URL (default: $SPENDWATCH_DB or the SQLite file)")
    p.add_argument("--group-id", default="spendwatch-alerter", help="Kafka consumer group (default: %(default)s)")
    p.add_argument("--metrics-port", type=int, default=9466, help="Prometheus /metrics port, 0 = off (default: 9466)")
    p.add_argument("--metrics-addr", default="127.0.0.1", help="address /metrics binds to (default: 127.0.0.1)")
    p.add_argument("--flush-interval", type=float, default=1.0, metavar="S",
                   help="deliver due alerts at least this often (default: 1 s)")
    p.add_argument("--session-timeout-ms", type=int, default=10000, help="Kafka consumer session timeout")
    p.add_argument("--exit-when-idle", type=float, default=None, metavar="S", help=argparse.SUPPRESS)  # tests
    p.set_defaults(func=run)


class Metrics:
    """The alerter's Prometheus metrics, on a registry of its own."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.consumed = Counter("spendwatch_alerter_anomaly_events_total", "anomaly events consumed",
                                registry=self.registry)
        self.bad = Counter("spendwatch_alerter_bad_events_total", "values that are not anomaly events",
                           registry=self.registry)
        self.recorded = Counter("spendwatch_history_changes_total", "anomaly events that changed the history",
                                registry=self.registry)
        self.posted = Gauge("spendwatch_alerts_posted", "root messages posted by this process", registry=self.registry)
        self.failures = Gauge("spendwatch_alert_delivery_failures", "failed chat calls (kept and retried)",
                              registry=self.registry)
        self.pending = Gauge("spendwatch_alerts_pending", "chat calls waiting in the outbox", registry=self.registry)

    def serve(self, port: int, addr: str) -> None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=addr, registry=self.registry)


def decode(value: bytes | None) -> dict[str, Any]:
    """One anomaly event from a message value; :class:`BadEvent` when it is not one."""
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON: {exc}") from None
    if not isinstance(event, dict) or event.get("type", "anomaly") != "anomaly" or not isinstance(event.get("id"), str):
        raise BadEvent("not an anomaly event (needs type 'anomaly' and a string id)")
    return event


def run_alerter(args: argparse.Namespace, stop: Callable[[], bool] = lambda: False) -> int:
    """The consume → record → alert → commit loop (``stop`` ends it; also SIGTERM/SIGINT)."""
    from kafka import KafkaConsumer

    from alerting.pipeline import build_alert_pipeline

    settings = load_settings(args.config)
    kcfg = kafka_config(settings)
    pipeline = build_alert_pipeline(settings, store_url=args.db)
    store = pipeline.store
    assert store is not None
    metrics = Metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_addr)
    topic = kcfg.topic("anomaly")
    try:
        consumer = KafkaConsumer(topic, group_id=args.group_id, enable_auto_commit=False,
                                 auto_offset_reset="earliest", isolation_level="read_committed",
                                 session_timeout_ms=args.session_timeout_ms,
                                 heartbeat_interval_ms=max(100, args.session_timeout_ms // 4),
                                 **kcfg.kafka_python_kwargs())
    except Exception as exc:  # noqa: BLE001 - kafka-python raises several unrelated types here
        pipeline.close()
        raise ExternalError(f"alerter: cannot connect to Kafka at {kcfg.bootstrap_servers}: {exc}; "
                            f"is SPENDWATCH_KAFKA right?") from None
    stopping = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread (tests)
            signal.signal(sig, on_signal)
    log.info("alerter: consuming %s from %s as group %s; history in %s", topic, kcfg.bootstrap_servers,
             args.group_id, store.safe_url)
    last_flush = last_data = time.monotonic()
    try:
        while not stopping and not stop():
            batch = consumer.poll(timeout_ms=int(args.flush_interval * 1000), max_records=1000)
            events = []
            for tp, records in batch.items():
                for r in records:
                    try:
                        events.append(decode(r.value))
                    except BadEvent as exc:
                        metrics.bad.inc()
                        log.warning("alerter: %s[%d]@%d skipped: %s", tp.topic, tp.partition, r.offset, exc.reason)
            if batch:
                last_data = time.monotonic()
                if events:
                    metrics.recorded.inc(store.record_many(events))
                    for e in events:
                        pipeline.handle(e)
                    metrics.consumed.inc(len(events))
                consumer.commit()  # after the history and the alert decisions are stored
            if time.monotonic() - last_flush >= args.flush_interval or not batch:
                pipeline.flush()
                last_flush = time.monotonic()
                metrics.posted.set(pipeline.stats.posted)
                metrics.failures.set(pipeline.stats.failures)
                metrics.pending.set(pipeline.pending())
            if args.exit_when_idle is not None and time.monotonic() - last_data > args.exit_when_idle:
                break
    finally:
        pipeline.flush()
        consumer.close()
        pipeline.close()
    return 0


def run(args: argparse.Namespace) -> int:
    return run_alerter(args)
