"""Prometheus metrics of one worker (own registry, so several workers can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class WorkerMetrics:
    """Counters are bumped once per batch, not per event: the hot path stays cheap."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events_in = Counter("spendwatch_events_in", "Valid input events processed", ["topic"], registry=r)
        self.bad_events = Counter("spendwatch_bad_events", "Input records that are not contract events "
                                  "(dead-lettered)", ["topic", "field"], registry=r)
        self.anomalies_out = Counter("spendwatch_anomalies_out", "Anomaly events published", ["kind", "state"],
                                     registry=r)
        self.event_time_lag = Gauge("spendwatch_event_time_lag_seconds", "Wall time minus the partition's "
                                    "event-time watermark", ["partition"], registry=r)
        self.snapshot_age = Gauge("spendwatch_snapshot_age_seconds", "Seconds since the partition's last "
                                  "durable snapshot", ["partition"], registry=r)
        self.snapshots = Counter("spendwatch_snapshots", "Partition snapshots written", registry=r)
        self.batch_size = Histogram("spendwatch_batch_records", "Records per consumer fetch", registry=r,
                                    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000))
        self.buffered = Gauge("spendwatch_buffered_events", "Events held back for event-time alignment",
                              registry=r)
        self.assigned = Gauge("spendwatch_assigned_partitions", "Partition numbers this worker owns", registry=r)
        self.owned = Gauge("spendwatch_partition_owned", "1 for each partition number this worker owns, 0 once "
                           "revoked", ["partition"], registry=r)
        self.restored = Counter("spendwatch_partitions_restored", "Partitions whose Engine was restored from a "
                                "snapshot on assignment", registry=r)
        self.split = Gauge("spendwatch_split_partitions", "Owned partition numbers of which some input topic is "
                           "assigned to another worker (unequal partition counts)", registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
