"""`spendwatch worker`: the stream processor (see streams/ and docs/worker.md)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from spendwatch.cli.flags import add_config, add_db, add_group, add_kafka, add_metrics, alias
from spendwatch.cli.output import positive_float, positive_int
from spendwatch.cli.settings import load as load_settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="consume the input topics, detect, publish anomaly events (Kafka from SPENDWATCH_KAFKA)",
        description="The stream processor: reads the four input topics in batches, validates (bad input goes "
                    "to the dead-letter topic), runs the detectors with one Engine per partition, publishes "
                    "anomaly events keyed by id, and checkpoints Engine state with its input offsets. Broker "
                    "from SPENDWATCH_KAFKA (default localhost:9092); TLS/SASL from SPENDWATCH_KAFKA_*.",
    )
    add_config(p)
    add_kafka(p)
    add_group(p, None)
    p.add_argument("--partitions", type=positive_int, metavar="N", help="partitions for topics the worker creates")
    p.add_argument("--replication", type=positive_int, metavar="N", help="replication factor for topics it creates")
    p.add_argument("--no-create-topics", action="store_true", help="only verify topics, never create them")
    add_metrics(p, None, None, what="the worker settings: 6066 on 127.0.0.1")
    p.add_argument("--checkpoint-interval", type=positive_float, metavar="SECONDS",
                   help="snapshot + commit every SECONDS")
    p.add_argument("--session-timeout", type=positive_float, metavar="SECONDS", help="consumer group session timeout")
    p.add_argument("--heartbeat-interval", type=positive_float, metavar="SECONDS",
                   help="consumer group heartbeat interval")
    p.add_argument("--data-dir", metavar="DIR", help="faust data directory")
    p.add_argument("--exit-when-idle", type=positive_float, metavar="SECONDS",
                   help="checkpoint and exit 0 once no input arrived for S seconds (demos, batch runs)")
    p.add_argument("--log-format", choices=("text", "json"), default="text", help="log lines as text or JSON")
    add_db(p, help="also record every anomaly event in this history store (default: not recorded)")
    alias(p, "--history", "db")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spendwatch.kafka import kafka_config
    from streams.runner import run_worker
    from streams.settings import WorkerSettings

    settings = load_settings(args.config)
    kafka = kafka_config(settings)
    if args.bootstrap:
        kafka = replace(kafka, bootstrap_servers=args.bootstrap)
    if args.topic_prefix is not None:
        kafka = replace(kafka, topic_prefix=args.topic_prefix)
    worker = settings.build(WorkerSettings, "worker")
    over = {"group_id": args.group, "partitions": args.partitions, "replication": args.replication,
            "metrics_port": args.metrics_port, "metrics_host": args.metrics_host,
            "checkpoint_interval_s": args.checkpoint_interval, "session_timeout_s": args.session_timeout,
            "heartbeat_interval_s": args.heartbeat_interval, "data_dir": args.data_dir}
    worker = replace(worker, **{k: v for k, v in over.items() if v is not None})
    if args.no_create_topics:
        worker = replace(worker, create_topics=False)
    result = run_worker(settings, kafka, worker, exit_when_idle_s=args.exit_when_idle,
                        log_level=str(args.log_level).upper(), log_format=args.log_format, history_url=args.db)
    return result.exit_code
