"""`spendwatch anomalies [filters] [--json]`, `anomalies show ID`, `anomalies summary`.

Reads the history store (``--db URL``, else ``SPENDWATCH_DB``, else the default SQLite file).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from spendwatch.anomaly import INSIGHT_KINDS, KINDS
from spendwatch.cli.output import choice_list, non_negative_float, plural, positive_int, print_json
from spendwatch.errors import ConfigError
from spendwatch.format import anomaly_duration
from spendwatch.history import AnomalyQuery, open_store, parse_duration, parse_time
from spendwatch.history.query import SORT_KEYS
from spendwatch.teams import UNALLOCATED_TEAM, team_of, unallocated_team

_CONTRACT_FIELDS = ("type", "id", "kind", "state", "severity", "workload", "resource", "started_at", "detected_at",
                    "resolved_at", "waste_usd", "projected_daily_usd", "summary", "evidence", "ts")


def _add_filters(p: argparse.ArgumentParser, sub: bool = False) -> None:
    # On a sub-command, options default to SUPPRESS: argparse would otherwise overwrite what was
    # given before the sub-command name (`anomalies --db X summary`) with the sub-parser's default.
    d: dict[str, Any] = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument("--db", metavar="URL", **d, help="history store URL (default: $SPENDWATCH_DB, else "
                                                "~/.local/share/spendwatch/history.db)")
    p.add_argument("--config", metavar="FILE", **d, help="settings file (YAML or JSON): teams.unallocated names the "
                                                         "team of anomalies with no workload")
    g = p.add_argument_group("filters (repeat an option or separate values by commas for any-of)")
    g.add_argument("--since", **d, metavar="DURATION", help="active in the last DURATION (e.g. 7d, 12h, 30m)")
    g.add_argument("--from", **d, dest="from_", metavar="TIME", help="active at or after TIME (epoch s or ISO 8601)")
    g.add_argument("--to", **d, metavar="TIME", help="started at or before TIME (epoch s or ISO 8601)")
    g.add_argument("--now", **d, metavar="TIME", help=argparse.SUPPRESS)  # pins "now" for --since in tests
    checks: dict[str, Any] = {"kind": choice_list(*KINDS, *INSIGHT_KINDS), "state": choice_list("open", "resolved")}
    for name, help_ in (("kind", f"anomaly or insight kind: {', '.join(KINDS + INSIGHT_KINDS)}"),
                        ("team", "workload team; the team of GPUs allocated to nobody is 'unallocated' "
                                 "(teams.unallocated)"),
                        ("owner", "workload owner (e-mail or Slack id)"),
                        ("workload", "workload id; * is a wildcard (e.g. 'ml/*')"),
                        ("resource", "GPU/MIG uuid, resource id or model id"), ("state", "open or resolved")):
        g.add_argument(f"--{name}", action="append", metavar=name.upper(), help=help_,
                       **({"type": checks[name]} if name in checks else {}), **(d or {"default": []}))
    g.add_argument("--severity", **d, choices=("info", "warning", "critical"), help="at least this severity")
    g.add_argument("--min-waste", **d, type=non_negative_float, metavar="USD", help="at least this much lost so far")
    g.add_argument("--insights", **d, action="store_true",
                   help="insights instead of anomalies: structural waste that is reported, not paged (underused "
                        "GPUs and endpoints, batch work on endpoints, redundant training, unit-cost rises, budget "
                        "forecasts, spend growth)")
    g.add_argument("--all-types", **d, action="store_true", help="anomalies and insights together")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "anomalies",
        help="query the anomaly history (list, show ID, summary)",
        description="List anomalies from the history store, newest first. Sub-commands: "
                    "'show ID' (full evidence and event history), 'summary' (waste and count by team, "
                    "owner, kind and day).",
    )
    _add_filters(p)
    p.add_argument("--sort", choices=SORT_KEYS, default="started", help="sort key (default: started)")
    p.add_argument("--asc", action="store_true", help="ascending order (default: descending)")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="at most N rows (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line (the contract's anomaly fields)")
    p.set_defaults(func=run_list)
    inner = p.add_subparsers(dest="anomalies_command", metavar="{show,summary}")
    s = inner.add_parser("show", help="one anomaly with its full evidence and event history")
    s.add_argument("id", metavar="ID", help="anomaly id (or a unique prefix of one)")
    s.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="history store URL")
    s.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="settings file (YAML or JSON)")
    s.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="JSON: the anomaly plus an 'events' list")
    s.set_defaults(func=run_show)
    m = inner.add_parser("summary", help="waste and count by team, owner, kind and day (--insights: of the insights)")
    _add_filters(m, sub=True)
    m.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object")
    m.set_defaults(func=run_summary)


def _values(items: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for item in items for v in item.split(",") if v.strip())


def query_from_args(args: argparse.Namespace) -> AnomalyQuery:
    """The :class:`AnomalyQuery` the command-line filters ask for."""
    now = parse_time(args.now) if args.now else time.time()
    from_ts = parse_time(args.from_) if args.from_ else None
    if args.since:
        since = now - parse_duration(args.since)
        from_ts = since if from_ts is None else max(from_ts, since)
    to_ts = parse_time(args.to) if args.to else None
    if from_ts is not None and to_ts is not None and from_ts > to_ts:
        raise ConfigError("--from/--since is after --to; nothing can match")
    return AnomalyQuery(
        unallocated_team=_unallocated(args),
        from_ts=from_ts, to_ts=to_ts, kinds=_values(args.kind), teams=_values(args.team),
        owners=_values(args.owner), workloads=_values(args.workload), resources=_values(args.resource),
        states=_values(args.state), min_severity=args.severity, min_waste_usd=args.min_waste,
        types=() if getattr(args, "all_types", False) else ("insight",) if getattr(args, "insights", False)
        else ("anomaly",),
        sort=getattr(args, "sort", "started"), descending=not getattr(args, "asc", False),
        limit=getattr(args, "limit", None))


def _unallocated(args: argparse.Namespace) -> str:
    """``teams.unallocated`` of ``--config`` (and ``SPENDWATCH__TEAMS__UNALLOCATED``)."""
    from spendwatch.cli.settings import load

    return unallocated_team(load(getattr(args, "config", None)))


def _what(q: AnomalyQuery, n: int) -> str:
    """What the query counts, singular or plural: ``1 anomaly``, ``2 insights``."""
    if q.types == ("insight",):
        return "insight" if n == 1 else "insights"
    if not q.types:
        return "anomaly or insight" if n == 1 else "anomalies and insights"
    return plural(n, "anomaly", "anomalies").split(" ", 1)[1]


def _wrapped(head: str, text: str, width: int) -> list[str]:
    """``head`` + ``text`` folded to ``width`` columns, continuation lines indented under the text."""
    room = max(20, width - len(head))
    chunks = [text[i:i + room] for i in range(0, len(text), room)] or [""]
    return [head + chunks[0], *(" " * len(head) + c for c in chunks[1:])]


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _money(x: float) -> str:
    return f"${x:,.2f}" if x < 1000 else f"${x:,.0f}"


def _table(headers: list[str], rows: list[list[str]], out: IO[str],
           right: frozenset[int] | set[int] = frozenset()) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.write("  ".join(cells).rstrip() + "\n")


def print_table(anomalies: list[dict[str, Any]], out: IO[str], now: float | None = None,
                unallocated: str = UNALLOCATED_TEAM) -> None:
    """A readable table: one anomaly per row, the summary cut to the terminal width.

    FOR is how long the problem lasted (resolved) or has lasted until ``now`` (open: its last
    event may be hours old, since an open anomaly is only re-published on material change)."""
    now = time.time() if now is None else now
    rows = []
    for a in anomalies:
        wl = a["workload"] or {}
        rows.append([a["id"], a["state"], a["severity"], _when(a["started_at"]),
                     anomaly_duration(a, max(a["ts"], now)), _money(a["waste_usd"]),
                     _money(a["projected_daily_usd"]), team_of(a, unallocated) or "-", wl.get("owner") or "-",
                     wl.get("id") or a["resource"]])
    headers = ["ID", "STATE", "SEVERITY", "STARTED (UTC)", "FOR", "WASTE", "PER DAY", "TEAM", "OWNER",
               "WORKLOAD/RESOURCE"]
    # an insight's id starts with its kind, like an anomaly's: the table needs no type column
    _table(headers, rows, out, right={4, 5, 6})


def run_list(args: argparse.Namespace) -> int:
    q = query_from_args(args)
    with open_store(args.db) as store:
        found = store.query(q)
    out = sys.stdout
    if args.json:
        for a in found:
            print_json({k: a[k] for k in _CONTRACT_FIELDS}, out)
        return 0
    if not found:
        print(f"no {_what(q, 2)} match", file=sys.stderr)
        return 0
    print_table(found, out, unallocated=q.unallocated_team)
    total = sum(a["waste_usd"] for a in found)
    print(f"\n{len(found):,} {_what(q, len(found))}, {_money(total)} lost, "
          f"{sum(a['state'] == 'open' for a in found)} open", file=out)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        a = store.get(args.id)
        events = store.events(a["id"]) if a else []
    if a is None:
        print(f"spendwatch anomalies show: no anomaly with id (or unique id prefix) {args.id!r}", file=sys.stderr)
        return 1
    if args.json:
        print_json({**a, "events": events})
        return 0
    wl = a["workload"] or {}
    width = shutil.get_terminal_size((100, 20)).columns
    lines = [
        f"{a['id']}  [{a['state']}, {a['severity']}]",
        f"  {a['summary']}",
        "",
        f"  kind         {a['kind']}",
        f"  resource     {a['resource']}",
        f"  workload     {wl.get('id') or '-'}  (kind {wl.get('kind') or '-'})",
        f"  owner        {wl.get('owner') or '-'}",
        f"  team         {team_of(a, _unallocated(args)) or '-'}",
        f"  labels       {', '.join(f'{k}={v}' for k, v in (wl.get('labels') or {}).items()) or '-'}",
        f"  started      {_when(a['started_at'])} UTC",
        f"  detected     {_when(a['detected_at'])} UTC",
        f"  resolved     {_when(a['resolved_at'])}{' UTC' if a['resolved_at'] else ''}",
        f"  lost so far  {_money(a['waste_usd'])}",
        f"  per day      {_money(a['projected_daily_usd'])}",
        f"  slack        {a['slack_channel'] + ' ts=' + a['slack_ts'] if a['slack_ts'] else '-'}",
        "",
        "evidence:",
    ]
    for k, v in a["evidence"].items():
        text = orjson.dumps(v).decode() if not isinstance(v, str) else v
        lines += _wrapped(f"  {k:<22} ", text, width)  # the whole evidence: contributors are not cut
    lines += ["", f"history ({plural(len(events), 'event')}):"]
    rows = [[_when(e.get("ts")), e.get("state", ""), e.get("severity", ""), _money(e.get("waste_usd", 0.0)),
             _money(e.get("projected_daily_usd", 0.0))] for e in events]
    sys.stdout.write("\n".join(lines) + "\n")
    _table(["  AT (UTC)", "STATE", "SEVERITY", "WASTE", "PER DAY"], [["  " + r[0], *r[1:]] for r in rows],
           sys.stdout, right={3, 4})
    return 0


def run_summary(args: argparse.Namespace) -> int:
    q = query_from_args(args)
    with open_store(args.db) as store:
        s = store.summary(q)
    if args.json:
        print_json(s)  # the store's "-" (no team, no owner) is null in JSON
        return 0
    t = s["total"]
    out = sys.stdout
    out.write(f"{t['count']:,} {_what(q, t['count'])} ({t['open']:,} open): {_money(t['waste_usd'])} lost, "
              f"{_money(t['projected_daily_usd'])}/day still burning\n")
    for dim in ("team", "owner", "kind"):
        out.write(f"\nby {dim}\n")
        _table([dim.upper(), "COUNT", "OPEN", "WASTE", "PER DAY (OPEN)"],
               [[str(r[dim]), str(r["count"]), str(r["open"]), _money(r["waste_usd"]),
                 _money(r["projected_daily_usd"])] for r in s[f"by_{dim}"]], out, right={1, 2, 3, 4})
    out.write("\nby day (UTC; waste accrued that day)\n")
    _table(["DAY", "ACTIVE", "WASTE"], [[r["day"], str(r["count"]), _money(r["waste_usd"])] for r in s["by_day"]],
           out, right={1, 2})
    return 0
