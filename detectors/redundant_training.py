"""Redundant training: the same training done twice, by two teams or two schedules (an insight, not a page).

What it flags (kind ``redundant_training``, resource = ``<data_version>@<code_version>``)
    A ``training_run`` that *succeeds* on the same ``data_version`` and ``code_version`` as a run
    that already succeeded within ``window_s`` (7 days) *for another owner*:

    - another team (both runs' workloads name a team, and they differ), training the same model
      or, with ``across_models``, another ``model_id`` on the same data and code; or
    - the same model retrained by two schedules: another workload, both runs triggered by
      ``schedule`` (two cron jobs doing the same work).

    The later run is the duplicate: its GPU-hours and cost are the money, and both owners are
    named (the evidence lists the original run, its model, workload and team).

    One team re-running its own training is not redundant: a hyper-parameter sweep on one
    ``data_version`` (manual trials, also as separate workloads), a retry, or a nightly
    schedule on new data. Retraining one model on unchanged data by one schedule is the no-gain
    loop of ``retrain_loop``. A run without a ``data_version`` is never judged (no evidence, no
    verdict).

    Each duplicate is one insight, opened and resolved at once (the run is over; the report shows
    it with its dollars).

Keys and partitions
    ``training_run`` is keyed by ``model_id``; the runs of a data set are remembered in a small
    table in the Engine (:meth:`~detectors.base.DetectorContext.state`, keyed by data and code
    version, snapshotted). Two schedules of one model are always in one partition. Two different
    models are in one Engine in replay and the demo; in a stream worker only when their
    ``model_id`` hash to the same partition, so there it can miss a duplicate across models (it
    never invents one).

Money
    ``waste_usd`` = the duplicate's cost (``cost_usd``, else ``gpu_hours`` x the training GPU-hour
    price: :func:`detectors.stats.runs.run_cost_usd`); ``projected_daily_usd`` = the same per day
    at the interval between the two runs (a duplicate schedule repeats), at most the run's cost.

Examples
--------
Team search trains an embedding model; team ads trains its own copy on the same data and code a
few hours later:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[RedundantTrainingDetector])
>>> def done(ts, run, model, wid, team):
...     return validate({"type": "training_run", "ts": ts, "run_id": run, "model_id": model, "status": "succeeded",
...                      "workload": {"id": wid, "kind": "training", "team": team}, "started_at": ts - 3 * 3600,
...                      "ended_at": ts, "gpu_hours": 24.0, "cost_usd": 70.8, "data_version": "clicks-w12",
...                      "code_version": "embed@1f3c"})
>>> out = engine.process(done(50_000.0, "r1", "query-embed", "search/embed-train", "search"))
>>> out += engine.process(done(70_000.0, "r2", "ads-query-embed", "ads/embed-train", "ads"))
>>> [(a["type"], a["state"], a["resource"], a["waste_usd"]) for a in out]
[('insight', 'open', 'clicks-w12@embed@1f3c', 70.8), ('insight', 'resolved', 'clicks-w12@embed@1f3c', 70.8)]
>>> out[0]["evidence"]["original"]["team"], out[0]["workload"]["team"]
('search', 'ads')

References
----------
- D. Sculley et al., "Hidden technical debt in machine learning systems", NeurIPS 28 (2015):
  duplicated pipelines and glue code across teams.
- FinOps Foundation, "FinOps for AI" (2024): shared training artefacts and a model registry as
  the remedy for teams training the same model twice.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.runs import first_time, run_cost_usd
from spendwatch.anomaly import Finding
from spendwatch.contract import TRAINING_RUN, model_key

DAY = 86400.0
_DATASETS = "redundant_training.datasets"  # shared primary state: data@code -> recent successful runs


@dataclass(frozen=True)
class RedundantTrainingConfig:
    """``redundant_training`` section.

    Parameters
    ----------
    window_s
        A run duplicates one that succeeded on the same data and code within this much event
        time before it (7 days).
    across_models
        Also count different ``model_id`` on the same data and code (true); false: only the same
        model trained by two workloads.
    min_cost_usd
        A duplicate must cost at least this much to be reported (1).
    runs_kept
        Successful runs remembered per data set (8).
    """

    window_s: float = 7 * DAY
    across_models: bool = True
    min_cost_usd: float = 1.0
    runs_kept: int = 8


class DatasetRuns:
    """The recent successful runs on one data and code version (shared by the models that train on
    it). A class of its own, not a bare list: a worker restores shared state only as detector state."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []


class RedundantTrainingDetector(Detector):
    """One model's successful runs, compared with the other runs on the same data and code."""

    name = "redundant_training"
    event_types = (TRAINING_RUN,)
    kinds = ("redundant_training",)
    insight_kinds = kinds
    config_cls = RedundantTrainingConfig
    config: RedundantTrainingConfig

    def __init__(self, key: str, config: RedundantTrainingConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.seen: deque[str] = deque(maxlen=256)

    key_of = staticmethod(model_key)

    def process(self, event: dict[str, Any]) -> list[Finding]:
        if event["status"] != "succeeded" or not event.get("data_version"):
            return []
        if not first_time(self.seen, event["run_id"]):
            return []  # a redelivered terminal status
        cfg = self.config
        data, code = str(event["data_version"]), str(event.get("code_version") or "")
        ts = event["ts"]
        ended = float(event.get("ended_at") or ts)
        started = float(event.get("started_at") or ended)
        wl = event["workload"]
        cost = run_cost_usd(event, self.context.prices)
        run = {"run_id": event["run_id"], "model_id": event["model_id"], "workload_id": wl["id"],
               "team": wl.get("team"), "owner": wl.get("owner"), "trigger": event.get("trigger"),
               "started_at": started, "ended_at": ended,
               "gpu_hours": event.get("gpu_hours"), "cost_usd": round(cost, 2)}
        shared: DatasetRuns = self.context.state(_DATASETS, f"{data}@{code}", DatasetRuns)
        runs = shared.runs
        runs[:] = [r for r in runs if ended - r["ended_at"] <= cfg.window_s and r["run_id"] != run["run_id"]]
        original = next((r for r in runs if self._other_owner(r, run)), None)
        runs.append(run)
        del runs[:-cfg.runs_kept]
        if original is None or cost < cfg.min_cost_usd:
            return []
        gap = max(ended - original["ended_at"], 3600.0)
        daily = min(cost, cost * DAY / gap)
        who = f"{wl['id']} ({wl.get('team') or 'no team'})"
        them = f"{original['workload_id']} ({original.get('team') or 'no team'})"
        same = "the same model" if original["model_id"] == run["model_id"] else f"model {original['model_id']}"
        summary = (f"{event['model_id']} trained by {who} on {data} with code {code or '?'}: the same training as "
                   f"{same} by {them} {(ended - original['ended_at']) / 3600:.1f} h earlier: "
                   f"${cost:,.2f} ({event.get('gpu_hours') or 0:g} GPU-hours) spent twice")
        evidence = {"data_version": data, "code_version": code or None, "duplicate": run, "original": original,
                    "owners": sorted({str(original.get("owner") or original["workload_id"]),
                                      str(wl.get("owner") or wl["id"])}),
                    "action": f"share {original['model_id']}'s artefact (or one pipeline) between "
                              f"{original.get('team') or original['workload_id']} and "
                              f"{wl.get('team') or wl['id']} instead of training twice"}
        resource = f"{data}@{code}" if code else data
        f_open = Finding(kind="redundant_training", resource=resource, workload=wl, started_at=started, at=ts,
                         active=True, waste_usd=cost, projected_daily_usd=daily, summary=summary, evidence=evidence)
        f_end = Finding(kind="redundant_training", resource=resource, workload=wl, started_at=started, at=ts,
                        active=False, waste_usd=cost, projected_daily_usd=daily, summary=summary,
                        evidence=dict(evidence))
        return [f_open, f_end]

    def _other_owner(self, earlier: dict[str, Any], run: dict[str, Any]) -> bool:
        if earlier["workload_id"] == run["workload_id"]:
            return False  # one workload re-running its own training: a sweep, a retry
        same_model = earlier["model_id"] == run["model_id"]
        if earlier.get("team") and run.get("team") and earlier["team"] != run["team"]:
            return same_model or self.config.across_models  # two teams
        # one team (or teams unknown): only two schedules of one model are a duplicate, not a sweep
        return same_model and earlier.get("trigger") == "schedule" and run.get("trigger") == "schedule"
