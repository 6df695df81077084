"""``spendwatch replay --truth FILE``: score a run against a truth file, as the demo does.

Two kinds of truth file are read:

- ``spendwatch simulate --truth FILE`` (entries with ``expected_kinds``): each injected incident
  is matched with :func:`streams.demo.match_truth`, the demo's own rule (an expected kind, the same
  resource or workload, first flagged between start - 60 s and max(end, start + 45 min)); the
  structural-waste entries (insights) are counted apart, not scored here (the demo scores them
  against the simulation itself).
- the realistic generator's ``truth.json`` (entries with ``family``): scored with
  :func:`collectors.simulate.realistic.score.score_events` (precision, recall and time to open
  per family).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collectors.simulate.truth import WASTE_INJECTIONS
from spendwatch.errors import ConfigError
from spendwatch.format import duration


def read_truth(path: str) -> dict[str, Any]:
    """The truth document at ``path``; a :class:`ConfigError` says what is wrong with it."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--truth {path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"--truth {path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("truth"), list):
        raise ConfigError(f"--truth {path}: expected a truth document with a 'truth' list "
                          f"(spendwatch simulate --truth FILE, or the realistic generator's truth.json)")
    return doc


def score(doc: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The score as plain data: ``format`` says which kind of truth it was."""
    truth = doc["truth"]
    if truth and all("family" in t for t in truth):
        from collectors.simulate.realistic.score import score_events

        return {"format": "realistic", **score_events(doc, [e for e in events if e.get("type") != "insight"])}
    if not all(isinstance(t, dict) and "expected_kinds" in t for t in truth):
        raise ConfigError("--truth: entries need 'expected_kinds' (spendwatch simulate) or 'family' (realistic)")
    from streams.demo import match_truth

    incidents = [t for t in truth if t["kind"] not in WASTE_INJECTIONS]
    matched = match_truth(incidents, [e for e in events if e.get("type") != "insight"])
    rows = [{"kind": t["kind"], "resource": t["resource"], "workload": t["workload"], "start": t["start"],
             "caught": a is not None, "as": a["kind"] if a else None, "anomaly_id": a["id"] if a else None,
             "detected_after_s": round(a["detected_at"] - t["start"], 1) if a else None,
             "expected_kinds": t["expected_kinds"]} for t, a in matched]
    return {"format": "simulate", "injected": len(rows), "caught": sum(r["caught"] for r in rows),
            "missed": sum(not r["caught"] for r in rows), "structural_waste_not_scored": len(truth) - len(incidents),
            "problems": rows}


def render(res: dict[str, Any]) -> str:
    """The score as a table (what the demo prints for its injected problems)."""
    if res["format"] == "realistic":
        from collectors.simulate.realistic.score import render as render_realistic

        return render_realistic(res)
    lines = [f"Injected problems caught: {res['caught']} of {res['injected']}"]
    table = [["", "INJECTED", "RESOURCE", "DETECTED AFTER", "AS"]]
    for r in res["problems"]:
        table.append(["ok" if r["caught"] else "--", r["kind"], str(r["resource"] or r["workload"])[:32],
                      duration(r["detected_after_s"]) if r["caught"] else "not detected",
                      r["as"] or f"expected {'/'.join(r['expected_kinds'])}"])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table]
    if res["structural_waste_not_scored"]:
        lines.append(f"  ({res['structural_waste_not_scored']} structural-waste truths are insights, not scored "
                     f"here; spendwatch demo scores them)")
    return "\n".join(lines)
