"""`spendwatch alerter`: consume spendwatch.anomalies, record the history, route alerts.

The driver is :func:`streams.alerter.run_alerter`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from spendwatch.cli.flags import add_config, add_db, add_group, add_kafka, add_metrics, alias, apply_kafka
from spendwatch.cli.output import positive_float, positive_int
from spendwatch.cli.settings import load as load_settings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "alerter",
        help="consume anomalies from Kafka, record their history and send alerts (Slack or console)",
        description="Consume the spendwatch.anomalies topic, record every anomaly event in the history store "
                    "(--db / SPENDWATCH_DB) and route alerts (Slack when SPENDWATCH_SLACK_TOKEN[_FILE] is set, "
                    "else the console). Offsets are committed after recording.",
    )
    add_config(p)
    add_db(p)
    add_kafka(p)
    add_group(p, "spendwatch-alerter")
    alias(p, "--group-id", "group")
    add_metrics(p, 9466)
    alias(p, "--metrics-addr", "metrics_host")
    p.add_argument("--flush-interval", type=positive_float, default=1.0, metavar="SECONDS",
                   help="deliver due alerts at least this often (default: 1)")
    p.add_argument("--session-timeout", type=positive_float, default=10.0, metavar="SECONDS",
                   help="Kafka consumer group session timeout (default: 10)")
    alias(p, "--session-timeout-ms", "session_timeout_ms", type=positive_int)  # the old spelling, milliseconds
    p.add_argument("--exit-when-idle", type=positive_float, default=None, metavar="SECONDS",
                   help=argparse.SUPPRESS)  # tests
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerting.environment import alert_environment
    from streams.alerter import AlerterOptions, run_alerter

    apply_kafka(args)
    timeout_ms = getattr(args, "session_timeout_ms", None) or round(args.session_timeout * 1000)
    options = AlerterOptions(db=args.db, group_id=args.group, metrics_port=args.metrics_port,
                             metrics_addr=args.metrics_host, flush_interval_s=args.flush_interval,
                             session_timeout_ms=timeout_ms, exit_when_idle_s=args.exit_when_idle,
                             alert_environment=alert_environment(os.environ))
    return run_alerter(load_settings(args.config), options)
