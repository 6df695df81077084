"""Generate, replay with a detector command, and score, over a range of seeds; a summary table over all seeds."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections import Counter
from typing import Any

from collectors.simulate.realistic.common import FAMILIES, MIN
from collectors.simulate.realistic.score import _f, family_table, median, score_dir
from collectors.simulate.realistic.stream import generate, write


def parse_seeds(spec: str) -> list[int]:
    """``1-10``, ``3``, ``1,4,7-9``."""
    seeds: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            seeds += list(range(int(a), int(b) + 1))
        elif part:
            seeds.append(int(part))
    if not seeds:
        raise ValueError(f"no seeds in {spec!r}")
    return seeds


def run_seed(seed: int, cmd: str, work: str, days: float, gpus: int, scale: float,
             disorder: bool) -> dict[str, Any]:
    out_dir = os.path.join(work, f"seed-{seed}")
    t0 = time.monotonic()
    gen = generate(seed, days, gpus, scale, disorder)
    events, _ = write(out_dir, gen)
    gen_s = time.monotonic() - t0
    anomalies = os.path.join(out_dir, "anomalies.jsonl")
    t1 = time.monotonic()
    try:
        p = subprocess.run(shlex.split(cmd) + [events, "--out", anomalies], capture_output=True, text=True)
        rc, err = p.returncode, p.stderr
    except OSError as e:
        rc, err = 127, f"cannot start {cmd!r}: {e}"
    replay_s = time.monotonic() - t1
    res: dict[str, Any] = {"seed": seed, "rc": rc, "lines": len(gen.lines), "gen_s": round(gen_s, 1),
                           "replay_s": round(replay_s, 1), "stderr_tail": err[-400:], "dir": out_dir}
    if rc != 0 or not os.path.exists(anomalies):
        res["failed"] = True
        return res
    res["score"] = score_dir(out_dir, anomalies)
    return res


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    fam: dict[str, dict[str, Any]] = {f: {"tp": 0, "fn": 0, "fp": 0, "dup": 0, "delays_s": []} for f in FAMILIES}
    scen: dict[str, dict[str, Any]] = {}
    fp_by: Counter[str] = Counter()
    other: Counter[str] = Counter()
    gpu_h = weeks = 0.0
    for r in results:
        s = r.get("score")
        if not s:
            continue
        gpu_h += s["gpu_hours"]
        weeks += s["billing_workload_weeks"]
        for f in FAMILIES:
            for k in ("tp", "fn", "fp", "dup"):
                fam[f][k] += s["families"][f][k]
            fam[f]["delays_s"] += s["families"][f]["delays_s"]
        for k, v in s["scenarios"].items():
            t = scen.setdefault(k, {"truths": 0, "tp": 0, "dup": 0, "delays_s": []})
            for x in ("truths", "tp", "dup"):
                t[x] += v[x]
            t["delays_s"] += v["delays_s"]
        for a in s["fps"]:
            fp_by[f"{a['family']}: {'+'.join(a['phenomena'])}"] += 1
        other.update(s["other_kinds"])
    for f in FAMILIES:
        r = fam[f]
        d = r["delays_s"]
        r["precision"] = r["tp"] / (r["tp"] + r["fp"]) if r["tp"] + r["fp"] else None
        r["recall"] = r["tp"] / (r["tp"] + r["fn"]) if r["tp"] + r["fn"] else None
        r["median_open_min"] = None if not d else round((median(d) or 0.0) / MIN, 2)
        r["max_open_min"] = None if not d else round(max(d) / MIN, 2)
    return {"families": fam, "scenarios": scen, "fp_by_phenomenon": dict(fp_by.most_common()),
            "other_kinds": dict(other), "gpu_hours": gpu_h, "billing_workload_weeks": weeks,
            "fp_idle_per_1000_gpu_h": 1000 * fam["idle"]["fp"] / gpu_h if gpu_h else None,
            "fp_cost_per_100_workload_weeks": 100 * fam["cost"]["fp"] / weeks if weeks else None,
            "seeds": [r["seed"] for r in results], "failed_seeds": [r["seed"] for r in results if r.get("failed")]}


def render_summary(results: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    out = [f"{'seed':>4} {'lines':>8} {'gen s':>6} {'replay s':>8} " + " ".join(f"{f + ' tp/fn/fp':>16}"
                                                                              for f in FAMILIES)]
    for r in results:
        if r.get("failed"):
            out.append(f"{r['seed']:4d} {r['lines']:8d} {r['gen_s']:6.1f} {r['replay_s']:8.1f}  replay failed "
                       f"rc={r['rc']}: {r['stderr_tail'][-200:]!r}")
            continue
        fams = r["score"]["families"]
        out.append(f"{r['seed']:4d} {r['lines']:8d} {r['gen_s']:6.1f} {r['replay_s']:8.1f} " + " ".join(
            f"{fams[f]['tp']:>8}/{fams[f]['fn']}/{fams[f]['fp']:<4}" for f in FAMILIES))
    out.append("")
    out.append(f"all seeds ({len(summary['seeds'])}):")
    out += family_table(summary["families"])
    out.append(f"false idle alerts per 1,000 GPU-hours: {_f(summary['fp_idle_per_1000_gpu_h'])} "
               f"({summary['families']['idle']['fp']} over {summary['gpu_hours']:.0f} GPU-hours)")
    out.append(f"false cost alerts per 100 billing workload-weeks: {_f(summary['fp_cost_per_100_workload_weeks'])} "
               f"({summary['families']['cost']['fp']} over {summary['billing_workload_weeks']:.1f} workload-weeks)")
    if summary["other_kinds"]:
        out.append(f"other kinds (not scored): {summary['other_kinds']}")
    out.append("")
    out.append(f"{'scenario':34} {'recall':>9} {'dup':>5} {'med open':>9} {'max open':>9}")
    for k, v in sorted(summary["scenarios"].items()):
        d = v["delays_s"]
        out.append(f"{k:34} {v['tp']:>4}/{v['truths']:<4} {v['dup']:5d} "
                   f"{_f(None if not d else (median(d) or 0) / MIN, '{:.1f}m'):>9} "
                   f"{_f(None if not d else max(d) / MIN, '{:.1f}m'):>9}")
    if summary["fp_by_phenomenon"]:
        out.append("")
        out.append("false positives by family and benign phenomenon of their resource/workload:")
        for k, n in summary["fp_by_phenomenon"].items():
            out.append(f"  {n:5d}  {k}")
    return "\n".join(out)


def run(seeds: list[int], cmd: str, days: float, gpus: int, scale: float, disorder: bool,
        keep: str | None) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    work = keep or tempfile.mkdtemp(prefix="spendwatch-realistic-")
    results = [run_seed(s, cmd, work, days, gpus, scale, disorder) for s in seeds]
    return results, summarise(results), work
