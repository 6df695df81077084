"""`spendwatch alerter`: consume spendwatch.anomalies, record history, route alerts (work in progress)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("alerter", help="consume anomalies from Kafka, record history and send alerts")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("spendwatch alerter: not implemented yet")
    return 2
