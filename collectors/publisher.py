"""Publishing collector events to Kafka through a bounded on-disk spool.

Every event is validated, keyed per the contract and *appended to the spool first*
(SQLite in WAL mode under ``spool_dir``); a background thread sends the spool's head to
Kafka in order and deletes what the broker acknowledged (acks=all). So:

- a broker outage costs nothing: events wait on disk and go out in order once it is back;
- a collector restart loses nothing that was spooled (the next process sends it);
- delivery is at least once: a crash between the broker's ack and the delete re-sends that
  batch (the pipeline downstream is idempotent, see BROKER.md).

Overflow: the spool is bounded by ``max_events`` and ``max_bytes``. When full, the *oldest*
events are dropped (fresh GPU samples matter more than stale ones), counted in
``spendwatch_publisher_dropped`` and logged.

Transports: :class:`KafkaTransport` (kafka-python, the same TLS/SASL settings as the worker via
:class:`spendwatch.kafka.KafkaConfig`) and :class:`StdoutTransport` (``--stdout``: JSON lines).
:class:`KafkaTransport` picks each record's partition itself, by the contract's partition rule
(:func:`spendwatch.contract.partition_for`: a node's GPU samples share a partition).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from collectors.state import state_dir
from spendwatch.config import Settings
from spendwatch.contract import FEEDBACK, IDLE_KINDS, TOPICS, kafka_key, partition_for
from spendwatch.errors import ConfigError, ExternalError
from spendwatch.events import encode, validate
from spendwatch.kafka import KafkaConfig, kafka_config

log = logging.getLogger(__name__)

Record = tuple[str, bytes, bytes]  # topic, key, value


class TransportError(ExternalError):
    """The transport could not deliver (broker unreachable, timed out, refused)."""


class Transport(Protocol):
    def send(self, records: Sequence[Record]) -> int:
        """Deliver ``records`` in order; return how many from the start were acknowledged.

        Raises TransportError when none could be (the broker is unreachable).
        """

    def close(self) -> None: ...


class StdoutTransport:
    """Writes each event value as one JSON line (``--stdout``): handy for trying a collector."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self.stream = stream or sys.stdout.buffer

    def send(self, records: Sequence[Record]) -> int:
        for _topic, _key, value in records:
            self.stream.write(value + b"\n")
        self.stream.flush()
        return len(records)

    def close(self) -> None:
        self.stream.flush()


class KafkaTransport:
    """kafka-python producer: acks=all, retries, one request in flight per connection (keeps order),
    the partition chosen by the contract's rule (:meth:`partition`)."""

    def __init__(self, config: KafkaConfig, timeout_s: float = 10.0) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._producer: Any = None
        self._types = {config.topic(t): t for t in TOPICS}  # topic -> event type

    def partition(self, topic: str, key: bytes, value: bytes, partitions: int) -> int:
        """The record's partition among ``partitions``: :func:`spendwatch.contract.partition_for` of its
        event type (known from the topic) and key; feedback about an idle kind goes by the node."""
        etype = self._types.get(topic, "")
        kind = None
        if etype == FEEDBACK and any(k.encode() in value for k in IDLE_KINDS):  # rare: read its kind
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError):  # validated when spooled
                kind = orjson.loads(value).get("kind")
        return partition_for(etype, key.decode("utf-8", "replace"), partitions, kind)

    def _connect(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            try:
                self._producer = KafkaProducer(
                    **self.config.kafka_python_kwargs(), acks="all", retries=5,
                    max_in_flight_requests_per_connection=1, linger_ms=5,
                    request_timeout_ms=int(self.timeout_s * 1000), max_block_ms=int(self.timeout_s * 1000),
                    retry_backoff_ms=200, reconnect_backoff_max_ms=2000)
            except KafkaError as exc:
                raise TransportError(f"cannot reach Kafka at {self.config.bootstrap_servers}: "
                                     f"{type(exc).__name__}: {exc}") from None
        return self._producer

    def send(self, records: Sequence[Record]) -> int:
        from kafka.errors import KafkaError

        producer = self._connect()
        futures = []
        counts: dict[str, int] = {}
        try:
            for topic, key, value in records:
                if topic not in counts:  # waits for the topic's metadata (up to max_block_ms)
                    counts[topic] = len(producer.partitions_for(topic) or ()) or 1
                part = self.partition(topic, key, value, counts[topic])
                futures.append(producer.send(topic, key=key, value=value, partition=part))
            producer.flush(timeout=self.timeout_s)
        except KafkaError as exc:
            log.debug("kafka send failed: %s", exc)
        done = 0
        first_error: Exception | None = None
        for f in futures:
            if f.is_done and f.succeeded():
                done += 1
                continue
            first_error = f.exception if f.is_done else TimeoutError("not acknowledged in time")
            break
        if done == 0 and records:
            self.close()  # start from a clean producer when the broker comes back
            raise TransportError(f"Kafka at {self.config.bootstrap_servers} did not acknowledge: "
                                 f"{type(first_error).__name__}: {first_error}")
        return done

    def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):  # closing a producer to a dead broker may fail; it is gone
                self._producer.close(timeout=1)
            self._producer = None


class Spool:
    """An ordered, bounded, crash-safe on-disk queue (SQLite WAL) of records awaiting delivery."""

    def __init__(self, path: str | Path, max_events: int = 1_000_000, max_bytes: int = 512 * 1024**2) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events, self.max_bytes = max_events, max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; WAL keeps order
        self._db.execute("CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "topic TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, size INTEGER NOT NULL)")
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool").fetchone()
        self.count, self.bytes = int(row[0]), int(row[1])
        self.dropped = 0

    def append(self, records: Sequence[Record]) -> int:
        """Append in order; returns how many old records were dropped to stay within bounds."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (topic, key, value, size) VALUES (?, ?, ?, ?)",
                                 [(t, k, v, len(k) + len(v)) for t, k, v in records])
            self.count += len(records)
            self.bytes += sum(len(k) + len(v) for _t, k, v in records)
            dropped = 0
            while self.count > self.max_events or (self.bytes > self.max_bytes and self.count > 1):
                excess = max(self.count - self.max_events, 1)
                rows = self._db.execute("SELECT seq, size FROM spool ORDER BY seq LIMIT ?", (excess,)).fetchall()
                if not rows:
                    break
                self._db.execute("DELETE FROM spool WHERE seq <= ?", (rows[-1][0],))
                self.count -= len(rows)
                self.bytes -= sum(r[1] for r in rows)
                dropped += len(rows)
            self._db.execute("COMMIT")
            self.dropped += dropped
            return dropped

    def head(self, n: int) -> list[tuple[int, Record]]:
        with self._lock:
            rows = self._db.execute("SELECT seq, topic, key, value FROM spool ORDER BY seq LIMIT ?", (n,)).fetchall()
        return [(int(r[0]), (str(r[1]), bytes(r[2]), bytes(r[3]))) for r in rows]

    def remove_through(self, seq: int) -> None:
        with self._lock:
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool WHERE seq <= ?",
                                   (seq,)).fetchone()
            self._db.execute("DELETE FROM spool WHERE seq <= ?", (seq,))
            self.count -= int(row[0])
            self.bytes -= int(row[1])

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(frozen=True)
class PublisherConfig:
    """``publisher`` section."""

    spool_dir: str = ""  # default: $SPENDWATCH_SPOOL_DIR, else <state dir>/spool (collectors/state.py)
    max_spool_events: int = 1_000_000
    max_spool_bytes: int = 512 * 1024**2
    batch: int = 500
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0


class Publisher:
    """Validates, keys and spools events; a background thread delivers the spool in order."""

    def __init__(self, kafka: KafkaConfig, transport: Transport, spool: Spool, batch: int = 500,
                 retry_initial_s: float = 0.5, retry_max_s: float = 30.0,
                 registry: CollectorRegistry | None = None, start: bool = True) -> None:
        self.kafka, self.transport, self.spool = kafka, transport, spool
        self.batch = batch
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        r = registry or CollectorRegistry()
        self.m_published = Counter("spendwatch_publisher_delivered", "events acknowledged by the broker",
                                   registry=r)
        self.m_dropped = Counter("spendwatch_publisher_dropped", "spooled events dropped on overflow (oldest)",
                                 registry=r)
        self.m_spooled = Gauge("spendwatch_publisher_spooled", "events waiting in the spool", registry=r)
        self.m_up = Gauge("spendwatch_publisher_broker_up", "1 when the last send reached the broker", registry=r)
        self.delivered = 0
        self.remove_spool_dir = False
        self._wake = threading.Condition()
        self._stop = False
        self._broker_down_since: float | None = None
        self._thread: threading.Thread | None = None
        self.m_spooled.set(spool.count)
        if spool.count:
            log.info("spool %s holds %d event(s) from before; delivering them first", spool.path, spool.count)
        if start:
            self._thread = threading.Thread(target=self._loop, name="spendwatch-publisher", daemon=True)
            self._thread.start()

    @classmethod
    def create(cls, kafka: KafkaConfig, config: PublisherConfig, transport: Transport | None = None,
               registry: CollectorRegistry | None = None, name: str = "events") -> Publisher:
        spool_dir = Path(config.spool_dir) if config.spool_dir else state_dir() / "spool"
        spool = Spool(spool_dir / f"{name}.sqlite", config.max_spool_events, config.max_spool_bytes)
        return cls(kafka, transport or KafkaTransport(kafka), spool, config.batch, config.retry_initial_s,
                   config.retry_max_s, registry)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: Sequence[dict[str, Any]]) -> None:
        """Validate (BadEvent on a contract violation: a bug in the caller), key and spool."""
        records = []
        for ev in events:
            validate(ev)
            records.append((self.kafka.topic(ev["type"]), kafka_key(ev).encode(), encode(ev)))
        dropped = self.spool.append(records)
        if dropped:
            self.m_dropped.inc(dropped)
            log.warning("spool %s is full (%d events / %d bytes max): dropped the %d oldest event(s), %d in all",
                        self.spool.path, self.spool.max_events, self.spool.max_bytes, dropped, self.spool.dropped)
        self.m_spooled.set(self.spool.count)
        with self._wake:
            self._wake.notify()

    def pump(self) -> int:
        """Send the spool's head once; returns how many were delivered (raises TransportError)."""
        head = self.spool.head(self.batch)
        if not head:
            return 0
        n = self.transport.send([r for _seq, r in head])
        if n:
            self.spool.remove_through(head[n - 1][0])
            self.delivered += n
            self.m_published.inc(n)
            self.m_spooled.set(self.spool.count)
        return n

    def _loop(self) -> None:
        delay = self.retry_initial_s
        while True:
            with self._wake:
                while not self._stop and self.spool.count == 0:
                    self._wake.wait(1.0)
                if self._stop:
                    return
            try:
                self.pump()
            except TransportError as exc:
                self.m_up.set(0)
                if self._broker_down_since is None:
                    self._broker_down_since = time.monotonic()
                    log.error("%s; spooling to %s (%d waiting) and retrying with backoff", exc, self.spool.path,
                              self.spool.count)
                with self._wake:
                    self._wake.wait(delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            except Exception:  # noqa: BLE001 - the delivery thread must survive anything and retry
                log.exception("unexpected error while delivering the spool; retrying")
                with self._wake:
                    self._wake.wait(delay)
                delay = min(self.retry_max_s, delay * 2)
                continue
            if self._broker_down_since is not None:
                log.warning("broker reachable again after %.0fs; delivering %d spooled event(s) in order",
                            time.monotonic() - self._broker_down_since, self.spool.count)
                self._broker_down_since = None
            self.m_up.set(1)
            delay = self.retry_initial_s

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until the spool is empty (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        while self.spool.count and time.monotonic() < deadline:
            if self._thread is None:
                try:
                    self.pump()
                except TransportError:
                    time.sleep(0.05)
            else:
                with self._wake:
                    self._wake.notify()
                time.sleep(0.02)
        return self.spool.count == 0

    def close(self, flush_timeout_s: float = 5.0) -> None:
        """Try to deliver what is spooled, then stop; what is left stays on disk for the next run."""
        self.flush(flush_timeout_s)
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=flush_timeout_s + 5)
        self.transport.close()
        self.spool.close()
        if self.remove_spool_dir:  # a throw-away spool (--stdout)
            import shutil

            shutil.rmtree(self.spool.path.parent, ignore_errors=True)


def publisher_from_settings(settings: Settings, name: str, stdout: IO[bytes] | None = None,
                            transport: Transport | None = None, environ: dict[str, str] | None = None,
                            registry: CollectorRegistry | None = None) -> Publisher:
    """The publisher a collector command uses.

    ``stdout`` given: events are written there as JSON lines (through a throw-away spool). Otherwise
    to Kafka (``transport`` overrides, for tests) through the spool in ``publisher.spool_dir``,
    ``$SPENDWATCH_SPOOL_DIR`` or ``<state dir>/spool``; a spool that cannot be created is a ConfigError.
    """
    import os
    import tempfile

    env = os.environ if environ is None else environ
    kcfg = kafka_config(settings)
    pcfg = settings.build(PublisherConfig, "publisher")
    if stdout is not None:
        tmp = PublisherConfig(spool_dir=tempfile.mkdtemp(prefix="spendwatch-stdout-"))
        pub = Publisher.create(kcfg, tmp, transport=StdoutTransport(stdout), registry=registry, name=name)
        pub.remove_spool_dir = True
        return pub
    if env.get("SPENDWATCH_SPOOL_DIR"):
        pcfg = PublisherConfig(**{**pcfg.__dict__, "spool_dir": env["SPENDWATCH_SPOOL_DIR"]})
    where = pcfg.spool_dir or str(state_dir(env) / "spool")
    try:
        return Publisher.create(kcfg, PublisherConfig(**{**pcfg.__dict__, "spool_dir": where}), transport=transport,
                                registry=registry,
                                name=name)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"publisher.spool_dir: cannot use {where}: {exc} (set SPENDWATCH_SPOOL_DIR, "
                          f"SPENDWATCH_STATE_DIR or publisher.spool_dir)") from None
