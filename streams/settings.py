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
