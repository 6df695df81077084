"""`spendwatch report [--since 7d | --from T --to T] [--format md|html|csv|json] [--out FILE]`.

The FinOps report over any range, from the history store alone (``--db URL``, else
``SPENDWATCH_DB``, else the default SQLite file); budgets come from the ``budgets`` section of
``--config``. The driver is :func:`api.report.build_report`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from spendwatch.cli.output import dumps
from spendwatch.cli.settings import load as load_settings
from spendwatch.errors import ConfigError
from spendwatch.forecast import BudgetsConfig
from spendwatch.history import open_store, parse_duration, parse_time
from spendwatch.teams import unallocated_team


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="the FinOps report: spend, waste, GPU idle share, unit costs, savings, budgets (md, html, csv, json)",
        description="A report over any range from the history store alone: spend by team, workload, model and "
                    "service (showback); waste by kind and owner (the anomalies, as 'spendwatch anomalies summary' "
                    "counts them) and structural waste (the insights); GPU idle share by team; unit costs per "
                    "model and their trend; the top savings opportunities in $/month with the action; budgets "
                    "against month-end forecasts. Markdown by default; HTML has plots.",
    )
    p.add_argument("--db", metavar="URL", help="history store URL (default: $SPENDWATCH_DB, else "
                                                "~/.local/share/spendwatch/history.db)")
    p.add_argument("--config", metavar="FILE", help="settings file: its budgets section is judged")
    p.add_argument("--since", metavar="DURATION", help="the last DURATION (default: 7d)")
    p.add_argument("--from", dest="from_", metavar="TIME", help="from TIME (epoch s or ISO 8601)")
    p.add_argument("--to", metavar="TIME", help="to TIME (default: now)")
    p.add_argument("--now", metavar="TIME", help=argparse.SUPPRESS)  # pins "now" in tests
    p.add_argument("--format", choices=("md", "html", "csv", "json"), default=None,
                   help="output format (default: from --out's suffix, else md)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--out", metavar="FILE", help="write the report here (default: stdout)")
    p.set_defaults(func=run)


def _range(args: argparse.Namespace) -> tuple[float, float]:
    now = parse_time(args.now) if args.now else time.time()
    to_ts = parse_time(args.to) if args.to else now
    if args.from_:
        from_ts = parse_time(args.from_)
    else:
        from_ts = to_ts - parse_duration(args.since or "7d")
    if from_ts >= to_ts:
        raise ConfigError("--from/--since must be before --to")
    return from_ts, to_ts


def run(args: argparse.Namespace) -> int:
    from api.report import build_report, render

    fmt = "json" if args.json else args.format
    if fmt is None:
        suffix = (args.out or "").rsplit(".", 1)[-1].lower() if args.out and "." in args.out else ""
        fmt = {"html": "html", "htm": "html", "csv": "csv", "json": "json"}.get(suffix, "md")
    from_ts, to_ts = _range(args)
    settings = load_settings(args.config)
    budgets = settings.build(BudgetsConfig, "budgets")
    with open_store(args.db) as store:
        rep = build_report(store, from_ts, to_ts, budgets, unallocated_team(settings))
    text = dumps(rep, indent=True) + "\n" if fmt == "json" else render(rep, fmt)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"report: {fmt} written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
