"""Retrains without drift: money spent retraining a model whose inputs did not change.

What it flags (kind ``retrain_without_drift``, resource = ``model_id``)
    A ``training_run`` that *succeeds* for a model when, since that model's previous successful
    retrain,

    - its ``model_observation`` inputs were watched (at least ``min_tests`` drift tests on some
      feature) and no feature's drift was confirmed (same bounded rank-based tests as
      ``retrain_needed``: :mod:`detectors.stats.drift_stats`), and
    - its metric did not improve materially over the previous successful run's metric
      (``min_gain_pct``, honouring ``higher_is_better``).

    No evidence is no verdict: a model with no observations, a first retrain (no previous
    metric to compare with) and a run without a metric are never flagged.

Lifecycle (one anomaly per series of needless retrains)
    - Opens on the first needless retrain: ``started_at`` = that run's start.
    - Each further needless retrain updates it (count, runs, waste).
    - Resolves at a *justified* retrain, one after confirmed drift or with a material metric
      gain, or after ``max(quiet_min_s, quiet_factor`` x the usual interval between retrains)
      without any retrain (the schedule was stopped). A retrain we cannot judge (no
      observations since the last one, no metric) neither extends nor resolves it.

Reference handling
    After a retrain that followed confirmed drift the reference of every feature is rebuilt
    (the model learnt the new distribution). After a needless retrain only the judging period
    restarts and the reference is kept: inputs did not change, and frequent retrains must not
    keep the detector blind while a new reference fills.

Money
    ``waste_usd`` = the needless runs' cost (``cost_usd``, else ``gpu_hours`` x the GPU-hour
    price of the ``prices`` section: :func:`detectors.stats.runs.run_cost_usd`).
    ``projected_daily_usd`` = mean cost of a needless run x retrains per day at the model's
    median interval between successful retrains.

Duplicates and late data
    A terminal status counts once per ``run_id``; an observation batch not newer than the
    model's latest is skipped.

Defaults, and why
    ``min_tests = 3`` (a few windows of real traffic, not a handful of values);
    ``min_gain_pct = 0.5`` (above seed noise, below what new data or a fix brings);
    ``quiet_min_s = 6 h``, ``quiet_factor = 3``.

Examples
--------
A model retrained every day on inputs that never change, for the same metric, at $40 a run:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[RetrainWithoutDriftDetector])
>>> def obs(t):
...     values = [(i * 37 % 100) / 100 for i in range(100)]
...     return validate({"type": "model_observation", "ts": t, "model_id": "churn",
...                      "workload": {"id": "ml/churn-serve"}, "values": {"tenure": values}})
>>> def run(day):
...     start = day * 86400.0 + 7200.0
...     return validate({"type": "training_run", "ts": start + 1800.0, "run_id": f"r{day}", "model_id": "churn",
...                      "workload": {"id": "ml/churn-train"}, "status": "succeeded", "started_at": start,
...                      "ended_at": start + 1800.0, "cost_usd": 40.0,
...                      "metric": {"name": "auc", "value": 0.81, "higher_is_better": True}})
>>> out = []
>>> for day in range(4):
...     out += [a for k in range(30) for a in engine.process(obs(day * 86400.0 + k * 60.0))]
...     out += engine.process(run(day))
>>> [(a["state"], a["waste_usd"], a["evidence"]["needless_retrains"]) for a in out]
[('open', 40.0, 1), ('open', 80.0, 2), ('open', 120.0, 3)]

The first retrain has nothing to be compared with; each later one is needless.

References
----------
- N. Smirnov (1948) and F. J. Massey (1951), as in :mod:`detectors.drift`: the two-sample
  Kolmogorov-Smirnov test of the inputs since the last retrain
  (:mod:`detectors.stats.drift_stats`).
- D. Sculley et al., "Hidden technical debt in machine learning systems", *NeurIPS* 28
  (2015): retraining on a fixed schedule regardless of whether the data changed.
- X. Bouthillier et al., "Accounting for variance in machine learning benchmarks",
  *Proceedings of MLSys* 3 (2021): the seed noise ``min_gain_pct`` sits above.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.drift_stats import MODEL_DRIFT, DriftParams, ModelDrift
from detectors.stats.runs import first_time, metric_gain, metric_value, run_cost_usd
from spendwatch.anomaly import Finding
from spendwatch.contract import MODEL_OBSERVATION, TRAINING_RUN, model_key

KIND = "retrain_without_drift"
_SEEN_RUNS = 64
_INTERVALS = 16


@dataclass(frozen=True)
class RetrainWithoutDriftConfig:
    """``retrain_without_drift`` section; see the module docstring for each default.

    Parameters
    ----------
    stats
        The drift tests' settings (:class:`~detectors.stats.drift_stats.DriftParams`), a nested
        mapping: the same tests as ``retrain_needed``. The two share one drift state per model;
        when both sections set ``stats``, the ``drift`` section's applies (it runs first).
    min_tests
        Drift tests (on some feature) since the last retrain before a retrain can be judged (3).
    min_gain_pct
        A metric gain above this share of the previous run's metric justifies a retrain (0.5 %).
    quiet_min_s, quiet_factor
        No retrain for ``max(quiet_min_s, quiet_factor`` x the median interval) resolves the
        series (6 h, x 3).
    max_runs_in_evidence
        Most recent needless runs listed in the evidence (20).

    A run's price is the ``prices`` section's (``training_gpu_usd``, or the table's entry for
    the workload's ``gpu_model`` label).
    """

    stats: DriftParams = field(default_factory=DriftParams)
    min_tests: int = 3
    min_gain_pct: float = 0.5
    quiet_min_s: float = 6 * 3600.0
    quiet_factor: float = 3.0
    max_runs_in_evidence: int = 20


@dataclass
class _Success:
    run_id: str
    started_at: float
    ended_at: float
    metric: dict[str, Any] | None


class RetrainWithoutDriftDetector(Detector):
    """One model: drift since its last retrain, and the series of needless retrains."""

    name = "retrain_without_drift"
    event_types = (MODEL_OBSERVATION, TRAINING_RUN)
    kinds = (KIND,)
    config_cls = RetrainWithoutDriftConfig
    config: RetrainWithoutDriftConfig

    def __init__(self, key: str, config: RetrainWithoutDriftConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.last_obs_ts: float | None = None
        self.seen: deque[str] = deque(maxlen=_SEEN_RUNS)
        self.prev: _Success | None = None
        self.intervals: deque[float] = deque(maxlen=_INTERVALS)
        self.last_retrain_ts = float("-inf")
        self.last_verdict_ratio = 0.0
        self.muted = False  # marked "not a problem": this schedule's needless retrains page no more
        # the open series of needless retrains
        self.start: float | None = None
        self.workload: dict[str, Any] | None = None
        self.waste = 0.0
        self.count = 0
        self.runs: deque[dict[str, Any]] = deque()

    key_of = staticmethod(model_key)  # the contract's Kafka key: model_id

    @property
    def model(self) -> ModelDrift:
        """The model's drift state, shared with ``retrain_needed`` (the Engine keeps one)."""
        return self.context.state(MODEL_DRIFT, self.key, ModelDrift)

    def process(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        if event["type"] == MODEL_OBSERVATION:
            if self.last_obs_ts is None or ts > self.last_obs_ts:
                self.last_obs_ts = ts
                # the drift detector of the same model usually fed this batch already: then this
                # is a no-op (one drift state per model, tested once)
                self.model.observe(event["values"], ts, self.config.stats)
            return []
        if event["status"] != "succeeded" or not first_time(self.seen, event["run_id"]):
            return []
        return self._retrained(event, ts)

    def _retrained(self, event: dict[str, Any], ts: float) -> list[Finding]:
        cfg = self.config
        run = _Success(event["run_id"], float(event.get("started_at") or ts), float(event.get("ended_at") or ts),
                       event.get("metric"))
        prev = self.prev
        if prev is not None and run.started_at > prev.started_at:
            self.intervals.append(run.started_at - prev.started_at)
        verdict = self.model.retrained(run.run_id)  # the same verdict retrain_needed got
        watched, drifted = verdict.tests >= cfg.min_tests, verdict.drifted
        self.last_verdict_ratio = verdict.max_ratio
        gain = self._gain(prev.metric if prev else None, run.metric)
        out: list[Finding] = []
        if drifted or gain is True:
            self.muted = False  # a justified retrain: the schedule is judged afresh from here
            why = f"drift on {', '.join(drifted)}" if drifted else "a material metric gain"
            out = self._end(ts, f"run {run.run_id} was justified by {why}")
        elif prev is not None and watched and gain is False and not self.muted:
            cost = run_cost_usd(event, self.context.prices)
            if self.start is None:
                self.start, self.waste, self.count = run.started_at, 0.0, 0
                self.runs.clear()
                self.wants_tick = True
            self.workload = event["workload"]
            self.waste += cost
            self.count += 1
            self.runs.append({"run_id": run.run_id, "started_at": round(run.started_at, 3),
                              "ended_at": round(run.ended_at, 3), "cost_usd": round(cost, 2),
                              "metric": metric_value(run.metric), "previous_metric": metric_value(prev.metric),
                              "data_version": event.get("data_version"), "trigger": event.get("trigger")})
            while len(self.runs) > cfg.max_runs_in_evidence:
                self.runs.popleft()
            out = [self._finding(ts, active=True)]
        self.prev = run
        self.last_retrain_ts = max(self.last_retrain_ts, ts)
        return out

    def _gain(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool | None:
        """True/False: the metric improved materially or not; None: cannot tell."""
        if before is None or after is None or before.get("name") != after.get("name"):
            return None
        return metric_gain(float(before["value"]), float(after["value"]), bool(after.get("higher_is_better")),
                           self.config.min_gain_pct)

    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """"Not a problem": the schedule is wanted as it is. The series resolves (``evidence.resolution``)
        and needless retrains of this model page no more until a justified one restarts the judging."""
        if event["verdict"] != "not_a_problem":
            return []
        self.muted = True
        return self._end(max(event["ts"], self.last_retrain_ts), f"marked not a problem by {event['by']}")

    def tick(self, now: float) -> list[Finding]:
        if self.start is None:
            return []
        typical = median(self.intervals) if self.intervals else 0.0
        if now - self.last_retrain_ts > max(self.config.quiet_min_s, self.config.quiet_factor * typical):
            return self._end(self.last_retrain_ts, "no retrain since: the schedule stopped")
        return []

    def _end(self, at: float, why: str) -> list[Finding]:
        if self.start is None:
            return []
        f = self._finding(at, active=False, why=why)
        self.start = None
        self.wants_tick = False
        return [f]

    def _finding(self, at: float, active: bool, why: str = "") -> Finding:
        assert self.start is not None
        typical = median(self.intervals) if self.intervals else 86400.0
        daily = self.waste / max(self.count, 1) * 86400.0 / max(typical, 3600.0)
        if active:
            summary = (f"model {self.key}: {self.count} retrain(s) with no input drift and no metric gain; "
                       f"${self.waste:.2f} spent without need, ${daily:.0f}/day at this schedule")
        else:
            summary = f"model {self.key}: needless retrains ended ({why}); ${self.waste:.2f} spent without need"
        evidence: dict[str, Any] = {
            "model_id": self.key,
            "needless_retrains": self.count,
            "runs": list(self.runs),
            "features_watched": sorted(self.model.features),
            "max_drift_score_since_last_retrain": round(self.last_verdict_ratio, 3),
            "min_gain_pct": self.config.min_gain_pct,
            "median_retrain_interval_s": round(typical, 1),
        }
        if why:
            evidence["resolution"] = why
        return Finding(kind=KIND, resource=self.key, workload=self.workload, started_at=self.start, at=at,
                       active=active, waste_usd=self.waste,
                       projected_daily_usd=daily, summary=summary, evidence=evidence)
