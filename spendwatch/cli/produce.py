"""`spendwatch produce FILE...`: JSON lines of contract events onto their Kafka topics, keyed.

The driver is :func:`collectors.produce.produce_files`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spendwatch.cli.flags import add_config, add_kafka, apply_kafka
from spendwatch.cli.output import plural
from spendwatch.cli.settings import load as load_settings
from spendwatch.kafka import kafka_config


def register(sub: Any) -> None:
    p = sub.add_parser(
        "produce",
        help="produce JSON-lines files of contract events to their Kafka topics (e.g. a simulated fleet)",
        description="Send every line of FILE (one contract event per line, as `spendwatch simulate` writes) to "
                    "the topic of its type, keyed by the contract's key, so a running `spendwatch worker` "
                    "processes it. Lines are sent as they are: bad ones reach the worker, which dead-letters "
                    "them. Broker from SPENDWATCH_KAFKA (default localhost:9092), topic prefix from "
                    "SPENDWATCH_TOPIC_PREFIX.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON lines of contract events ('-' = stdin)")
    add_config(p, ": its kafka section")
    add_kafka(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from collectors.produce import produce_files

    apply_kafka(args)
    kafka = kafka_config(load_settings(args.config))
    try:
        total = produce_files(kafka, args.files, stdin=sys.stdin.buffer)
    except OSError as exc:
        print(f"spendwatch produce: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"produced {plural(total, 'event')} to {kafka.bootstrap_servers}", file=sys.stderr)
    return 0
