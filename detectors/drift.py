"""Retrain needed: a sustained change in the distribution of a served model's inputs or outputs.

What it flags (kind ``retrain_needed``, resource = ``model_id``)
    Per model and per feature of ``model_observation`` batches, a rank-based two-sample test
    (Kolmogorov-Smirnov) of a recent window against a reference built right after the model
    started serving or was last retrained (see :mod:`detectors.stats.drift_stats` for the method).
    Mean shifts, variance changes and gradual drift all raise the KS statistic; heavy tails
    do not, since only ranks count. One anomaly per model lists every drifting feature with
    its KS statistic, p-value, PSI, reference and current median/IQR and when it started to
    move. ``started_at`` is the earliest change-point estimate of the drifting features (event
    time), not the time the drift was confirmed.

Lifecycle
    - Opens when a feature's drift is confirmed (``stats.confirm_tests`` consecutive elevated
      tests, i.e. several batches: a single noisy batch never opens one).
    - Updates when another feature starts drifting (at most every ``update_every_s``).
    - Resolves when a ``training_run`` of this model *succeeds* after the drift began (the new
      model learnt the new distribution: the reference of every feature is rebuilt from the
      values that follow), when every drifting feature returned to its reference, or when the
      model sends no observation for ``stale_after_s`` (retired or renamed).

Feedback
    A ``feedback`` event saying "not a problem" gives every drifting feature a new reference (the
    values that follow) and resolves the anomaly with ``evidence.resolution``.

Duplicates and late data
    A batch whose ``ts`` is not after the model's latest batch is skipped (a re-delivered batch
    would otherwise be counted twice); a ``training_run`` terminal status is acted on once per
    ``run_id``.

Money
    Drift has no direct price: ``waste_usd`` and ``projected_daily_usd`` are 0 and severity
    follows the Engine's rules (``info``); routing decides who cares.

Defaults, and why
    ``stale_after_s = 6 h``: serving traffic has gaps at night but not of hours for a model
    that is still in use. ``update_every_s = 600``. The test settings are in ``stats``
    (:class:`~detectors.stats.drift_stats.DriftParams`).

Examples
--------
A feature steady for two hours (a batch a minute), whose values then move up by half their range,
then a retrain:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[DriftDetector])
>>> def obs(t, shift):
...     values = [(i * 37 % 100) / 100 + shift for i in range(100)]
...     return validate({"type": "model_observation", "ts": t, "model_id": "churn",
...                      "workload": {"id": "ml/churn-serve"}, "values": {"tenure": values}})
>>> out = [a for k in range(150) for a in engine.process(obs(k * 60.0, 0.0 if k < 120 else 0.5))]
>>> [(a["state"], list(a["evidence"]["drifting_features"]), a["started_at"], a["detected_at"]) for a in out]
[('open', ['tenure'], 7200.0, 7380.0)]
>>> retrain = validate({"type": "training_run", "ts": 10000.0, "run_id": "r1", "model_id": "churn",
...                     "workload": {"id": "ml/churn-train"}, "status": "succeeded"})
>>> [(a["state"], a["evidence"]["resolution"]) for a in engine.process(retrain)]
[('resolved', 'retrained by run r1')]

References
----------
- N. Smirnov, "Table for estimating the goodness of fit of empirical distributions", *Annals
  of Mathematical Statistics* 19 (1948), 279-281: the two-sample statistic and its limit law.
- F. J. Massey, "The Kolmogorov-Smirnov test for goodness of fit", *Journal of the American
  Statistical Association* 46 (1951), 68-78: critical values (``alpha``).
- H. B. Mann and D. R. Whitney, "On a test of whether one of two random variables is
  stochastically larger than the other", *Annals of Mathematical Statistics* 18 (1947),
  50-60: the rank-shift score (``z_threshold``).
- E. S. Page, "Continuous inspection schemes", *Biometrika* 41 (1954), 100-115: confirming a
  change only after several elevated tests, and dating it back to where the rise began.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.drift_stats import MODEL_DRIFT, DriftParams, ModelDrift
from detectors.stats.runs import first_time
from spendwatch.anomaly import Finding
from spendwatch.contract import MODEL_OBSERVATION, TRAINING_RUN, model_key

KIND = "retrain_needed"
_SEEN_RUNS = 64


@dataclass(frozen=True)
class DriftConfig:
    """``drift`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    stats
        The drift tests' settings (:class:`~detectors.stats.drift_stats.DriftParams`), a nested
        mapping.
    stale_after_s
        A model with no observation for this long resolves its anomaly (6 h).
    update_every_s
        At most one update (another feature drifting) per this much event time (600 s).
    max_features_in_evidence
        Drifting features listed in the evidence, the largest KS statistic first (20).
    """

    stats: DriftParams = field(default_factory=DriftParams)
    stale_after_s: float = 6 * 3600.0
    update_every_s: float = 600.0
    max_features_in_evidence: int = 20


class DriftDetector(Detector):
    """One model: per-feature drift state and at most one open ``retrain_needed`` anomaly."""

    name = "drift"
    event_types = (MODEL_OBSERVATION, TRAINING_RUN)
    kinds = (KIND,)
    config_cls = DriftConfig
    config: DriftConfig

    def __init__(self, key: str, config: DriftConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.last_obs_ts: float | None = None
        self.workload: dict[str, Any] | None = None
        self.seen_runs: deque[str] = deque(maxlen=_SEEN_RUNS)
        self.open_start: float | None = None
        self.open_features: set[str] = set()
        self.last_report = float("-inf")
        self.pending_update = False  # a feature started drifting since the last report

    key_of = staticmethod(model_key)  # the contract's Kafka key: model_id

    @property
    def model(self) -> ModelDrift:
        """The model's drift state, shared with ``retrain_without_drift`` (the Engine keeps one)."""
        return self.context.state(MODEL_DRIFT, self.key, ModelDrift)

    def process(self, event: dict[str, Any]) -> list[Finding]:
        if event["type"] == TRAINING_RUN:
            return self._training(event)
        ts = event["ts"]
        if self.last_obs_ts is not None and ts <= self.last_obs_ts:
            return []  # duplicate or late batch
        self.last_obs_ts = ts
        self.workload = event["workload"]
        self.model.observe(event["values"], ts, self.config.stats)
        drifting = self.model.drifting()
        if self.open_start is None:
            if not drifting:
                return []
            self.open_start = min(f.drift_start if f.drift_start is not None else ts for f in drifting.values())
            self.open_features = set(drifting)
            self.wants_tick = True
            self.last_report = ts
            return [self._finding(ts, active=True)]
        if not drifting:
            return self._end(ts, "the distribution returned to its reference")
        new = set(drifting) - self.open_features
        if new:
            self.open_features |= new
            self.pending_update = True
        if self.pending_update and ts - self.last_report >= self.config.update_every_s:
            self.pending_update = False
            self.last_report = ts
            finding = self._finding(ts, active=True)
            finding.notify = True  # no money moved, but on-call should hear about the new feature
            return [finding]
        return []

    def _training(self, event: dict[str, Any]) -> list[Finding]:
        if event["status"] != "succeeded" or not first_time(self.seen_runs, event["run_id"]):
            return []
        ts = event["ts"]
        out: list[Finding] = []
        if self.open_start is not None and ts > self.open_start:
            out = self._end(ts, f"retrained by run {event['run_id']}")
        # the shared reference rule: rebuilt after drift, kept (a new judging period) after a
        # retrain on unchanged inputs
        self.model.retrained(event["run_id"])
        return out

    def restored(self) -> None:
        legacy = self.__dict__.pop("legacy_model", None)  # a snapshot from before the state was shared
        if legacy is not None and (MODEL_DRIFT, self.key) not in self.context.states:
            self.context.states[(MODEL_DRIFT, self.key)] = legacy

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "model" in state:
            state["legacy_model"] = state.pop("model")
        super().__setstate__(state)

    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """"Not a problem": the drifting features are expected to look like this now. Each gets a
        new reference (rebuilt from the values that follow, like after a retrain) and the anomaly
        resolves with ``evidence.resolution``."""
        if event["verdict"] != "not_a_problem" or self.open_start is None:
            return []
        at = max(event["ts"], self.last_obs_ts or event["ts"])
        out = self._end(at, f"marked not a problem by {event['by']}")
        for name in self.model.drifted_since_mark():
            self.model.features[name].reset()
        return out

    def tick(self, now: float) -> list[Finding]:
        if self.open_start is not None and self.last_obs_ts is not None \
                and now - self.last_obs_ts > self.config.stale_after_s:
            return self._end(self.last_obs_ts, "no observations any more")
        return []

    def _end(self, at: float, why: str) -> list[Finding]:
        if self.open_start is None:
            return []
        f = self._finding(at, active=False, why=why)
        self.open_start = None
        self.open_features = set()
        self.wants_tick = False
        return [f]

    def _finding(self, at: float, active: bool, why: str = "") -> Finding:
        assert self.open_start is not None
        cfg = self.config
        feats = {n: self.model.features[n] for n in sorted(self.open_features) if n in self.model.features}
        shown = dict(sorted(feats.items(), key=lambda kv: -kv[1].last_d)[: cfg.max_features_in_evidence])
        names = ", ".join(shown) or "(reset)"
        if active:
            summary = (f"model {self.key}: input distribution drifted on {len(feats)} feature(s) ({names}); "
                       f"the model is serving data unlike what it was trained on: consider a retrain")
        else:
            summary = f"model {self.key}: drift on {names} ended ({why})"
        evidence = {
            "model_id": self.key,
            "drifting_features": {n: f.evidence() for n, f in shown.items()},
            "features_watched": len(self.model.features),
            "test": "two-sample Kolmogorov-Smirnov, rank shift and repeated values' shares vs reference, "
                    "leave-worst-batch-out",
            "confirm_tests": cfg.stats.confirm_tests,
            "drift_started_at": round(self.open_start, 3),
        }
        if why:
            evidence["resolution"] = why
        return Finding(kind=KIND, resource=self.key, workload=self.workload, started_at=self.open_start, at=at,
                       active=active, waste_usd=0.0,
                       projected_daily_usd=0.0, summary=summary, evidence=evidence)
