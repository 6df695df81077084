"""`spendwatch broker`: a local in-memory Kafka-protocol broker (Tansu) for trying the worker by hand."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "broker",
        help="start a local in-memory Kafka-protocol broker (Tansu) and print its address",
        description="Start Tansu on 127.0.0.1 (memory only: everything is gone when it stops), print the "
                    "bootstrap address, and run until Ctrl-C or SIGTERM. For trying the worker by hand: "
                    "export SPENDWATCH_KAFKA=<printed address>. Not a production broker.",
    )
    p.add_argument("--port", type=int, default=9092, help="port to listen on (default 9092; 0 = any free port)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.broker import LocalBroker

    broker = LocalBroker(port=args.port or None).start()
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(broker.bootstrap, flush=True)
    print(f"local Tansu broker on {broker.bootstrap} (memory only); export SPENDWATCH_KAFKA={broker.bootstrap}; "
          f"Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        while not stop:
            if broker.process is not None and broker.process.poll() is not None:
                print(f"broker exited with code {broker.process.returncode}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    finally:
        broker.stop()
    return 0
