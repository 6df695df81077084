"""Bad input: about 0.2 % extra lines that are not valid contract events, each beside a real event.

The kinds are what broken collectors and hand-made producers send: cut-off lines, values that are not objects,
timestamps as text, wrong types, negative money or bytes, percentages outside 0-100, NaN and Infinity, unknown event
types, over-long identifiers and missing required fields (shared/CONTRACT.md, "Encoding").
"""

from __future__ import annotations

import json
import time
from typing import Any

from collectors.simulate.realistic.common import Rng

KINDS = 16


def junk_line(r: Rng, ev: dict[str, Any], templates: dict[str, dict[str, Any]]) -> str:
    """One malformed line derived from ``ev`` (or from the first event of another type)."""
    ts = ev["ts"]
    gpu = dict(templates["gpu_sample"], ts=ts)
    obs = dict(templates["model_observation"], ts=ts)
    bill = dict(templates["billing_delta"], ts=ts)
    run = dict(templates["training_run"], ts=ts)
    kind = r.i(0, KINDS - 1)
    if kind == 0:                                                    # cut off mid-line
        s = json.dumps(ev)
        return s[: r.i(10, len(s) - 3)]
    if kind == 1:                                                    # not an object
        return str(r.pick(("null", "42", '"gpu_sample"', json.dumps([ev["type"], ts]), "true")))
    bad: dict[str, Any]
    if kind == 2:
        bad = dict(ev, ts=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)))
    elif kind == 3:
        bad = dict(bill, cost_usd=-round(r.u(0.01, 50), 4))
    elif kind == 4:
        bad = dict(gpu, util_gpu_pct=round(r.u(100.5, 250), 1))
    elif kind == 5:
        bad = dict(gpu, mem_used_bytes=-r.i(1, 80) * (1 << 30))
    elif kind == 6:
        return json.dumps(dict(gpu, util_gpu_pct=float("nan")))
    elif kind == 7:
        vals = {k: v[:3] + [float("inf")] + v[4:] for k, v in obs["values"].items()}
        return json.dumps(dict(obs, values=vals))
    elif kind == 8:
        bad = {"type": r.pick(("gpu_xid_event", "dcgm_health", "billing")), "ts": ts, "node": gpu["node"]}
    elif kind == 9:
        bad = dict(gpu, node="n" * r.i(513, 4000))
    elif kind == 10:
        src = r.pick((gpu, obs, bill, run))
        bad = {k: v for k, v in src.items() if k != "workload"}
    elif kind == 11:
        bad = dict(gpu, interval_s=f"{int(gpu['interval_s'])}s")
    elif kind == 12:
        bad = dict(obs, values={k: ";".join(map(str, v[:5])) for k, v in obs["values"].items()})
    elif kind == 13:
        bad = dict(gpu, sm_active_pct=-round(r.u(0.5, 20), 2))
    elif kind == 14:
        bad = dict(gpu, mem_total_bytes=float(gpu["mem_total_bytes"]) + 0.5)
    else:
        bad = dict(run, cost_usd=-round(r.u(1, 500), 2))
    return json.dumps(bad)
