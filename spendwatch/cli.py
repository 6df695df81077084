"""`spendwatch` command line: one sub-command per module in ``spendwatch.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from spendwatch import __version__
from spendwatch.errors import SpendwatchError

# Sub-command modules, in the order `--help` lists them.
COMMAND_MODULES = [
    "replay",
    "worker",
    "broker",
    "kafka_local",
    "demo",
    "collect",
    "emit",
    "simulate",
    "anomalies",
    "alerter",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spendwatch",
        description="Catch AI spend and GPU waste while it happens, and tell the owner.",
    )
    parser.add_argument("--version", action="version", version=f"spendwatch {__version__}")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"spendwatch.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpendwatchError as exc:
        print(f"spendwatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
