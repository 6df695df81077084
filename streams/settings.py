"""``worker`` settings section: how the stream worker consumes, checkpoints and reports.

Every field can be set in the settings file (``worker:`` section), as an environment
override (``SPENDWATCH__WORKER__<FIELD>``) or on the ``spendwatch worker`` command line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerSettings:
    """``worker`` section.

    group_id: consumer group of the batch consumer (and the faust app id); workers with the
        same group split the input partitions.
    partitions / replication: used when the worker creates missing topics. Present input
        topics must all have the same partition count (co-partitioning), else the worker refuses
        to start.
    batch_max_records: most records one ``getmany`` returns; larger batches amortise the
        per-call cost, smaller ones bound latency and memory.
    checkpoint_interval_s: how often (wall time) each partition's Engine is snapshotted
        together with the input offsets it covers; after a crash at most this much input
        is processed again (idempotent: same anomaly ids).
    max_buffered: events a partition may hold back while it waits for a slower input topic
        (event-time alignment); above this its faster topics are paused.
    idle_partition_s: an input partition that delivered nothing for this long no longer holds
        back event time for the others (a topic with no traffic must not stall the rest).
    metrics_host / metrics_port: the faust web server serving ``/metrics``; 0 disables it.
    session_timeout_s / heartbeat_interval_s: consumer group liveness; a killed worker's
        partitions move to the others after about the session timeout.
    guarantee: ``auto`` (exactly once where the broker has transactions, else at-least-once
        with stable ids, logged at start), ``exactly_once`` (refuse to start without
        transactions) or ``at_least_once``.
    transaction_timeout_s: the broker aborts a transaction left open this long (a worker that
        hangs without dying); keep it well above ``checkpoint_interval_s``.
    max_lead_s / lead_wait_s: event-time alignment bound: records more than ``max_lead_s`` of
        event time ahead of the newest event of a caught-up input topic wait up to
        ``lead_wait_s`` of wall time for that topic to deliver (a producer stalled by a broker
        failover), or until the partition has received nothing for 0.5 s (the end of the input)
        (docs/worker.md, the alignment limit).
    audit_topic: when set, every processed input offset range is written there, committed with
        the outputs (an audit trail of exactly-once processing; the tests read it).
    state_segment_ms / state_min_cleanable_dirty_ratio: the compacted state topic's segment roll
        time and cleaning threshold, when the worker creates it.
    """

    group_id: str = "spendwatch-worker"
    partitions: int = 8
    replication: int = 1
    batch_max_records: int = 10_000
    checkpoint_interval_s: float = 5.0
    max_buffered: int = 200_000
    idle_partition_s: float = 2.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 6066
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 3.0
    data_dir: str | None = None
    create_topics: bool = True
    guarantee: str = "auto"
    transaction_timeout_s: float = 60.0
    max_lead_s: float = 600.0
    lead_wait_s: float = 30.0
    audit_topic: str | None = None
    state_segment_ms: int = 3_600_000
    state_min_cleanable_dirty_ratio: float = 0.5
