"""Model observations: four served models reporting 50 values per feature every minute.

One of them has heavy-tailed (Student-t) features. Injection ``drift``: one feature's mean
moving 2 std over 3 h, another's std tripling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from collectors.simulate.config import HOUR, MIN
from collectors.simulate.fleet import workload

if TYPE_CHECKING:
    from collectors.simulate.builder import Builder


def add_observations(sb: Builder) -> None:
    cfg = sb.cfg
    g = np.random.default_rng([cfg.seed, 99])
    minutes = max(1, int(cfg.hours * 60))
    tm = sb.S + np.arange(minutes) * MIN  # batch start
    credit = workload("fintech/credit-limit-api", "inference", "fintech")
    eta = workload("logistics/eta", "inference", "ops")
    ads = workload("ads/ctr-serving", "inference", "ads")
    intent = workload("product/intent-serving", "inference", "product")
    mean_k = np.zeros(minutes)
    sd = np.full(minutes, 20.0)
    if "drift" in cfg.inject:
        a, _ = sb.window(0.25, 0.45, 3, 3)
        mean_k = np.clip((tm - a) / (3 * HOUR), 0, 1)  # 0 -> 1 over 3 h: the mean moves +2 std
        b, _ = sb.window(0.35, 0.6, 1, 1)
        sd = np.where(tm >= b, 65.0, 20.0)  # the spread triples at once
        sb.add_truth("drift", "credit-limit-v2", credit, a, sb.E, feature="income_k")
        sb.add_truth("drift", "eta-gbm-v11", eta, b, sb.E, feature="courier_lag_s")
    size = (minutes, 50)

    def rows(a: np.ndarray) -> list[list[float]]:
        return np.round(a, 4).tolist()  # type: ignore[no-any-return]
    models = [
        ("credit-limit-v2", credit, {"income_k": rows(g.normal(68 + 28 * mean_k[:, None], 14, size)),
                                     "utilization": rows(g.beta(2, 3, size)),
                                     "open_lines": rows(g.integers(1, 13, size).astype(float))}),
        ("eta-gbm-v11", eta, {"distance_km": rows(g.lognormal(1.4, 0.5, size)),
                              "courier_lag_s": rows(90 + g.normal(0, 1, size) * sd[:, None])}),
        ("ads-ctr-dnn", ads, {"bid_cpm": rows(2.1 + 0.4 * g.standard_t(3, size)),
                              "user_age_days": rows(400 + 90 * g.standard_t(3, size))}),
        ("intent-clf-v5", intent, {"text_len": rows(np.maximum(1, np.round(g.normal(48, 11, size)))),
                                   "confidence": rows(g.beta(6, 2, size))}),
    ]
    jitter = g.uniform(0, 1, (minutes, len(models))).tolist()
    starts = tm.tolist()
    events = []
    for k in range(minutes):
        for i, (m, w, vals) in enumerate(models):
            events.append({"type": "model_observation", "ts": round(starts[k] + MIN + 2.5 * i + jitter[k][i], 3),
                           "model_id": m, "workload": w, "values": {f: v[k] for f, v in vals.items()}})
    events = [e for e in events if e["ts"] <= sb.E + MIN]
    sb.emit(events)
