"""`spendwatch alerter`: consume spendwatch.anomalies, record the history, route alerts.

The driver is :func:`streams.alerter.run_alerter`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from spendwatch.cli.settings import load as load_settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerter",
        help="consume anomalies from Kafka, record their history and send alerts (Slack or console)",
        description="Consume the spendwatch.anomalies topic, record every anomaly event in the history store "
                    "(--db / SPENDWATCH_DB) and route alerts (Slack when SPENDWATCH_SLACK_TOKEN[_FILE] is set, "
                    "else the console). Offsets are committed after recording.",
    )
    p.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    p.add_argument("--db", metavar="URL", help="history store URL (default: $SPENDWATCH_DB or the SQLite file)")
    p.add_argument("--group-id", default="spendwatch-alerter", help="Kafka consumer group (default: %(default)s)")
    p.add_argument("--metrics-port", type=int, default=9466, help="Prometheus /metrics port, 0 = off (default: 9466)")
    p.add_argument("--metrics-addr", default="127.0.0.1", help="address /metrics binds to (default: 127.0.0.1)")
    p.add_argument("--flush-interval", type=float, default=1.0, metavar="S",
                   help="deliver due alerts at least this often (default: 1 s)")
    p.add_argument("--session-timeout-ms", type=int, default=10000, help="Kafka consumer session timeout")
    p.add_argument("--exit-when-idle", type=float, default=None, metavar="S", help=argparse.SUPPRESS)  # tests
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerting.environment import alert_environment
    from streams.alerter import AlerterOptions, run_alerter

    options = AlerterOptions(db=args.db, group_id=args.group_id, metrics_port=args.metrics_port,
                             metrics_addr=args.metrics_addr, flush_interval_s=args.flush_interval,
                             session_timeout_ms=args.session_timeout_ms, exit_when_idle_s=args.exit_when_idle,
                             alert_environment=alert_environment(os.environ))
    return run_alerter(load_settings(args.config), options)
