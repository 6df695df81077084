"""Scoring anomaly events against a seed's truth, with the public scorecard's matching rules.

The first ``open`` of each anomaly id is matched to the first truth of its family (kinds mapped as
``idle_gpu``/``gpu_memory_hoarding`` -> idle, ``cost_spike`` -> cost, ``retrain_loop`` -> loop,
``retrain_needed`` -> drift, ``retrain_without_drift`` -> nodrift) with the same resource, or outside idle the
same ``workload.id``, whose window ``[start - 60 s, max(end, start + 45 min)]`` holds ``detected_at``. More ids on
one truth are duplicates; unmatched ids are false positives, each listed with the benign phenomena of its
resource or workload. Anomalies of other kinds are listed and counted apart ("other kinds"), not as false
positives. Time to open = first ``detected_at`` of a truth's ids minus its start.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from collectors.simulate.realistic.common import BY_WORKLOAD, EARLY_S, FAMILIES, FAMILY, GRACE_S, HOUR, MIN


def wid_of(a: dict[str, Any]) -> str | None:
    w = a.get("workload")
    return w.get("id") if isinstance(w, dict) else None


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def read_anomalies(path: str) -> tuple[list[dict[str, Any]], int]:
    """Anomaly events of a JSON-lines file, and the number of lines that were not JSON objects."""
    out, bad = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                a = json.loads(line)
            except ValueError:
                a = None
            if isinstance(a, dict):
                out.append(a)
            else:
                bad += 1
    return out, bad


def median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def score_events(truth_doc: dict[str, Any], anomalies: list[dict[str, Any]], unparsable: int = 0) -> dict[str, Any]:
    """Score anomaly events (dicts) against a truth document; returns a JSON-able result."""
    truth: list[dict[str, Any]] = truth_doc["truth"]
    benign: list[dict[str, Any]] = truth_doc.get("benign", [])
    opens: dict[Any, dict[str, Any]] = {}
    for a in anomalies:
        if a.get("state") == "open":
            opens.setdefault(a.get("id"), a)
    matched: dict[int, list[dict[str, Any]]] = {}
    fps: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for a in opens.values():
        fam = FAMILY.get(str(a.get("kind")))
        if fam is None:
            other.append(a)
            continue
        det, hit = _num(a.get("detected_at")), None
        for i, t in enumerate(truth):
            same = (t["resource"] is not None and a.get("resource") == t["resource"]) or \
                   (t["workload"] is not None and wid_of(a) == t["workload"] and fam in BY_WORKLOAD)
            if t["family"] == fam and same and t["start"] - EARLY_S <= det <= max(t["end"], t["start"] + GRACE_S):
                hit = i
                break
        if hit is None:
            fps.append(a)
        else:
            matched.setdefault(hit, []).append(a)

    by_res: dict[str, set[str]] = {}
    by_wid: dict[str, set[str]] = {}
    for b in benign:
        if b.get("resource"):
            by_res.setdefault(b["resource"], set()).add(b["phenomenon"])
        if b.get("workload"):
            by_wid.setdefault(b["workload"], set()).add(b["phenomenon"])
    truth_res = {t["resource"] for t in truth if t["resource"]}
    truth_wid = {t["workload"] for t in truth if t["workload"]}

    def phenomena(a: dict[str, Any]) -> list[str]:
        ph = set(by_res.get(str(a.get("resource")), set()))
        wid = wid_of(a)
        if wid:
            ph |= by_wid.get(wid, set())
        ph.discard("exporter_gaps")
        if a.get("resource") in truth_res or (wid in truth_wid and FAMILY.get(str(a.get("kind"))) in BY_WORKLOAD):
            ph.add("outside-truth-window")
        return sorted(ph) or ["unknown-resource"]

    delays: dict[int, float] = {i: min(_num(a.get("detected_at")) for a in v) - truth[i]["start"]
                                for i, v in matched.items()}
    families: dict[str, dict[str, Any]] = {}
    for fam in FAMILIES:
        idx = [i for i, t in enumerate(truth) if t["family"] == fam]
        tp = sum(1 for i in idx if i in matched)
        fp = sum(1 for a in fps if FAMILY.get(str(a.get("kind"))) == fam)
        dup = sum(len(matched[i]) - 1 for i in idx if i in matched)
        d = [delays[i] for i in idx if i in matched]
        families[fam] = {"tp": tp, "fn": len(idx) - tp, "fp": fp, "dup": dup,
                         "precision": tp / (tp + fp) if tp + fp else None,
                         "recall": tp / len(idx) if idx else None,
                         "median_open_min": None if not d else round((median(d) or 0.0) / MIN, 2),
                         "max_open_min": None if not d else round(max(d) / MIN, 2), "delays_s": d}
    scenarios: dict[str, dict[str, Any]] = {}
    for i, t in enumerate(truth):
        key = f"{t['family']}/{t['scenario']}"
        s = scenarios.setdefault(key, {"truths": 0, "tp": 0, "dup": 0, "delays_s": []})
        s["truths"] += 1
        if i in matched:
            s["tp"] += 1
            s["dup"] += len(matched[i]) - 1
            s["delays_s"].append(delays[i])
    gpu_hours = float(truth_doc.get("gpu_hours") or 0.0)
    weeks = float(truth_doc.get("billing_workload_weeks") or 0.0)
    fp_list = [{"kind": a.get("kind"), "family": FAMILY.get(str(a.get("kind"))), "id": a.get("id"),
                "resource": a.get("resource"), "workload": wid_of(a), "detected_at": a.get("detected_at"),
                "phenomena": phenomena(a), "summary": str(a.get("summary") or "")[:140]} for a in fps]
    missed = [dict(t) for i, t in enumerate(truth) if i not in matched]
    return {"seed": truth_doc.get("seed"), "families": families, "scenarios": scenarios,
            "fp_idle_per_1000_gpu_h": 1000 * families["idle"]["fp"] / gpu_hours if gpu_hours else None,
            "fp_cost_per_100_workload_weeks": 100 * families["cost"]["fp"] / weeks if weeks else None,
            "gpu_hours": gpu_hours, "billing_workload_weeks": weeks, "fps": fp_list, "missed": missed,
            "other_kinds": dict(Counter(str(a.get("kind")) for a in other)), "anomaly_ids": len(opens),
            "unparsable_output_lines": unparsable}


def score_dir(out_dir: str, anomalies_path: str) -> dict[str, Any]:
    with open(os.path.join(out_dir, "truth.json"), encoding="utf-8") as f:
        truth_doc = json.load(f)
    anomalies, bad = read_anomalies(anomalies_path)
    return score_events(truth_doc, anomalies, bad)


def _f(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def family_table(families: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"{'family':8} {'tp':>4} {'fn':>4} {'fp':>4} {'dup':>4} {'prec':>6} {'recall':>6} "
             f"{'med open':>9} {'max open':>9}"]
    for fam in FAMILIES:
        r = families[fam]
        lines.append(f"{fam:8} {r['tp']:4d} {r['fn']:4d} {r['fp']:4d} {r['dup']:4d} {_f(r['precision']):>6} "
                     f"{_f(r['recall']):>6} {_f(r['median_open_min'], '{:.1f}m'):>9} "
                     f"{_f(r['max_open_min'], '{:.1f}m'):>9}")
    return lines


def render(res: dict[str, Any], fp_limit: int = 200) -> str:
    out = [f"seed {res['seed']}: {res['anomaly_ids']} anomaly ids"]
    out += family_table(res["families"])
    out.append(f"false idle alerts per 1,000 GPU-hours: {_f(res['fp_idle_per_1000_gpu_h'])} "
               f"({res['families']['idle']['fp']} over {res['gpu_hours']:.0f} GPU-hours)")
    out.append(f"false cost alerts per 100 billing workload-weeks: {_f(res['fp_cost_per_100_workload_weeks'])} "
               f"({res['families']['cost']['fp']} over {res['billing_workload_weeks']:.1f} workload-weeks)")
    if res["other_kinds"]:
        out.append(f"other kinds (not scored): {res['other_kinds']}")
    if res["unparsable_output_lines"]:
        out.append(f"unparsable anomaly lines: {res['unparsable_output_lines']}")
    out.append("per scenario: " + ", ".join(
        f"{k} {v['tp']}/{v['truths']}" + (f" {(median(v['delays_s']) or 0) / MIN:.0f}m" if v["delays_s"] else "")
        + (f" +{v['dup']}dup" if v["dup"] else "") for k, v in sorted(res["scenarios"].items())))
    for m in res["missed"]:
        out.append(f"  fn: {m['family']} {m['scenario']} resource={m['resource']} workload={m['workload']} "
                   f"start={m['start']:.0f} ({(m['end'] - m['start']) / HOUR:.1f} h, magnitude {m['magnitude']})")
    groups: Counter[tuple[str, str, str, str]] = Counter(
        (str(a["family"]), str(a["kind"]), f"{a['resource']} / {a['workload']}", ", ".join(a["phenomena"]))
        for a in res["fps"])
    for (fam, kind, where, ph), n in sorted(groups.items(), key=lambda kv: -kv[1])[:fp_limit]:
        out.append(f"  fp x{n}: {fam} {kind} on {where} ({ph})")
    if len(groups) > fp_limit:
        out.append(f"  ... {len(groups) - fp_limit} more resources with false positives (see --json)")
    return "\n".join(out)
