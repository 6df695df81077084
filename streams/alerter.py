"""The alerter: consume spendwatch.anomalies, record the history, route alerts (``spendwatch alerter``).

A separate process from the stream worker, for deployments that want alerting apart (or a
worker that does not alert). Per poll: decode the batch, record it in the history store, hand each
anomaly to the alert pipeline (which persists its decisions in the notification log), *then*
commit the offsets, then deliver what is due. A crash before the commit redelivers the batch;
both the store and the pipeline are idempotent, so that costs nothing but time.
Broker settings come from :func:`spendwatch.kafka.kafka_config` (``SPENDWATCH_KAFKA`` …).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from alerting.environment import AlertEnvironment
from spendwatch.config import Settings
from spendwatch.contract import ANOMALY
from spendwatch.errors import BadEvent, ExternalError
from spendwatch.kafka import kafka_config

log = logging.getLogger("spendwatch.alerter")
OPEN_REFRESH_S = 30.0  # how often the open-anomaly gauges are read from the history store


@dataclass(frozen=True)
class AlerterOptions:
    """How one alerter process runs (the ``spendwatch alerter`` flags).

    Parameters
    ----------
    db
        History store URL (None: ``SPENDWATCH_DB``, else the default SQLite file).
    group_id
        Kafka consumer group.
    metrics_port, metrics_addr
        Where ``/metrics`` is served (port 0: not served).
    flush_interval_s
        Due alerts are delivered at least this often.
    session_timeout_ms
        Kafka consumer group session timeout.
    exit_when_idle_s
        Return once nothing arrived for this long (None: run until a signal or ``stop``).
    alert_environment
        The Slack token, Slack base URL and routes file from the process environment
        (:func:`alerting.environment.alert_environment`); none: console alerts.
    """

    db: str | None = None
    group_id: str = "spendwatch-alerter"
    metrics_port: int = 9466
    metrics_addr: str = "127.0.0.1"
    flush_interval_s: float = 1.0
    session_timeout_ms: int = 10000
    exit_when_idle_s: float | None = None
    alert_environment: AlertEnvironment = field(default_factory=AlertEnvironment)


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
        self.set_aside = Counter("spendwatch_history_set_aside_total", "anomaly events the history could not "
                                 "store (kept in sw_set_aside with the reason)", registry=self.registry)
        self.posted = Gauge("spendwatch_alerts_posted", "root messages posted by this process", registry=self.registry)
        self.failures = Gauge("spendwatch_alert_delivery_failures", "failed chat calls (kept and retried)",
                              registry=self.registry)
        self.pending = Gauge("spendwatch_alerts_pending", "chat calls waiting in the outbox", registry=self.registry)
        # the history's open anomalies, for dashboards (team '' = no team), read every OPEN_REFRESH_S
        self.open = Gauge("spendwatch_open_anomalies", "open anomalies in the history store",
                          ["team", "kind", "severity"], registry=self.registry)
        self.open_waste = Gauge("spendwatch_open_anomalies_waste_usd", "money lost so far to the open anomalies",
                                ["team", "kind"], registry=self.registry)
        self.open_daily = Gauge("spendwatch_open_anomalies_daily_usd", "what the open anomalies cost per day",
                                ["team", "kind"], registry=self.registry)

    def refresh_open(self, store: Any) -> None:
        """Set the open-anomaly gauges from the history store (the source of truth across restarts)."""
        from spendwatch.history import AnomalyQuery

        count: dict[tuple[str, str, str], int] = {}
        money: dict[tuple[str, str], list[float]] = {}
        for a in store.query(AnomalyQuery(states=("open",))):
            team = str((a["workload"] or {}).get("team") or "")
            count[(team, a["kind"], a["severity"])] = count.get((team, a["kind"], a["severity"]), 0) + 1
            m = money.setdefault((team, a["kind"]), [0.0, 0.0])
            m[0] += a["waste_usd"] or 0.0
            m[1] += a["projected_daily_usd"] or 0.0
        for gauge in (self.open, self.open_waste, self.open_daily):
            gauge.clear()  # anomalies that resolved leave no stale series behind
        for key3, n in count.items():
            self.open.labels(*key3).set(n)
        for key2, (waste, daily) in money.items():
            self.open_waste.labels(*key2).set(waste)
            self.open_daily.labels(*key2).set(daily)

    def serve(self, port: int, addr: str) -> int:
        """``/metrics`` on ``addr:port``, or on a free port when that one is taken (logged); the port."""
        from spendwatch.metrics_port import serve_prometheus

        return serve_prometheus(self.registry, port, addr, service="alerter")


def decode(value: bytes | None) -> dict[str, Any]:
    """One anomaly event from a message value; :class:`BadEvent` when it is not one."""
    try:
        event = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON: {exc}") from None
    if not isinstance(event, dict) or event.get("type", ANOMALY) != ANOMALY or not isinstance(event.get("id"), str):
        raise BadEvent("not an anomaly event (needs type 'anomaly' and a string id)")
    return event


def run_alerter(settings: Settings, options: AlerterOptions, stop: Callable[[], bool] = lambda: False) -> int:
    """The consume → record → alert → commit loop (``stop`` ends it; also SIGTERM/SIGINT)."""
    from kafka import KafkaConsumer

    from alerting.pipeline import build_alert_pipeline

    kcfg = kafka_config(settings)
    pipeline = build_alert_pipeline(settings, store_url=options.db, environment=options.alert_environment)
    store = pipeline.store
    assert store is not None
    metrics = Metrics()
    if options.metrics_port:
        metrics.serve(options.metrics_port, options.metrics_addr)
    topic = kcfg.topic(ANOMALY)
    try:
        consumer = KafkaConsumer(topic, group_id=options.group_id, enable_auto_commit=False,
                                 auto_offset_reset="earliest", isolation_level="read_committed",
                                 session_timeout_ms=options.session_timeout_ms,
                                 heartbeat_interval_ms=max(100, options.session_timeout_ms // 4),
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
             options.group_id, store.safe_url)
    last_flush = last_data = time.monotonic()
    last_refresh = float("-inf")
    try:
        while not stopping and not stop():
            batch = consumer.poll(timeout_ms=int(options.flush_interval_s * 1000), max_records=1000)
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
                    before = store.set_aside
                    metrics.recorded.inc(store.record_many(events))
                    metrics.set_aside.inc(store.set_aside - before)
                    for e in events:
                        pipeline.handle(e)
                    metrics.consumed.inc(len(events))
                consumer.commit()  # after the history and the alert decisions are stored
            if time.monotonic() - last_flush >= options.flush_interval_s or not batch:
                pipeline.flush()
                last_flush = time.monotonic()
                metrics.posted.set(pipeline.stats.posted)
                metrics.failures.set(pipeline.stats.failures)
                metrics.pending.set(pipeline.pending())
            if time.monotonic() - last_refresh >= OPEN_REFRESH_S:
                last_refresh = time.monotonic()
                try:
                    metrics.refresh_open(store)
                except Exception as exc:  # noqa: BLE001 - dashboard gauges must never stop alerting
                    log.warning("alerter: open-anomaly gauges not refreshed: %s: %s", type(exc).__name__, exc)
            if options.exit_when_idle_s is not None and time.monotonic() - last_data > options.exit_when_idle_s:
                break
    finally:
        pipeline.flush()
        consumer.close()
        pipeline.close()
    return 0

