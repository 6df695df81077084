"""`spendwatch` command line: one sub-command per module in this package.

Each module parses its arguments, calls one driver (in ``streams/``, ``collectors/``, the
history store or the simulator) and prints what it returns; nothing else. The composition
roots live beside what they compose: the worker and alerter loops, replay, the demo and the
local broker in ``streams/``, the collectors' wiring in ``collectors/``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType

from spendwatch import __version__
from spendwatch.cli.output import stdout_closed
from spendwatch.errors import SpendwatchError

# Sub-command modules (of this package), in the order `--help` lists them; each has
# ``register(subparsers)``. A command line that names one imports only that one: the others pull
# in what they drive (the history store's SQLAlchemy, the simulator), which `replay` never needs.
COMMANDS: dict[str, str] = {
    "replay": "replay",
    "worker": "worker",
    "broker": "broker",
    "kafka-local": "kafka_local",
    "demo": "demo",
    "collect": "collect",
    "emit": "emit",
    "simulate": "simulate",
    "produce": "produce",
    "anomalies": "anomalies",
    "report": "report",
    "alerter": "alerter",
    "serve": "serve",
    "silence": "silence",
}
COMMAND_MODULES = list(COMMANDS)


def command_module(name: str) -> ModuleType:
    """The module of sub-command ``name``."""
    return importlib.import_module(f"spendwatch.cli.{COMMANDS[name]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` one sub-command registered (enough to parse a
    command line that names it: the same arguments, help and errors)."""
    parser = argparse.ArgumentParser(
        prog="spendwatch",
        description="Catch AI spend and GPU waste while it happens, and tell the owner.",
    )
    parser.add_argument("--version", action="version", version=f"spendwatch {__version__}")
    parser.add_argument("--log-level", default="INFO", type=_log_level, metavar="LEVEL",
                        help=f"logging level: {', '.join(LOG_LEVELS)} (default: INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        command_module(name).register(sub)
    return parser


def _command_named(argv: list[str]) -> str | None:
    """The sub-command a command line names, if it is plain to see (else None: the whole parser
    reads it, e.g. for ``--help``, ``--version`` or an unknown command)."""
    skip = False
    for tok in argv:
        if skip:
            skip = False
        elif tok == "--log-level":
            skip = True
        elif tok.startswith("--log-level="):
            continue
        else:
            return tok if tok in COMMANDS else None
    return None


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    level = text.strip().upper()
    if level == "WARN":
        level = "WARNING"
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"unknown level {text!r}; choose from {', '.join(LOG_LEVELS)}")
    return level


def main(argv: list[str] | None = None) -> int:
    """Run one command; a closed stdout (``| head``) ends it quietly with exit 0."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the guard: a reader that left is noticed here, not at exit
        return code
    except BrokenPipeError:
        return stdout_closed()


def _main(argv: list[str] | None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(_command_named(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        build_parser().print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpendwatchError as exc:
        print(f"spendwatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
