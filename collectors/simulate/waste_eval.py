"""Score the structural-waste insights against the simulator's truth, over seeds.

    python -m collectors.simulate.waste_eval [--seeds 1-10] [--hours 24] [--gpus 32]

For each seed: simulate a fleet with every injection, replay it through the default Engine with
the run's own budgets (:attr:`Simulation.budgets`), and match every insight to the truth:

- an insight *matches* a truth entry when its kind is one of the entry's expected kinds, it is
  about the same resource or workload, and it was active inside the telemetry window (what was
  said about days of the billing history before the window is history);
- a truth entry is *caught* when an insight matches it; ``optional`` entries (a month within 3 %
  of its budget, a launch ramp that may read as creep) are neither required nor wrong;
- a *false finding* is an insight active in the window that matches no truth entry.

Also counted: anomalies (the incident kinds) that match no truth entry, so a change to the
simulator that made the incident detectors page falsely shows here too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from collectors.simulate.builder import Simulation, simulate
from collectors.simulate.config import SimConfig
from collectors.simulate.truth import EXPECTED_KINDS, WASTE_INJECTIONS

INSIGHT_TRUTH = set(WASTE_INJECTIONS)
GRACE_S = 45 * 60.0


@dataclass
class Score:
    seed: int
    caught: list[dict[str, Any]] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)
    false: list[dict[str, Any]] = field(default_factory=list)  # insights matching no truth
    false_anomalies: list[dict[str, Any]] = field(default_factory=list)  # anomalies matching no truth
    by_kind: dict[str, int] = field(default_factory=dict)  # insights (latest state) by kind


def latest(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for e in events:
        out[e["id"]] = e
    return out


def _about(a: dict[str, Any], t: dict[str, Any]) -> bool:
    wid = (a.get("workload") or {}).get("id")
    res = str(a.get("resource") or "").split(" @")[0]
    return res == t["resource"] or (t.get("workload") is not None and wid == t["workload"]
                                    and not str(t["resource"]).startswith(("GPU-", "MIG-")))


def _active_in(a: dict[str, Any], lo: float, hi: float) -> bool:
    end = a["resolved_at"] if a.get("resolved_at") is not None else float("inf")
    return a["detected_at"] <= hi and end >= lo


def score(sim: Simulation, events: list[dict[str, Any]]) -> Score:
    """Match the insights and anomalies of one run against its truth."""
    s = Score(sim.config.seed)
    lo, hi = sim.config.start, sim.config.end
    insights = [a for a in latest(events).values() if a["type"] == "insight"]
    anomalies = [a for a in latest(events).values() if a["type"] == "anomaly"]
    for a in insights:
        s.by_kind[a["kind"]] = s.by_kind.get(a["kind"], 0) + 1
    used: set[str] = set()
    for t in sim.truth:
        if t["kind"] not in INSIGHT_TRUTH and t["kind"] != "over_budget":
            continue
        hits = [a for a in insights if a["kind"] in t["expected_kinds"] and _about(a, t)
                and _active_in(a, t["start"] - GRACE_S, t["end"] + GRACE_S)]
        used.update(a["id"] for a in hits)
        if hits:
            s.caught.append(t)
        elif not t.get("optional"):
            s.missed.append(t)
    s.false = [a for a in insights if a["id"] not in used and _active_in(a, lo, hi)]
    for a in anomalies:
        ok = any(a["kind"] in EXPECTED_KINDS.get(t["kind"], ()) and (_about(a, t) or a["resource"] == t["resource"])
                 for t in sim.truth)
        if not ok:
            s.false_anomalies.append(a)
    return s


def run_seed(seed: int, hours: float = 24.0, gpus: int = 32, billing_days: float = 14.0,
             start: float | None = None) -> tuple[Simulation, Score]:
    from detectors.engine import Engine
    from spendwatch.config import Settings
    from streams.replay import ReplayStats, replay_lines

    cfg = SimConfig(hours=hours, gpus=gpus, seed=seed, billing_days=billing_days)
    sim = simulate(cfg if start is None else SimConfig(hours=hours, gpus=gpus, seed=seed, billing_days=billing_days,
                                                       start=start))
    settings = Settings({"budgets": sim.budgets})
    lines = (line for chunk in sim.chunks() for line in chunk.split(b"\n"))
    events = list(replay_lines(lines, Engine(settings), ReplayStats()))
    return sim, score(sim, events)


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collectors.simulate.waste_eval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 1,4,7 (default: 1-10)")
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--gpus", type=int, default=32)
    ap.add_argument("--start", type=float, default=None,
                    help="start of the telemetry window, epoch s (default: the simulator's; each seed may "
                         "also be moved by --spread-days)")
    ap.add_argument("--spread-days", type=float, default=0.0,
                    help="move seed k's start by k x this many days + k x 5 h (month and day positions vary)")
    ap.add_argument("--verbose", action="store_true", help="list every miss and false finding")
    args = ap.parse_args(argv)
    total_caught = total_missed = total_false = total_false_anomalies = 0
    print(f"{'seed':>4}  {'caught':>6}  {'missed':>6}  {'false':>5}  {'false anomalies':>15}  insights by kind")
    for seed in _seeds(args.seeds):
        base = args.start if args.start is not None else SimConfig().start
        start = base + seed * (args.spread_days * 86400.0 + 5 * 3600.0) if args.spread_days else args.start
        _sim, sc = run_seed(seed, args.hours, args.gpus, start=start)
        total_caught += len(sc.caught)
        total_missed += len(sc.missed)
        total_false += len(sc.false)
        total_false_anomalies += len(sc.false_anomalies)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(sc.by_kind.items()))
        print(f"{seed:>4}  {len(sc.caught):>6}  {len(sc.missed):>6}  {len(sc.false):>5}  "
              f"{len(sc.false_anomalies):>15}  {kinds}")
        if args.verbose:
            for t in sc.missed:
                print(f"      missed {t['kind']} {t['resource']}")
            for a in sc.false + sc.false_anomalies:
                print(f"      false {a['type']} {a['kind']} {a['resource']}: {a['summary'][:140]}")
    n = total_caught + total_missed
    print(f"\nrecall {total_caught}/{n} = {total_caught / max(n, 1):.2f}; false insights {total_false}; "
          f"anomalies matching no truth {total_false_anomalies}")
    return 0 if total_missed == 0 and total_false == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
