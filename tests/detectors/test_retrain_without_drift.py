"""retrain_without_drift: needless retrains open one anomaly; drift, metric gains and missing
evidence do not; a justified retrain or a quiet schedule resolves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from detectors.engine import Engine
from detectors.retrain_without_drift import RetrainWithoutDriftDetector
from spendwatch.config import Settings
from tests.factories import model_observation, training_run, workload

H, M = 3600.0, 60.0
T0 = 1_774_000_000.0


def observations(hours: float, gen: Callable[[np.random.Generator, float], np.ndarray],
                 model: str = "intent") -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    return [model_observation(T0 + (i + 1) * M, model_id=model, workload=workload(f"serving/{model}"),
                              values={"text_len": [float(x) for x in gen(rng, T0 + (i + 1) * M)],
                                      "confidence": [float(x) for x in rng.beta(6, 2, 50)]})
            for i in range(int(hours * 60))]


def stable(r: np.random.Generator, t: float) -> np.ndarray:
    return np.round(r.normal(48, 11, 50))


def retrains(model: str = "intent", every_h: float = 2.0, n: int = 5, metric: Callable[[int], float] | None = None,
             hib: bool = True, cost: float | None = 3.0, gpu_hours: float | None = None) -> list[dict[str, Any]]:
    evs = []
    for k in range(1, n + 1):
        st = T0 + k * every_h * H
        m = {"name": "accuracy", "value": metric(k) if metric else 0.9132 + (-1) ** k * 4e-4, "higher_is_better": hib}
        evs.append(training_run(st + 30 * M, run_id=f"{model}-{k}", model_id=model, workload=workload(f"train/{model}"),
                                started_at=st, ended_at=st + 30 * M, metric=m, data_version=f"tickets-{k}",
                                cost_usd=cost, gpu_hours=gpu_hours, trigger="schedule"))
    return evs


def replay(events: list[dict[str, Any]], settings: Settings | None = None, until: float | None = None,
           ) -> list[dict[str, Any]]:
    eng = Engine(settings, [RetrainWithoutDriftDetector])
    out = eng.process_many(sorted(events, key=lambda e: e["ts"]))
    return out + (eng.advance(until) if until else [])


def ids(out: list[dict[str, Any]]) -> set[str]:
    return {a["id"] for a in out}


def test_needless_retrains_open_one_anomaly_that_grows() -> None:
    out = replay(observations(12, stable) + retrains())
    assert len(ids(out)) == 1
    first = out[0]
    assert first["kind"] == "retrain_without_drift" and first["resource"] == "intent"
    assert first["workload"]["id"] == "train/intent"
    assert first["started_at"] == T0 + 4 * H  # the second retrain: the first has nothing to compare with
    assert first["detected_at"] == T0 + 4 * H + 30 * M
    assert first["evidence"]["needless_retrains"] == 1
    assert out[-1]["state"] == "open" and out[-1]["evidence"]["needless_retrains"] >= 3
    assert first["projected_daily_usd"] == 3.0 * 12  # $3 a run, every 2 h


def test_models_without_observations_are_never_flagged() -> None:
    assert replay(retrains(model="churn", every_h=1, n=10)) == []
    # observations of another model are no evidence for this one
    assert replay(observations(12, stable, model="other") + retrains(model="churn")) == []


def test_retrains_after_drift_are_justified_and_resolve() -> None:
    shift = T0 + 5 * H

    def drifting(r: np.random.Generator, t: float) -> np.ndarray:
        return np.round(r.normal(48 + (30 if t > shift else 0), 11, 50))
    out = replay(observations(12, drifting) + retrains())
    # needless at 4 h, justified at 6 h (drift since 5 h), then the new reference is the shifted one
    assert out[0]["state"] == "open" and out[0]["started_at"] == T0 + 4 * H
    resolved = [a for a in out if a["state"] == "resolved"]
    assert len(resolved) == 1 and resolved[0]["resolved_at"] == T0 + 6 * H + 30 * M
    assert "drift on text_len" in resolved[0]["evidence"]["resolution"]


def test_material_metric_gain_is_not_needless_honouring_lower_is_better() -> None:
    improving = retrains(metric=lambda k: 0.50 - 0.02 * k, hib=False)
    assert replay(observations(12, stable) + improving) == []
    worse = retrains(metric=lambda k: 0.50 + 0.02 * k, hib=False)
    assert len(ids(replay(observations(12, stable) + worse))) == 1


def test_runs_without_metric_are_not_judged() -> None:
    evs = retrains()
    for e in evs:
        e["metric"] = None
    assert replay(observations(12, stable) + evs) == []


def test_duplicate_training_events_count_once() -> None:
    evs = retrains()
    out = replay(observations(12, stable) + evs + [dict(e, ts=e["ts"] + 10) for e in evs])
    assert len(ids(out)) == 1
    assert out[-1]["evidence"]["needless_retrains"] == 4


def test_quiet_schedule_resolves_and_gpu_hours_price_is_used() -> None:
    evs = observations(12, stable) + retrains(n=3, cost=None, gpu_hours=1.0)
    out = replay(evs, Settings({"prices": {"training_gpu_usd": 2.0}}), until=T0 + 40 * H)
    assert len(ids(out)) == 1 and out[0]["state"] == "open" and out[-1]["state"] == "resolved"
    assert out[-1]["resolved_at"] == T0 + 6 * H + 30 * M
    assert out[-1]["waste_usd"] == 4.0  # two needless runs x 1 GPU-hour x $2
