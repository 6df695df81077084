"""`spendwatch demo`: a simulated day of a GPU fleet with every kind of problem, through the detectors.

What it does, in-process and in event time (no Kafka, no Slack needed):

1. simulates a fleet (:mod:`spendwatch.simulate`) for a day ending now, with every injection,
   plus two weeks of billing history so the cost baselines have something to learn from;
2. runs the same :class:`~detectors.engine.Engine` that ``spendwatch replay`` and the worker
   run, with the default detectors;
3. prints the open and resolved anomalies (owner, $ wasted, $/day), waste by team, and which
   injected problems were caught;
4. routes the anomalies through the alert pipeline (a console notifier prints them when no
   Slack token is set) and records them in the history store, so
   ``spendwatch anomalies --since 30d`` works right after.

With ``--kafka`` step 2 goes through Kafka instead: a local Apache Kafka (``spendwatch
kafka-local``'s, or the one in ``SPENDWATCH_KAFKA``), the events produced to the contract topics with their keys, one
``spendwatch worker`` run in-process until its input is idle, and the anomalies read back
from ``spendwatch.anomalies``: the production path, end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import orjson

from alerting.pipeline import build_alert_pipeline
from detectors.engine import Engine
from detectors.registry import default_detector_classes
from spendwatch.config import Settings, load_settings
from spendwatch.history import open_store
from spendwatch.replay import ReplayStats, replay_lines
from spendwatch.simulate import HOUR, INJECTIONS, SimConfig, Simulation, simulate

GRACE_S = 45 * 60.0  # a detection up to this long after an injected problem starts counts as caught


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="simulate a day of a GPU fleet with injected problems and show what spendwatch catches",
        description="Simulate a fleet for a day of event time with every kind of injected problem, run the "
                    "detectors over it in-process, and print the anomalies (owner, $ wasted, $/day), waste by "
                    "team and which injected problems were caught. Alerts go through the alert pipeline (to "
                    "the console when no Slack token is set) and anomalies are recorded in the history store.",
    )
    p.add_argument("--hours", type=float, default=24.0, help="event time to simulate (default: 24)")
    p.add_argument("--gpus", type=int, default=32, help="physical GPUs in the fleet (default: 32)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    p.add_argument("--start", type=float, metavar="EPOCH",
                   help="start of the simulated day (default: the last full hours up to now, so the "
                        "anomalies land in the recent history)")
    p.add_argument("--alerts", action=argparse.BooleanOptionalAction, default=True,
                   help="route anomalies through the alert pipeline (default: on)")
    p.add_argument("--max-alerts", type=int, default=6, metavar="N",
                   help="send alerts for at most N anomalies (default: 6)")
    p.add_argument("--history", action=argparse.BooleanOptionalAction, default=True,
                   help="record the anomalies in the history store (default: on)")
    p.add_argument("--db", metavar="URL", help="history store URL (default: SPENDWATCH_DB or the local SQLite file)")
    p.add_argument("--kafka", action="store_true",
                   help="run the events through a Kafka broker and the stream worker instead of in-process "
                        "(a local Apache Kafka unless SPENDWATCH_KAFKA is set)")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- formatting
def _utc(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(ts))


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x < 1000 else f"${x:,.0f}"


def _owner(a: dict[str, Any]) -> str:
    w = a.get("workload") or {}
    return str(w.get("owner") or w.get("team") or "platform (unallocated)")


def _team(a: dict[str, Any]) -> str:
    w = a.get("workload") or {}
    return str(w.get("team") or "(unallocated)")


def _lines(sim: Simulation) -> Iterator[bytes]:
    for chunk in sim.chunks():
        yield from chunk.split(b"\n")


def _table(rows: list[list[str]], right: Iterable[int] = ()) -> list[str]:
    """Plain aligned columns (no dependency on a table library)."""
    right = set(right)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r))
            .rstrip() for r in rows]


def latest_by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest event of each anomaly id, in order of first appearance."""
    latest: dict[str, dict[str, Any]] = {}
    for a in events:
        latest[a["id"]] = a
    return latest


def match_truth(truth: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """For each injected problem, the first anomaly (its first ``open``) that caught it, or None.

    Caught = an expected kind, the same resource (or, for spend and model problems, the same
    workload), first flagged between start - 60 s and max(end, start + 45 min).
    """
    firsts: dict[str, dict[str, Any]] = {}
    for a in events:
        if a["state"] == "open":
            firsts.setdefault(a["id"], a)
    out = []
    for t in truth:
        hit = None
        for a in firsts.values():
            wid = (a.get("workload") or {}).get("id")
            same = a.get("resource") == t["resource"] or (t["workload"] is not None and wid == t["workload"]
                                                          and t["kind"] not in ("idle", "hoarding", "busywait"))
            if a["kind"] in t["expected_kinds"] and same and \
                    t["start"] - 60 <= a["detected_at"] <= max(t["end"], t["start"] + GRACE_S):
                hit = a
                break
        out.append((t, hit))
    return out


# --------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    hours = args.hours
    start = args.start if args.start is not None else math.floor(time.time() / HOUR) * HOUR - hours * HOUR
    cfg = SimConfig(hours=hours, gpus=args.gpus, seed=args.seed, inject=frozenset(INJECTIONS), start=start,
                    bad_fraction=0.0005)
    out = sys.stdout
    t0 = time.perf_counter()
    sim = simulate(cfg)
    t1 = time.perf_counter()
    stats = ReplayStats()
    if args.kafka:
        events = _through_kafka(settings, sim, stats)
    else:
        events = list(replay_lines(_lines(sim), Engine(settings), stats))
    now = cfg.end
    t2 = time.perf_counter()
    nodes = math.ceil(cfg.gpus / 8)
    p = out.write
    p(f"spendwatch demo: {cfg.gpus} GPUs on {nodes} nodes ({sim.streams} GPU/MIG streams), "
      f"{hours:g} h of event time ({_utc(cfg.start)} to {_utc(cfg.end)} UTC), "
      f"{len(sim.truth)} injected problems\n")
    p(f"  simulated {stats.events:,} events ({cfg.billing_days:g} days of billing history) in {t1 - t0:.1f}s; "
      f"{'broker + worker' if args.kafka else 'detectors'} ran over them in {t2 - t1:.1f}s "
      f"({stats.events / max(t2 - t1, 1e-9):,.0f} events/s); "
      f"{stats.bad} malformed lines skipped\n\n")

    latest = latest_by_id(events)
    _print_anomalies(p, [a for a in latest.values() if a["state"] == "open"], "Open anomalies", now)
    _print_anomalies(p, [a for a in latest.values() if a["state"] == "resolved"], "Resolved anomalies", now)
    _print_teams(p, list(latest.values()))
    _print_truth(p, match_truth(sim.truth, events))
    if args.alerts:
        _send_alerts(p, settings, events, args.max_alerts, args.db)
    if args.history:
        _record_history(p, events, args.db)
    return 0


def _print_anomalies(p: Any, anomalies: list[dict[str, Any]], title: str, now: float) -> None:
    p(f"{title} ({len(anomalies)})\n")
    if not anomalies:
        p("  none\n\n")
        return
    anomalies.sort(key=lambda a: (-a["waste_usd"], -a["projected_daily_usd"], a["started_at"]))
    rows = [["SEVERITY", "KIND", "RESOURCE", "OWNER", "WASTED", "$/DAY", "SINCE"]]
    for a in anomalies:
        until = a["resolved_at"] or now
        rows.append([a["severity"], a["kind"], str(a["resource"])[:24], _owner(a)[:32], _usd(a["waste_usd"]),
                     _usd(a["projected_daily_usd"]),
                     f"{_utc(a['started_at'])} ({(until - a['started_at']) / HOUR:.1f} h)"])
    table = _table(rows, right=(4, 5))
    p(table[0] + "\n")
    for line, a in zip(table[1:], anomalies, strict=True):
        p(line + "\n")
        p(f"      {a['summary']}\n")
    p("\n")


def _print_teams(p: Any, latest: list[dict[str, Any]]) -> None:
    teams: dict[str, list[float]] = {}
    for a in latest:
        row = teams.setdefault(_team(a), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += a["waste_usd"]
        if a["state"] == "open":
            row[2] += a["projected_daily_usd"]
    p("Waste by team\n")
    if not teams:
        p("  none\n\n")
        return
    rows = [["TEAM", "ANOMALIES", "WASTED", "$/DAY NOW"]]
    for team, (n, waste, daily) in sorted(teams.items(), key=lambda kv: (-kv[1][1], kv[0])):
        rows.append([team, str(int(n)), _usd(waste), _usd(daily)])
    total = [sum(r[i] for r in teams.values()) for i in range(3)]
    rows.append(["total", str(int(total[0])), _usd(total[1]), _usd(total[2])])
    for line in _table(rows, right=(1, 2, 3)):
        p(line + "\n")
    p("\n")


def _print_truth(p: Any, matched: list[tuple[dict[str, Any], Any]]) -> None:
    caught = sum(1 for _t, a in matched if a is not None)
    p(f"Injected problems caught: {caught} of {len(matched)}\n")
    rows = [["", "INJECTED", "RESOURCE", "STARTED", "DETECTED AFTER", "AS"]]
    for t, a in matched:
        rows.append(["ok" if a else "--", t["kind"], str(t["resource"] or t["workload"])[:24], _utc(t["start"]),
                     f"{(a['detected_at'] - t['start']) / 60:.0f} min" if a else "not detected",
                     a["kind"] if a else f"expected {'/'.join(t['expected_kinds'])}"])
    for line in _table(rows, right=(4,)):
        p(line + "\n")
    kinds = {a["kind"] for _t, a in matched if a}
    missing = sorted({k for t, a in matched if a is None for k in t["expected_kinds"]} - kinds)
    if missing:
        p(f"  (not caught: {', '.join(missing)}; detectors running: "
          f"{', '.join(sorted(cls.name for cls in default_detector_classes()))})\n")
    p("\n")


def _through_kafka(settings: Settings, sim: Simulation, stats: ReplayStats) -> list[dict[str, Any]]:
    """Produce the stream to a broker, run one worker over it until idle, read the anomalies back."""
    from spendwatch.kafka import kafka_config
    from streams.kafka_local import KafkaLocal
    from streams.runner import run_worker_until_idle
    from streams.source import produce_lines, read_topic

    run_id = uuid.uuid4().hex[:8]
    prefix = f"demo-{run_id}."  # fresh topics per run: a broker may be reused
    given = os.environ.get("SPENDWATCH_KAFKA")
    broker = None if given else KafkaLocal().start()  # Apache Kafka from the Maven cache (Java 17+)
    bootstrap = given or (broker.bootstrap if broker else "")
    try:
        kafka = replace(kafka_config(settings), bootstrap_servers=bootstrap, topic_prefix=prefix)
        print(f"  broker {bootstrap}{' (local Apache Kafka)' if broker else ''}; producing to {prefix}spendwatch.*",
              file=sys.stderr)
        asyncio.run(produce_lines(kafka, _lines(sim)))
        result = run_worker_until_idle(settings, bootstrap, idle_s=3.0, group_id=f"demo-{run_id}",
                                       topic_prefix=prefix, session_timeout_s=3.0, heartbeat_interval_s=0.5)
        if result.exit_code:
            raise SystemExit(f"spendwatch demo: the worker failed (exit {result.exit_code}); see the log above")
        stats.events, stats.bad = result.events, result.bad
        records = asyncio.run(read_topic(kafka, kafka.topic("anomaly")))
    finally:
        if broker is not None:
            broker.stop()
    events = [orjson.loads(r.value) for r in records]
    events.sort(key=lambda a: a["ts"])  # partitions interleave; each id's own events stay in order
    stats.anomalies = len(events)
    return events


def _send_alerts(p: Any, settings: Settings, events: list[dict[str, Any]], cap: int, db: str | None) -> None:
    ids: dict[str, None] = {}
    for a in sorted(events, key=lambda a: -a["projected_daily_usd"]):
        if len(ids) >= cap:
            break
        ids.setdefault(a["id"], None)
    p(f"Alerts for the {len(ids)} costliest anomalies (console when no Slack token is set; "
      f"--max-alerts N for more, --no-alerts for none)\n")
    sys.stdout.flush()
    pipeline = build_alert_pipeline(settings, store_url=db)
    try:
        for a in events:
            if a["id"] in ids:
                pipeline.handle(a)
        pipeline.flush()
        sys.stdout.flush()
        stats = getattr(pipeline, "stats", None)
        if stats is not None and not (stats.posted or stats.edited or stats.replies):
            # same ids as an earlier demo in this hour: the notification log says they were told
            p("  (nothing new to say: these anomalies were alerted by an earlier run; the notification log "
              "deduplicates)\n")
    finally:
        pipeline.close()
    p("\n")


def _record_history(p: Any, events: list[dict[str, Any]], db: str | None) -> None:
    store = open_store(db)
    try:
        store.record_many(events)
    finally:
        store.close()
    p(f"Recorded {len(events)} anomaly events in the history store. Query them with:\n"
      f"  spendwatch anomalies --since 30d\n")
