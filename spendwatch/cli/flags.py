"""Flags that mean the same on every command, added by one function each so their names agree.

- :func:`add_config`: ``--config FILE`` (every command that reads settings);
- :func:`add_db`: ``--db URL`` (every command that reads or writes the history store);
- :func:`add_kafka`: ``--bootstrap HOST:PORT`` and ``--topic-prefix PREFIX`` (every command that
  talks to Kafka), standing for ``SPENDWATCH_KAFKA`` and ``SPENDWATCH_TOPIC_PREFIX``;
- :func:`add_group`, :func:`add_metrics`: ``--group ID``, ``--metrics-host ADDR`` /
  ``--metrics-port PORT`` (the long-running consumers);
- :func:`alias`: an old spelling kept working, hidden from ``--help`` (the flag table in
  docs/cli.md lists them).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from spendwatch.cli.output import port

DB_HELP = "history store URL (default: $SPENDWATCH_DB, else ~/.local/share/spendwatch/history.db)"


def add_config(p: argparse.ArgumentParser, what: str = "") -> None:
    p.add_argument("--config", metavar="FILE", help=f"settings file (YAML or JSON){what}; SPENDWATCH__SECTION__KEY "
                                                    f"variables override it")


def add_db(p: argparse.ArgumentParser, **kw: Any) -> None:
    p.add_argument("--db", metavar="URL", help=kw.pop("help", DB_HELP), **kw)


def add_kafka(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", metavar="HOST:PORT",
                   help="Kafka bootstrap servers (default: $SPENDWATCH_KAFKA, else the kafka settings, localhost:9092)")
    p.add_argument("--topic-prefix", metavar="PREFIX", help="prefix of every topic (default: $SPENDWATCH_TOPIC_PREFIX)")


def apply_kafka(args: argparse.Namespace) -> None:
    """The Kafka flags stand for their variables: drivers read ``SPENDWATCH_KAFKA`` through
    :func:`spendwatch.kafka.kafka_config`, so a flag given sets it for this process."""
    if getattr(args, "bootstrap", None):
        os.environ["SPENDWATCH_KAFKA"] = args.bootstrap
    if getattr(args, "topic_prefix", None) is not None:
        os.environ["SPENDWATCH_TOPIC_PREFIX"] = args.topic_prefix


def add_group(p: argparse.ArgumentParser, default: str | None) -> None:
    p.add_argument("--group", metavar="ID", default=default,
                   help=f"Kafka consumer group (default: {default or 'the worker settings, spendwatch-worker'})")


def add_metrics(p: argparse.ArgumentParser, default_port: int | None, default_host: str | None = "127.0.0.1",
                what: str = "") -> None:
    shown = default_port if default_port is not None else what
    p.add_argument("--metrics-port", type=port, default=default_port, metavar="PORT",
                   help=f"Prometheus /metrics port, 0 = off; when another process holds it, a free one, logged "
                        f"(default: {shown})")
    p.add_argument("--metrics-host", metavar="ADDR", default=default_host,
                   help=f"address /metrics binds to (default: {default_host or what})")


def alias(p: argparse.ArgumentParser, old: str, dest: str, **kw: Any) -> None:
    """``old`` still works and sets ``dest``; hidden from ``--help``."""
    p.add_argument(old, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw)
