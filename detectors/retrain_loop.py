"""Retrain loops: a model retrained again and again for nothing.

What it flags (kind ``retrain_loop``, resource = ``model_id``), from ``training_run`` events
    - **crash loop**: runs of one model that end ``failed`` or ``cancelled`` and are restarted,
      ``min_rounds`` times or more in a row, each restart within ``max_gap_s`` of the previous
      run's end. A successful run breaks the pattern.
    - **no-gain loop**: successful runs that retrain on the same ``data_version`` (and
      ``code_version``) as the previous successful run without a material metric gain
      (``min_gain_pct``, honouring ``higher_is_better``), ``min_rounds`` runs in a row each
      within ``max_gap_s`` of the previous. When a run names no ``data_version``, the metric
      decides alone: no material gain over the best so far counts as a repeat. A run on new
      data or new code, or one that improves the metric materially, breaks the pattern.
      Fresh data with a flat metric is *not* a loop here: whether that retrain was needed
      depends on the inputs, which is what ``retrain_without_drift`` judges.

Healthy patterns that stay quiet
    - scheduled retrains on fresh data that improve (each run has new ``data_version``);
    - a hyper-parameter sweep: many models at once (separate keys), or many runs of one model
      that *overlap in time*: a run that started before the previous round ended is a sibling
      in the same round, not a restart, so parallel trials count as one round; and a run that
      fails while another run of the model is at work (started, or a progress update, within
      2 h, not over yet) is one failed trial among several, never a round of a crash loop
      (a sweep's short out-of-memory failures end before the long trials around them);
    - a long fine-tune posting progress (``status: started`` again with the same ``run_id``):
      only terminal statuses count, once per ``run_id``;
    - a sweep run one trial after another: trials on the same data whose metrics differ by more
      than ``flat_pct`` are experiments, not repeats;
    - somebody debugging by hand: failed runs with ``trigger: manual`` and a new ``code_version``
      each time are attempts, not a crash loop;
    - somebody cancelling their own run: a ``cancelled`` run started by hand (``trigger: manual``)
      and started again is work in progress (the person is at the keyboard), never a round.

Lifecycle
    Opens at the ``min_rounds``-th run of the pattern (already at the ``early_rounds``-th when an
    automatic retry or a schedule repeats it and it burns at least ``early_min_daily_usd`` a day)
    with ``started_at`` = the start of the
    pattern's first run (the first failed run; for a no-gain loop, the run whose data the
    others repeat). A no-gain loop opens already as its second round *starts* when a schedule starts
    the very retrain it ran last time (the same ``data_version`` and ``code_version`` as the previous
    successful run, which the schedule started too, after it ended) at a pace that burns
    ``early_min_daily_usd`` a day: nothing new can come of it, and waiting for its end costs a
    round; a flat end adds the round, a material gain or a failure of that run resolves it.
    Updates as runs pile up. Resolves when a run breaks the pattern, or when
    the model is quiet (no ``training_run`` event at all) for ``max(quiet_min_s, quiet_factor``
    x the loop's median interval, ``quiet_last_factor`` x its latest interval) of event time: the
    loop stopped, resolved at its last run's end.

Money
    Each run costs its ``cost_usd`` when given, else ``gpu_hours`` x the GPU-hour price from the
    ``prices`` section: the table's entry for a ``gpu_model`` workload label, else
    ``prices.training_gpu_usd`` (:func:`detectors.stats.runs.run_cost_usd`).
    ``waste_usd`` = every failed run of a crash loop; the repeats (not the first run) of a
    no-gain loop. ``projected_daily_usd`` = that waste over the loop's span (at least an hour)
    x 24 h: what it burns per day if left alone.

Defaults, and why
    - ``min_rounds = 3``: one failure and a retry is normal; a third failure in a row is a
      loop. Two identical retrains by hand can be a rerun; three is a schedule on frozen data.
      A schedule (or an automatic retry) repeating itself is a loop from its second round.
    - ``max_gap_s = 8 h``: retries and hourly crons are minutes to an hour apart, and a cron
      every 6 h on a frozen snapshot burns four rounds a day; a daily retrain on the same
      snapshot is not a *loop* (and costs a day to see anyway).
    - ``min_gain_pct = 0.5``: seed-to-seed noise of a metric on the same data is ~0.1-0.2 %;
      a real gain from new data or code is larger.
    - ``quiet_min_s = 2 h``, ``quiet_factor = 4``: a loop that runs every 25 minutes has
      stopped when nothing happened for two hours; an hourly one after four.

Examples
--------
Four failed runs of one model restarted every half hour, then one that succeeds:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[RetrainLoopDetector])
>>> def run(i, status, start, minutes):
...     end = start + minutes * 60.0
...     return validate({"type": "training_run", "ts": end, "run_id": f"r{i}", "model_id": "churn",
...                      "workload": {"id": "ml/churn-train"}, "status": status, "started_at": start,
...                      "ended_at": end, "gpu_hours": 8.0})
>>> out = [a for i in range(4) for a in engine.process(run(i, "failed", i * 1800.0, 20))]
>>> out += engine.process(run(9, "succeeded", 4 * 1800.0, 60))
>>> [(a["state"], a["evidence"]["pattern"], a["waste_usd"], a["evidence"]["rounds"]) for a in out]
[('open', 'crash', 70.8, 3), ('open', 'crash', 94.4, 4), ('resolved', 'crash', 94.4, 4)]
>>> out[-1]["summary"]
'model churn: crash loop: 4 runs failed and were restarted in 1.8 h; ended: run r9 succeeded; $94.40 burnt'

(8 GPU-hours a run at the default training price, ``prices.training_gpu_usd``.)

References
----------
- Kubernetes documentation, "Pod Lifecycle", container restart policy and ``CrashLoopBackOff``:
  the same notion of a crash loop (restarts of a failing job), one level up.
- X. Bouthillier et al., "Accounting for variance in machine learning benchmarks",
  *Proceedings of MLSys* 3 (2021): seed-to-seed variance of a metric on fixed data, the noise
  ``min_gain_pct`` sits above.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.runs import first_time, metric_gain, metric_value, run_cost_usd
from spendwatch.anomaly import Finding
from spendwatch.contract import TRAINING_RUN, model_key

KIND = "retrain_loop"
CRASH, NO_GAIN = "crash", "no_gain"
_SEEN_RUNS = 256
_PARALLEL_TOLERANCE_S = 60.0
_IN_FLIGHT_KEPT = 64  # runs in flight remembered per model (the oldest is forgotten first)
_IN_FLIGHT_FRESH_S = 2 * 3600.0  # a run silent for longer (no end, no hourly progress) is not counted as at work


@dataclass(frozen=True)
class RetrainLoopConfig:
    """``retrain_loop`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    min_rounds
        Rounds of the pattern (failed restarts, or successful runs without gain) that open a loop (3).
    early_rounds, early_min_daily_usd
        A loop opens already at ``early_rounds`` rounds (2) when an orchestrator is at work (a crash
        loop whose latest run was an automatic retry, ``trigger: retry``, that failed too; a no-gain
        loop whose repeat was scheduled, ``trigger: schedule``) and it burns at least
        ``early_min_daily_usd`` a day ($10, about $300 a month: a material line item for a team,
        burnt for nothing until somebody notices): worth a message before its third round; a
        person's second attempt is not.
    max_gap_s
        A round must start within this long of the previous round's end to continue the loop (8 h).
    min_gain_pct
        A metric gain above this share of the previous best breaks a no-gain loop (0.5 %).
    flat_pct
        A repeat reproduces the metric within this share (2 %): a run much worse on the same data and
        code is another experiment (a sweep's trial), and breaks the pattern too.
    quiet_min_s, quiet_factor, quiet_last_factor
        A loop with no run for ``max(quiet_min_s, quiet_factor`` x its median interval,
        ``quiet_last_factor`` x its latest interval) has stopped (2 h, x 4, x 2.5: a retry with
        back-off waits twice as long each time, and its next round is not a new loop).
    crash_min_span_s
        A crash loop opens only once its failures span this long, from the first one's start to the
        latest one's end (15 min, the ``for:`` of the usual pod crash-looping rule): a nightly job that
        fails twice or three times within minutes and then succeeds was retried, not caught in a loop.
    max_runs_in_evidence
        Most recent runs listed in the evidence (20).

    A run's price is the ``prices`` section's (``training_gpu_usd``, or the table's entry for
    the workload's ``gpu_model`` label).
    """

    min_rounds: int = 3
    early_rounds: int = 2
    early_min_daily_usd: float = 10.0
    max_gap_s: float = 8 * 3600.0
    min_gain_pct: float = 0.5
    flat_pct: float = 2.0
    quiet_min_s: float = 2 * 3600.0
    quiet_factor: float = 4.0
    quiet_last_factor: float = 2.5
    crash_min_span_s: float = 900.0
    max_runs_in_evidence: int = 20


@dataclass
class _Run:
    run_id: str
    status: str
    started_at: float
    ended_at: float
    cost_usd: float
    data_version: str | None
    code_version: str | None
    metric: dict[str, Any] | None
    trigger: str | None

    def brief(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "started_at": round(self.started_at, 3),
                "ended_at": round(self.ended_at, 3), "cost_usd": round(self.cost_usd, 2),
                "data_version": self.data_version, "code_version": self.code_version,
                "metric": None if self.metric is None else self.metric.get("value"), "trigger": self.trigger}


@dataclass
class _Loop:
    """One pattern in progress: its runs (bounded), rounds and money."""

    pattern: str
    first_start: float
    round_end: float  # latest end of any run in the pattern: the next round must start after it
    last_end: float
    rounds: int = 1
    runs_total: int = 0
    waste: float = 0.0
    round_starts: list[float] = field(default_factory=list)
    runs: deque[dict[str, Any]] = field(default_factory=deque)
    best: float | None = None
    opened: bool = False
    workload: dict[str, Any] | None = None
    last_trigger: str | None = None
    last_code: str | None = None
    muted: bool = False  # marked "not a problem": it goes on without a word until the pattern breaks
    repeating: str | None = None  # opened as this run started (it repeats the previous one), before it ended
    pace_daily: float = 0.0  # for a loop opened at a repeat's start: the previous run's cost at the schedule's pace

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("repeating", None)  # snapshots from before loops opened at a repeat's start
        state.setdefault("pace_daily", 0.0)
        self.__dict__.update(state)

    def add(self, run: _Run, cost: float, limit: int, new_round: bool) -> None:
        if new_round:
            self.rounds += 1
            self.round_starts.append(run.started_at)
            del self.round_starts[:-limit]
        self.runs_total += 1
        self.last_trigger = run.trigger
        self.last_code = run.code_version
        self.waste += cost
        self.round_end = max(self.round_end, run.ended_at)
        self.last_end = max(self.last_end, run.ended_at)
        self.runs.append(run.brief())
        while len(self.runs) > limit:
            self.runs.popleft()


class RetrainLoopDetector(Detector):
    """One model: the crash-loop and no-gain-loop patterns in progress."""

    name = "retrain_loop"
    event_types = (TRAINING_RUN,)
    kinds = (KIND,)
    config_cls = RetrainLoopConfig
    config: RetrainLoopConfig

    def __init__(self, key: str, config: RetrainLoopConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.seen: deque[str] = deque(maxlen=_SEEN_RUNS)
        self.last_event_ts = float("-inf")
        self.crash: _Loop | None = None
        self.nogain: _Loop | None = None
        self.prev_success: _Run | None = None
        self.in_flight: dict[str, float] = {}  # run id -> when it was last said to be running

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("in_flight", {})  # snapshots from before runs in flight were tracked
        super().__setstate__(state)

    key_of = staticmethod(model_key)  # the contract's Kafka key: model_id

    # ------------------------------------------------------------------ events
    def process(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        self.last_event_ts = max(self.last_event_ts, ts)
        status = event["status"]
        if status == "started":
            out: list[Finding] = []
            if event["run_id"] not in self.seen:  # not a late "started" of a run already over
                if event["run_id"] not in self.in_flight:  # it began (not a progress update)
                    out = self._repeat_started(event)
                self.in_flight[event["run_id"]] = ts
                if len(self.in_flight) > _IN_FLIGHT_KEPT:
                    del self.in_flight[min(self.in_flight, key=self.in_flight.__getitem__)]
            return out  # a run began, or its progress update
        self.in_flight.pop(event["run_id"], None)
        if not first_time(self.seen, event["run_id"]):
            return []  # a terminal status we already counted
        run = _Run(run_id=event["run_id"], status=status,
                   started_at=_num(event.get("started_at"), ts), ended_at=_num(event.get("ended_at"), ts),
                   cost_usd=run_cost_usd(event, self.context.prices), data_version=event.get("data_version"),
                   code_version=event.get("code_version"), metric=event.get("metric"), trigger=event.get("trigger"))
        workload = event["workload"]
        if status == "cancelled" and run.trigger == "manual":
            # a person started it and a person (or their tooling) stopped it: they are at the keyboard
            # and already know; restarting it by hand after a cancel is work in progress, not a loop
            return []
        if status in ("failed", "cancelled"):
            return self._failed(run, workload, ts)
        return self._succeeded(run, workload, ts)

    def _failed(self, run: _Run, workload: dict[str, Any], ts: float) -> list[Finding]:
        cfg, out = self.config, []
        ng = self.nogain
        if ng is not None and ng.repeating == run.run_id and ng.rounds == 1:
            # the repeat it opened on failed: no model was trained twice; the failure is the crash
            # pattern's business
            out.extend(self._end(ng, ts, f"run {run.run_id} failed: nothing was retrained twice"))
        loop = self.crash
        if self._siblings_running(run):
            # other runs of this model were at work when it failed (a sweep's trials, several
            # experiments at once): one failed attempt among several, not a job restarted after it
            # failed. It is counted in a loop already open, never a round of its own
            if loop is not None:
                loop.add(run, run.cost_usd, cfg.max_runs_in_evidence, new_round=False)
                loop.workload = workload
                out.extend(self._report(loop, ts))
            return out
        if loop is not None and run.trigger == "manual" and run.code_version != loop.last_code:
            # somebody is debugging it by hand: a new version of the code each time is progress, not a loop
            out.extend(self._end(loop, loop.last_end, f"run {run.run_id} is a new attempt by hand (new code)"))
            loop = None
        if loop is not None and run.started_at < loop.round_end - _PARALLEL_TOLERANCE_S:
            loop.add(run, run.cost_usd, cfg.max_runs_in_evidence, new_round=False)  # a parallel sibling
        elif loop is not None and run.started_at - loop.round_end <= cfg.max_gap_s:
            loop.add(run, run.cost_usd, cfg.max_runs_in_evidence, new_round=True)
        else:
            if loop is not None:
                out.extend(self._end(loop, loop.last_end, "the failures stopped"))
            loop = self.crash = _Loop(CRASH, run.started_at, run.ended_at, run.ended_at, rounds=0)
            loop.add(run, run.cost_usd, cfg.max_runs_in_evidence, new_round=True)
        loop.workload = workload
        out.extend(self._report(loop, ts))
        return out

    def _repeat_started(self, event: dict[str, Any]) -> list[Finding]:
        """A schedule starting the very retrain it ran last time: the same ``data_version`` and
        ``code_version`` as the previous successful run, which the schedule started too, after it
        ended and within ``max_gap_s``. Nothing new can come of it, so a no-gain loop opens now (at
        its second round's start, not its end) when the pace burns ``early_min_daily_usd`` a day.
        The run's end decides what follows: a flat metric adds the round, a material gain or change
        resolves the loop."""
        cfg, prev = self.config, self.prev_success
        data, code = event.get("data_version"), event.get("code_version")
        # (not while its runs fail since that success: a failing schedule is the crash pattern's business,
        # and opening at each start to resolve at each failure would flap)
        if prev is None or self.nogain is not None or self.crash is not None or event.get("trigger") != "schedule" \
                or prev.trigger != "schedule" or data is None or code is None \
                or (data, code) != (prev.data_version, prev.code_version):
            return []
        started = _num(event.get("started_at"), event["ts"])
        if started < prev.ended_at - _PARALLEL_TOLERANCE_S or started - prev.ended_at > cfg.max_gap_s:
            return []
        daily = prev.cost_usd / max(started - prev.started_at, 3600.0) * 86400.0
        if daily < cfg.early_min_daily_usd:
            return []
        loop = self.nogain = _Loop(NO_GAIN, prev.started_at, prev.ended_at, prev.ended_at, rounds=1,
                                   best=metric_value(prev.metric))
        loop.round_starts.append(prev.started_at)
        loop.runs.append(prev.brief())
        loop.workload = event["workload"]
        loop.repeating = event["run_id"]
        loop.pace_daily = daily
        loop.opened = True
        self.wants_tick = True
        return [self._finding(loop, event["ts"], active=True)]

    def _siblings_running(self, run: _Run) -> bool:
        """Whether another run of this model, not over yet, said it was running (its start or a
        progress update) within ``_IN_FLIGHT_FRESH_S`` before this one ended."""
        fresh = run.ended_at - _IN_FLIGHT_FRESH_S
        return any(rid != run.run_id and fresh <= seen <= run.ended_at for rid, seen in self.in_flight.items())

    def _succeeded(self, run: _Run, workload: dict[str, Any], ts: float) -> list[Finding]:
        cfg, out = self.config, []
        if self.crash is not None:
            out.extend(self._end(self.crash, ts, f"run {run.run_id} succeeded"))
        prev = self.prev_success
        if prev is not None and run.started_at < prev.ended_at - _PARALLEL_TOLERANCE_S:
            return out  # a parallel trial of the same round (a sweep): neither a repeat nor a break
        value = metric_value(run.metric)
        loop = self.nogain
        repeat = False
        if prev is not None and run.started_at - max(prev.ended_at, loop.round_end if loop else prev.ended_at) \
                <= cfg.max_gap_s:
            best = loop.best if loop is not None else metric_value(prev.metric)
            gain = self._material_gain(best, value)
            # a repeat reproduces the metric: a run much *worse* on the same data is another experiment
            # (a hyper-parameter trial), not the same retrain again
            flat = best is None or value is None or not self._material_change(best, value, cfg.flat_pct)
            if run.data_version is not None and prev.data_version is not None:
                repeat = (run.data_version, run.code_version) == (prev.data_version, prev.code_version) and not gain \
                    and flat
            else:
                repeat = best is not None and value is not None and not gain and flat
        if repeat:
            assert prev is not None
            if loop is None:
                loop = self.nogain = _Loop(NO_GAIN, prev.started_at, prev.ended_at, prev.ended_at, rounds=1,
                                           best=metric_value(prev.metric))
                loop.round_starts.append(prev.started_at)
                loop.runs.append(prev.brief())
            loop.add(run, run.cost_usd, cfg.max_runs_in_evidence, new_round=True)
            loop.best = self._better(loop.best, value)
            loop.workload = workload
            out.extend(self._report(loop, ts))
        elif loop is not None:
            same = prev is not None and (run.data_version, run.code_version) == (prev.data_version, prev.code_version)
            why = "a material metric gain" if same else "new data or code"
            out.extend(self._end(loop, ts, f"run {run.run_id} brought {why}"))
        self.prev_success = run
        return out

    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """"Not a problem": the loop is wanted (a soak test, a deliberate rerun). It resolves now
        (``evidence.resolution``) and goes on without a word; once the pattern breaks, a new loop
        pages again."""
        if event["verdict"] != "not_a_problem":
            return []
        out: list[Finding] = []
        slot = (event.get("evidence") or {}).get("pattern")
        for loop in (self.crash, self.nogain):
            if loop is not None and loop.opened and not loop.muted and slot in (None, loop.pattern):
                out.append(self._finding(loop, max(event["ts"], loop.last_end), active=False,
                                         why=f"marked not a problem by {event['by']}"))
                loop.muted = True
        return out

    def tick(self, now: float) -> list[Finding]:
        out: list[Finding] = []
        for loop in (self.crash, self.nogain):
            if loop is not None and now - max(self.last_event_ts, loop.last_end) > self._quiet_s(loop):
                out.extend(self._end(loop, loop.last_end, "no run for a while: the loop stopped"))
        return out

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _material_change(a: float, b: float, pct: float) -> bool:
        return abs(b - a) > pct / 100.0 * max(abs(a), 1e-12)

    def _material_gain(self, best: float | None, value: float | None) -> bool:
        hib = self._hib
        if best is None or value is None or hib is None:
            return False
        return metric_gain(best, value, hib, self.config.min_gain_pct)

    @property
    def _hib(self) -> bool | None:
        run = self.prev_success
        metric = run.metric if run is not None else None
        return None if metric is None else bool(metric.get("higher_is_better"))

    def _better(self, a: float | None, b: float | None) -> float | None:
        if a is None or b is None:
            return a if b is None else b
        return max(a, b) if self._hib else min(a, b)

    def _quiet_s(self, loop: _Loop) -> float:
        starts = loop.round_starts
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        typical = median(gaps) if gaps else 0.0
        latest = gaps[-1] if gaps else 0.0
        cfg = self.config
        return max(cfg.quiet_min_s, cfg.quiet_factor * typical, cfg.quiet_last_factor * latest)

    def _report(self, loop: _Loop, ts: float) -> list[Finding]:
        cfg = self.config
        if loop.muted:
            return []
        if not loop.opened:
            # an orchestrator at work (an automatic retry that failed again, a schedule retraining on
            # the same snapshot again) burning real money: worth a page at the second round
            automatic = "retry" if loop.pattern == CRASH else "schedule"
            early = loop.rounds >= cfg.early_rounds and loop.last_trigger == automatic \
                and self._daily(loop) >= cfg.early_min_daily_usd
            if loop.rounds < cfg.min_rounds and not early:
                return []
            if loop.pattern == CRASH and loop.last_end - loop.first_start < cfg.crash_min_span_s:
                return []  # failures within minutes: retried, and maybe about to succeed
            loop.opened = True
            self.wants_tick = True
        return [self._finding(loop, ts, active=True)]

    @staticmethod
    def _daily(loop: _Loop) -> float:
        """What the loop burns per day at its pace so far (its span counted as an hour at least)."""
        return loop.waste / (max(loop.last_end - loop.first_start, 3600.0) / 3600.0) * 24.0

    def _end(self, loop: _Loop, at: float, why: str) -> list[Finding]:
        out = [self._finding(loop, at, active=False, why=why)] if loop.opened and not loop.muted else []
        if loop is self.crash:
            self.crash = None
        else:
            self.nogain = None
        self.wants_tick = any(x is not None and x.opened for x in (self.crash, self.nogain))
        return out

    def _finding(self, loop: _Loop, at: float, active: bool, why: str = "") -> Finding:
        span_h = max(loop.last_end - loop.first_start, 3600.0) / 3600.0
        daily = loop.waste / span_h * 24.0
        runs = list(loop.runs)
        if loop.pattern == CRASH:
            ended = "failed" if all(r.get("status") != "cancelled" for r in runs) else "failed or were cancelled"
            head = f"crash loop: {loop.runs_total} runs {ended} and were restarted in {span_h:.1f} h"
        elif loop.repeating is not None and loop.rounds == 1:  # opened as the repeat started
            daily = loop.pace_daily
            first = runs[-1]
            head = (f"no-gain loop: the schedule started run {loop.repeating} on the same data "
                    f"({first.get('data_version')}) and code as run {first['run_id']}, which it repeats")
        else:
            dv = runs[-1].get("data_version")
            head = (f"no-gain loop: {loop.rounds} successful retrains in {span_h:.1f} h "
                    + (f"on the same data ({dv})" if dv else "with no material metric gain"))
        tail = (f"${loop.waste:.2f} burnt so far, ${daily:.0f}/day" if active
                else f"ended: {why}; ${loop.waste:.2f} burnt")
        evidence: dict[str, Any] = {
            "model_id": self.key,
            "pattern": loop.pattern,
            "rounds": loop.rounds,
            "runs_total": loop.runs_total,
            "span_hours": round(span_h, 3),
            "runs": runs,
            "min_rounds": self.config.min_rounds,
            "max_gap_s": self.config.max_gap_s,
        }
        if loop.repeating is not None:
            evidence["opened_at_start_of"] = loop.repeating
        if loop.pattern == NO_GAIN:
            evidence["best_metric"] = loop.best
            evidence["min_gain_pct"] = self.config.min_gain_pct
        if why:
            evidence["resolution"] = why
        return Finding(kind=KIND, resource=self.key, workload=loop.workload, started_at=loop.first_start, at=at,
                       active=active, waste_usd=loop.waste,
                       projected_daily_usd=daily, summary=f"model {self.key}: {head}; {tail}", evidence=evidence,
                       slot=loop.pattern)


def _num(value: Any, default: float) -> float:
    return float(value) if value is not None else default
