"""`spendwatch silence add|list|expire`: silences in the history store (see spendwatch/history/silences.py).

The command writes to the database directly (whoever can reach it may silence); the HTTP API
asks for its token instead.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from datetime import UTC, datetime
from typing import Any

from spendwatch.cli.output import print_json
from spendwatch.errors import ConfigError
from spendwatch.history import open_store, parse_duration, parse_time
from spendwatch.history.silences import FIELDS, parse_matcher


def register(sub: Any) -> None:
    p = sub.add_parser("silence", help="add, list or expire silences (matching anomalies are recorded, not posted)",
                       description="Silences keep matching anomalies out of chat for a while; they are still "
                                   "recorded in the history. Matchers: NAME=VALUE (* is a wildcard), NAME!=VALUE, "
                                   f"NAME=~REGEX, NAME!~REGEX on {', '.join(FIELDS)}.")
    inner = p.add_subparsers(dest="silence_command", metavar="{add,list,expire}")
    a = inner.add_parser("add", help="create a silence")
    a.add_argument("matchers", nargs="+", metavar="MATCHER", help="e.g. kind=idle_gpu workload='ml/*'")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--duration", metavar="DURATION", help="how long (e.g. 2h, 1d; default 2h)")
    g.add_argument("--until", metavar="TIME", help="when it ends (epoch s or ISO 8601)")
    a.add_argument("--starts", metavar="TIME", help="when it starts (default: now)")
    a.add_argument("--by", default=None, help="who creates it (default: the login name)")
    a.add_argument("--comment", default="", help="why")
    a.set_defaults(func=run_add)
    ls = inner.add_parser("list", help="active and pending silences (--all: expired too)")
    ls.add_argument("--all", action="store_true", help="include expired silences")
    ls.set_defaults(func=run_list)
    e = inner.add_parser("expire", help="end a silence now")
    e.add_argument("id", metavar="ID", help="silence id (or a unique prefix)")
    e.set_defaults(func=run_expire)
    for q in (a, ls, e):
        q.add_argument("--db", metavar="URL", help="history store URL (default: $SPENDWATCH_DB or the SQLite file)")
        q.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def run_add(args: argparse.Namespace) -> int:
    now = time.time()
    matchers = [parse_matcher(m) for m in args.matchers]
    starts = parse_time(args.starts) if args.starts else None
    begin = starts if starts is not None else now
    ends = parse_time(args.until) if args.until else begin + parse_duration(args.duration or "2h")
    by = args.by or getpass.getuser()
    with open_store(args.db) as store:
        s = store.silences.add(matchers, ends, by, args.comment, starts_at=starts, now=now)
    if args.json:
        print_json(s.as_dict(now))
    else:
        print(f"silence {s.id} ({', '.join(m.text() for m in s.matchers)}) until {_when(s.ends_at)}, by {s.created_by}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    now = time.time()
    states = ("active", "pending", "expired") if args.all else ("active", "pending")
    with open_store(args.db) as store:
        found = store.silences.list(states, now=now)
    if args.json:
        for s in found:
            print_json(s.as_dict(now))
        return 0
    if not found:
        print("no silences", file=sys.stderr)
        return 0
    for s in found:
        print(f"{s.id}  {s.state(now):<8} {_when(s.starts_at)} → {_when(s.ends_at)}  by {s.created_by}  "
              f"{' '.join(m.text() for m in s.matchers)}{'  # ' + s.comment if s.comment else ''}")
    return 0


def run_expire(args: argparse.Namespace) -> int:
    now = time.time()
    with open_store(args.db) as store:
        ids = [s.id for s in store.silences.list(("active", "pending", "expired"), now=now) if s.id.startswith(args.id)]
        if len(ids) != 1:
            raise ConfigError(f"silence expire: {'no' if not ids else 'more than one'} silence with id (prefix) "
                              f"{args.id!r}")
        s = store.silences.expire(ids[0], now=now)
    assert s is not None
    if args.json:
        print_json(s.as_dict(now))
    else:
        print(f"silence {s.id} expired at {_when(s.ends_at)}")
    return 0
