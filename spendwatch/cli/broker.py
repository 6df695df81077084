"""`spendwatch broker`: a local in-memory Kafka-protocol broker (Tansu) for trying the worker by hand.

The driver is :func:`streams.broker.serve_broker`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spendwatch.cli.output import port


def register(sub: Any) -> None:
    p = sub.add_parser(
        "broker",
        help="start a local in-memory Kafka-protocol broker (Tansu) and print its address",
        description="Start Tansu on 127.0.0.1 (memory only: everything is gone when it stops), print the "
                    "bootstrap address, and run until Ctrl-C or SIGTERM. For trying the worker by hand: "
                    "export SPENDWATCH_KAFKA=<printed address>. Not a production broker.",
    )
    p.add_argument("--port", type=port, default=9092, help="port to listen on (default 9092; 0 = any free port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.broker import serve_broker

    def ready(bootstrap: str) -> None:
        print(bootstrap, flush=True)
        print(f"local Tansu broker on {bootstrap} (memory only); export SPENDWATCH_KAFKA={bootstrap}; "
              f"Ctrl-C stops it", file=sys.stderr, flush=True)

    code = serve_broker(args.port, ready)
    if code is not None:
        print(f"broker exited with code {code}", file=sys.stderr)
        return 1
    return 0
