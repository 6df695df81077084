"""Assembling one seed's stream: fleet, billing, training runs and observations, bad lines, order, files."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

from collectors.simulate.realistic.billing import build_billing
from collectors.simulate.realistic.common import HOUR, Book, Rng, Stream, Window
from collectors.simulate.realistic.fleet import CORE_GPUS, build_fleet
from collectors.simulate.realistic.junk import junk_line
from collectors.simulate.realistic.observations import build_observations
from collectors.simulate.realistic.training import build_training

BAD_SHARE = 0.002


@dataclass
class Generated:
    lines: list[str]
    truth: dict[str, Any]


def generate(seed: int, days: float = 3.0, gpus: int = CORE_GPUS, scale: float = 1.0,
             disorder: bool = False) -> Generated:
    """Build one seed's stream (lines in file order) and its truth document."""
    if days < 2:
        raise ValueError(f"--days must be at least 2 (got {days}): drift needs a day of history and a day after")
    if scale <= 0:
        raise ValueError(f"--scale must be positive (got {scale})")
    win = Window.make(seed, days)
    book, stream = Book(), Stream()
    gpu_hours = build_fleet(seed, win, gpus, scale, book, stream)
    weeks = build_billing(seed, win, scale, book, stream)
    build_training(seed, win, book, stream)
    build_observations(seed, win, scale, book, stream)

    rows = stream.rows
    # bad lines beside random gpu_sample / model_observation events (never replacing one)
    r = Rng(seed, "junk")
    templates: dict[str, dict[str, Any]] = {}
    for _ts, _, typ, line in rows:
        if typ not in templates:
            templates[typ] = json.loads(line)
    eligible = [k for k, row in enumerate(rows) if row[2] in ("gpu_sample", "model_observation")]
    n_bad = max(1, round(BAD_SHARE * len(rows)))
    picks = sorted({eligible[int(i)] for i in r.g.choice(len(eligible), n_bad, replace=False)})
    junk: list[tuple[float, int, str, str]] = []
    for k in picks:
        ts, seq, _, line = rows[k]
        junk.append((ts, seq, "junk", junk_line(r, json.loads(line), templates)))

    # file order: by ts; --disorder: billing rows leave in batches every few hours, unsorted within a batch
    d = Rng(seed, "disorder")
    flush = d.u(2, 4) * HOUR
    keyed: list[tuple[float, float, int, str, str]] = []
    for ts, seq, typ, line in rows:
        if disorder and typ == "billing_delta":
            keyed.append((math.ceil(ts / flush) * flush, d.u(0, 1), seq, typ, line))
        else:
            keyed.append((ts, float(seq), seq, typ, line))
    for ts, seq, typ, line in junk:
        keyed.append((ts, seq + 0.5, seq, typ, line))
    keyed.sort(key=lambda k: (k[0], k[1]))
    lines = [k[4] for k in keyed]
    bad_numbers = [i + 1 for i, k in enumerate(keyed) if k[3] == "junk"]
    truth = {"truth": sorted(book.truth, key=lambda t: (t["family"], t["start"])), "benign": book.benign,
             "gpu_hours": round(gpu_hours, 2), "billing_workload_weeks": round(weeks, 3),
             "bad_lines": len(bad_numbers), "bad_line_numbers": bad_numbers, "events": len(rows), "seed": seed,
             "params": {"days": days, "gpus": max(gpus, CORE_GPUS), "scale": scale, "disorder": disorder},
             "window": {"end": win.end, "gpu_start": win.gpu_start, "obs_start": win.obs_start,
                        "bill_start": win.bill_start}}
    return Generated(lines, truth)


def write(out_dir: str, gen: Generated) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    ev_path, truth_path = os.path.join(out_dir, "events.jsonl"), os.path.join(out_dir, "truth.json")
    with open(ev_path, "w", encoding="utf-8") as f:
        f.write("\n".join(gen.lines))
        f.write("\n")
    with open(truth_path, "w", encoding="utf-8") as f:
        json.dump(gen.truth, f, indent=1)
    return ev_path, truth_path
