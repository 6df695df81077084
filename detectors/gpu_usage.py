"""Chronic GPU under-use, reported (insights), not paged: idle gaps, oversized endpoints, batch work on endpoints.

Three insight kinds from one pass over each ``gpu_sample`` (one state per GPU; one detector
instead of three keeps the per-sample cost of the fleet's most frequent event to one call).

``underused_gpu`` (resource = GPU or MIG uuid; one insight per GPU per UTC day)
    The share of the day a GPU sat idle *between jobs* in gaps that never paged, and its dollars:
    a batch queue whose jobs are separated by 15-40 minutes loses a third of its GPU without a
    single ``idle_gpu`` anomaly (each gap is routine, as it should be). Idle is activity
    (``sm_active_pct``, else ``util_gpu_pct``) below ``idle_below_pct``, as for ``idle_gpu``;
    idle time in a stretch that ``idle_gpu`` paged is left out (that anomaly has its own
    dollars). The insight opens during the day once ``day_min_observed_s`` of samples show an
    idle share of at least ``idle_share_pct`` and ``min_daily_usd``; it is updated as the day
    goes (material changes only) and resolved at the day's end with the day's final figures.

``underused_endpoint`` (resource = the workload id; one insight per workload, updated)
    An ``inference`` workload whose GPUs stay allocated around the clock while their load is
    low. Every ``evaluate_every_s`` of event time, the workload's GPUs are looked at together
    over the last ``window_s`` (at least ``min_span_s`` of data, allocated in
    ``allocated_share`` of it), from 15-minute buckets of each GPU's activity:

    - *oversized*: the p95 of the busy share of its allocated GPUs is below
      ``right_size_below_pct``: the p95 load (in GPU-equivalents) at ``target_pct`` needs
      ``ceil(p95 load / target)`` GPUs (at least ``min_replicas``); the others are money;
    - *scales up but never down*: the allocated count stays flat (p10 >= ``flat_fleet_ratio``
      x p90) while the load follows a daily cycle down to a trough below ``trough_below_pct``,
      and a fleet following the load at ``target_pct`` would use ``scale_down_min_saving_pct``
      fewer GPU-hours.

    An endpoint that does scale down (fewer GPUs allocated in the trough) or runs at a healthy
    load is not flagged.

``batch_on_realtime`` (resource = the workload id)
    An ``inference`` workload whose load comes in ``min_bursts`` or more periodic bursts (the
    coefficient of variation of the intervals between burst starts at most
    ``periodic_max_cv``, each burst peaking at ``burst_peak_pct`` or more) with long quiet
    spells (below ``quiet_below_pct`` for ``batch_quiet_share_pct`` of the time, the median
    spell at least ``min_quiet_spell_s``): batch scoring on an always-on real-time endpoint.
    The quiet GPU-hours are the money (a batch job pays for the bursts only).

Joins across keys, and partitions
    GPU samples are keyed by GPU; the two workload kinds join the GPUs of one workload through a
    small registry in the Engine (derived state, rebuilt after a restore) and a shared workload
    state (:meth:`~detectors.base.DetectorContext.state`, snapshotted with the Engine). Replay and
    the demo see every GPU. A stream worker's Engine sees only the GPUs of its partition: there
    the insight is per workload *and* partition (resource ``<workload> @p3``), its figures those
    of the GPUs that partition holds; ``spendwatch report`` adds them up per workload.

Defaults, and why
    - ``idle_share_pct = 30``: a busy batch queue's scheduling gaps are a few percent of its
      day; a third of a day idle is a GPU the queue does not need.
    - ``target_pct = 60``: the utilisation an inference fleet is commonly sized for (headroom
      for bursts and a failed replica); ``right_size_below_pct = 30``: a p95 below half of it.
    - ``trough_below_pct = 10``: a fleet whose GPUs drop to a tenth busy every night is not
      following its traffic; a healthy diurnal pool keeps its troughs above 15-20 %.
    - 15-minute buckets over 7 days: 672 buckets per inference GPU (about 8 KiB), enough to see
      a daily cycle and 30-minute bursts.

Examples
--------
A batch queue GPU whose jobs run 40 minutes with 20-minute gaps (nothing allocated between jobs),
sampled every minute for a day; no gap is long enough to page, so the day's idle third is one
insight, opened once five hours show it, updated every four hours at most, and resolved at
midnight with the day's figures:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[GpuUsageDetector])
>>> def sample(t):
...     busy = (t % 3600) < 2400
...     return validate({"type": "gpu_sample", "ts": t, "node": "n1", "gpu_uuid": "GPU-1", "interval_s": 60.0,
...                      "util_gpu_pct": 85.0 if busy else 0.0, "mem_used_bytes": 0, "mem_total_bytes": 1,
...                      "price_per_hour_usd": 3.0,
...                      "workload": {"id": "data/backfill", "kind": "batch", "team": "data"} if busy else None})
>>> t0 = 1_774_310_400  # 2026-03-24 00:00 UTC
>>> out = [a for t in range(t0 + 60, t0 + 86400 + 120, 60) for a in engine.process(sample(float(t)))]
>>> [(a["type"], a["kind"], a["state"], a["waste_usd"]) for a in out]  # doctest: +NORMALIZE_WHITESPACE
[('insight', 'underused_gpu', 'open', 5.0), ('insight', 'underused_gpu', 'open', 9.0),
 ('insight', 'underused_gpu', 'open', 13.0), ('insight', 'underused_gpu', 'open', 17.0),
 ('insight', 'underused_gpu', 'resolved', 24.0)]
>>> out[-1]["evidence"]["idle_share_pct"], out[-1]["workload"]["id"], out[-1]["evidence"]["day"]
(33.3, 'data/backfill', '2026-03-24')

References
----------
- Q. Weng et al., "MLaaS in the wild: workload analysis and scheduling in large-scale
  heterogeneous GPU clusters", NSDI 2022: GPUs allocated but idle between and within jobs are a
  large share of cluster cost.
- Kubecost, "Idle cost" (cost allocation documentation): idle capacity shown per cluster and
  team next to allocated spend, rather than alerted.
- AWS, "Right-sizing" and "Amazon SageMaker inference: auto scaling and batch transform"
  (Well-Architected, cost optimisation pillar): size endpoints to their peak load at a target
  utilisation, scale in with traffic, and run periodic scoring as batch jobs.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.base import Detector, DetectorContext
from detectors.idle_gpu import shared_workload
from spendwatch.anomaly import Finding
from spendwatch.contract import GPU_SAMPLE, gpu_sample_key

DAY = 86400.0
_ENDPOINTS = "gpu_usage.endpoints"  # Engine registry: workload id -> {gpu key: instance} (derived)
_WORKLOAD_STATE = "gpu_usage.endpoint"  # shared primary state per workload id
_IDLE_PEERS = "idle.peers"  # the idle detector's registry: (node, workload id) -> {gpu key: instance}
_TOP_WORKLOADS = 6


@dataclass(frozen=True)
class GpuUsageConfig:
    """``gpu_usage`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    idle_below_pct
        Activity below which a sample is idle (2 %, as ``idle.idle_below_pct``).
    busy_confirm_s
        Busy time in a row that ends an idle gap (60 s): one busy sample is a blip.
    max_gap_s
        A silence between samples up to this long counts as covered (900 s); a longer one does not.
    day_min_observed_s
        Sampled time of a day before its ``underused_gpu`` insight may open (4 h).
    idle_share_pct
        Share of the observed day idle in gaps that did not page that makes the insight (30 %).
    min_daily_usd
        ... and at least these dollars of such idle time (5).
    max_gaps_kept
        Gap lengths kept per day for the evidence (64).
    day_update_every_s
        At most one update of a day's open insight per this much event time (4 h).
    endpoint_kinds
        Workload kinds whose GPUs are judged as endpoints (``("inference",)``).
    bucket_s
        Width of the activity buckets of an endpoint GPU (900 s).
    window_s
        Event time an endpoint evaluation looks back over (7 days).
    evaluate_every_s
        How often, on the UTC grid of event time, endpoints are evaluated (3 h).
    settle_s
        Wait after a grid point before evaluating, so every GPU of the workload has reported (120 s).
    min_span_s
        Data an evaluation needs (20 h): a daily cycle must be visible.
    allocated_share
        Share of the span's buckets in which the workload must hold GPUs to count as always on (0.95).
    target_pct
        Utilisation a right-sized fleet runs at (60 %).
    right_size_below_pct
        p95 busy share of the allocated GPUs below which the endpoint is oversized (30 %).
    min_replicas
        GPUs a right-sized endpoint keeps at least (1).
    min_saving_gpus
        GPUs (average) a finding must save at least (0.75).
    flat_fleet_ratio
        The allocated count is flat when its p10 is at least this share of its p90 (0.9).
    trough_below_pct
        Busy share of the allocated GPUs in the daily trough (p10 of hourly loads) below which a
        flat fleet does not follow its traffic (10 %).
    scale_down_min_saving_pct
        GPU-hours a fleet following its load must save to flag "never scales down" (35 %).
    quiet_below_pct
        Busy share below which a bucket is quiet (10 %).
    burst_peak_pct
        A burst peaks at this busy share or more (40 %).
    min_bursts
        Bursts an evaluation must see (3).
    batch_quiet_share_pct
        Share of the buckets that must be quiet (60 %).
    min_quiet_spell_s
        Median quiet spell between bursts at least (3600 s).
    periodic_max_cv
        Coefficient of variation of the intervals between burst starts at most (0.35): periodic.
    min_saving_daily_usd
        An endpoint finding must be worth at least this much a day (10).
    """

    idle_below_pct: float = 2.0
    busy_confirm_s: float = 60.0
    max_gap_s: float = 900.0
    day_min_observed_s: float = 4 * 3600.0
    idle_share_pct: float = 30.0
    min_daily_usd: float = 5.0
    max_gaps_kept: int = 64
    day_update_every_s: float = 4 * 3600.0
    endpoint_kinds: tuple[str, ...] = ("inference",)
    bucket_s: float = 900.0
    window_s: float = 7 * DAY
    evaluate_every_s: float = 3 * 3600.0
    settle_s: float = 120.0
    min_span_s: float = 20 * 3600.0
    allocated_share: float = 0.95
    target_pct: float = 60.0
    right_size_below_pct: float = 30.0
    min_replicas: int = 1
    min_saving_gpus: float = 0.75
    flat_fleet_ratio: float = 0.9
    trough_below_pct: float = 10.0
    scale_down_min_saving_pct: float = 35.0
    quiet_below_pct: float = 10.0
    burst_peak_pct: float = 40.0
    min_bursts: int = 3
    batch_quiet_share_pct: float = 60.0
    min_quiet_spell_s: float = 3600.0
    periodic_max_cv: float = 0.35
    min_saving_daily_usd: float = 10.0


class _EndpointState:
    """What one workload's endpoint evaluations remember (shared by its GPUs, snapshotted)."""

    def __init__(self) -> None:
        self.evaluated_upto = float("-inf")  # the latest grid point evaluated
        self.open_kind: str | None = None
        self.started_at = 0.0
        self.resource = ""
        self.workload: dict[str, Any] | None = None
        self.last_saving = 0.0  # the figures of the latest verdict, for the resolution
        self.last_daily = 0.0
        self.last_evidence: dict[str, Any] = {}


# Every attribute of an instance: a slot each, no per-instance dict (33 names made a 1.5 KiB dict per GPU).
_SLOTS = (
    "key", "config", "context", "wants_tick",
    "last_ts", "last_price", "price", "node", "gpu_uuid", "mig_uuid", "gpu_model",
    "day", "observed_s", "cost_usd", "routine_s", "routine_usd", "paged_s", "gaps", "gap_count", "held",
    "day_open", "day_reported", "gap_s", "gap_usd", "gap_paged", "busy_run",
    "ep_wid", "ep_workload", "ep_ids", "ep_act", "ep_alloc", "next_eval", "_idle_ref",
)


class GpuUsageDetector(Detector):
    """One GPU or MIG instance: its day's idle gaps, and (inference GPUs) its activity buckets.

    A slot per field, the day's gap lengths in an array of doubles."""

    __slots__ = _SLOTS

    name = "gpu_usage"
    event_types = (GPU_SAMPLE,)
    kinds = ("underused_gpu", "underused_endpoint", "batch_on_realtime")
    insight_kinds = kinds
    config_cls = GpuUsageConfig
    config: GpuUsageConfig

    def __init__(self, key: str, config: GpuUsageConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.last_ts: float | None = None
        self.last_price: float | None = None  # the latest price a sample carried
        self.price = 0.0  # the price of the latest sample (its own, else the last carried, else the table)
        self.node = ""
        self.gpu_uuid = ""
        self.mig_uuid: str | None = None
        self.gpu_model: str | None = None
        # the day
        self.day = -1
        self._new_day(-1)
        # the current idle gap: seconds and dollars not yet known to be routine or paged
        self.gap_s = 0.0
        self.gap_usd = 0.0
        self.gap_paged = False
        self.busy_run = 0.0
        # an endpoint GPU: activity buckets of the inference workload it serves
        self.ep_wid: str | None = None
        self.ep_workload: dict[str, Any] | None = None
        self.ep_ids = array("i")  # filled by _ep_reset once the GPU serves an endpoint
        self.ep_act = array("f")
        self.ep_alloc = array("f")
        self.next_eval = float("-inf")
        self._idle_ref: Any = None  # the idle detector's instance of this GPU (derived, not pickled)

    key_of = staticmethod(gpu_sample_key)

    def _new_day(self, day: int) -> None:
        self.day = day
        self.observed_s = 0.0
        self.cost_usd = 0.0
        self.routine_s = 0.0
        self.routine_usd = 0.0
        self.paged_s = 0.0
        self.gaps = array("d")
        self.gap_count = 0
        self.held: dict[str, list[Any]] = {}  # workload id -> [seconds, workload]
        self.day_open = False
        self.day_reported = 0.0

    def _ep_reset(self) -> None:
        n = max(1, int(round(self.config.window_s / self.config.bucket_s)))
        self.ep_ids = array("i", [-1]) * n
        self.ep_act = array("f", [0.0]) * n
        self.ep_alloc = array("f", [0.0]) * n

    # ------------------------------------------------------------------ events
    def process(self, event: dict[str, Any]) -> list[Finding]:
        # the fleet's most frequent event: plain sums and one bucket update, locals over attributes,
        # no list made unless there is a finding; the endpoint judgement runs once per grid point
        ts = event["ts"]
        last = self.last_ts
        if last is not None and ts <= last:
            return []  # duplicate or late: that time is counted already
        self.last_ts = ts
        cfg = self.config
        interval = event["interval_s"]
        covered = ts - last if last is not None and ts - last <= cfg.max_gap_s + interval else interval
        price = event.get("price_per_hour_usd")
        if price is not None:  # the common case inline: this runs for every sample of the fleet
            price = self.price = self.last_price = float(price)
        else:
            price = self.price = self._price(event)
        sm = event.get("sm_active_pct")
        activity = sm if sm is not None else event["util_gpu_pct"]
        workload = event["workload"]
        out: list[Finding] | None = None
        if last is None or self.gpu_model is None:  # the key fixes node and uuids; the model rarely comes late
            self.node, self.gpu_uuid, self.mig_uuid = event["node"], event["gpu_uuid"], event.get("mig_uuid")
            self.gpu_model = event.get("gpu_model")

        day = int((ts - 1e-3) // DAY)  # a sample ending at midnight covers the day before
        if day != self.day:
            if self.day >= 0:
                out = self._close_day()
            self._new_day(day)
        usd = covered / 3600.0 * price
        self.observed_s += covered
        self.cost_usd += usd
        wid = None
        if workload is not None:
            wid = workload["id"]
            held = self.held.get(wid)
            if held is None:
                if len(self.held) < 4 * _TOP_WORKLOADS:
                    self.held[wid] = [covered, shared_workload(self.context, workload)]
            else:
                held[0] += covered
        if activity < cfg.idle_below_pct:
            self.busy_run = 0.0
            self.gap_s += covered
            self.gap_usd += usd
            if not self.gap_paged and self._idle_paged(workload):
                self.gap_paged = True
        elif self.gap_s:
            self.busy_run += covered
            if self.busy_run >= cfg.busy_confirm_s:
                ended = self._end_gap()
                if ended:
                    out = ended if out is None else out + ended

        if wid is not None and workload.get("kind") in cfg.endpoint_kinds:
            if wid != self.ep_wid:
                self._join(wid)
            b = int(ts // cfg.bucket_s)
            ids = self.ep_ids
            i = b % len(ids)
            act, alloc = self.ep_act, self.ep_alloc
            if ids[i] != b:
                ids[i] = b
                act[i] = 0.0
                alloc[i] = 0.0
            act[i] += activity * covered
            alloc[i] += covered
            if ts >= self.next_eval:
                # read by the evaluation only: the latest sample's when it runs
                self.ep_workload = shared_workload(self.context, workload)
                judged = self._maybe_evaluate(ts)
                if judged:
                    out = judged if out is None else out + judged
        return out if out is not None else []

    def _price(self, event: dict[str, Any]) -> float:
        price = event.get("price_per_hour_usd")
        if price is not None:
            self.last_price = float(price)
            return self.last_price
        if self.last_price is not None:
            return self.last_price
        return self.context.prices.gpu_sample_per_hour(event)

    def _idle_paged(self, workload: dict[str, Any] | None) -> bool:
        """Whether the idle detector of this GPU has an anomaly open for the current quiet spell."""
        ref = self._idle_ref
        if ref is None or getattr(ref, "group", None) != (self.node, workload["id"] if workload else None):
            registry = self.context.shared(_IDLE_PEERS)
            group = registry.get((self.node, workload["id"] if workload else None))
            ref = self._idle_ref = group.get(self.key) if group else None
        return ref is not None and getattr(ref, "opened_kind", None) is not None

    # ----------------------------------------------------------- underused_gpu
    def _fold_gap(self) -> None:
        """Count the gap so far into the day: paged time, or routine time and dollars."""
        if self.gap_paged:
            self.paged_s += self.gap_s
        else:
            self.routine_s += self.gap_s
            self.routine_usd += self.gap_usd
            self.gap_count += 1
            if len(self.gaps) < self.config.max_gaps_kept:
                self.gaps.append(self.gap_s)

    def _end_gap(self) -> list[Finding]:
        self._fold_gap()
        self.gap_s = self.gap_usd = self.busy_run = 0.0
        self.gap_paged = False
        if self.day_open:
            if (self.last_ts or 0.0) - self.day_reported < self.config.day_update_every_s:
                return []
        elif not self._day_flagged():
            return []
        return self._day_finding(active=True)

    def _day_flagged(self) -> bool:
        cfg = self.config
        return (self.observed_s >= cfg.day_min_observed_s and self.routine_usd >= cfg.min_daily_usd
                and self.routine_s >= cfg.idle_share_pct / 100.0 * self.observed_s)

    def _close_day(self) -> list[Finding]:
        """The day ended: a gap still going counts as routine so far (it did not page that day)."""
        if self.gap_s:
            self._fold_gap()
            self.gap_s = self.gap_usd = 0.0  # the rest of it belongs to the next day
        if not (self.day_open or self._day_flagged()):
            return []
        out = [] if self.day_open else self._day_finding(active=True)
        out += self._day_finding(active=False)
        return out

    def _day_finding(self, active: bool) -> list[Finding]:
        self.day_open = True
        self.day_reported = self.last_ts or 0.0
        start = self.day * DAY
        at = start + DAY if not active else (self.last_ts or start)
        share = 100.0 * self.routine_s / self.observed_s if self.observed_s else 0.0
        top = sorted(self.held.values(), key=lambda h: -h[0])[:_TOP_WORKLOADS]
        workload = top[0][1] if top else None
        owner = workload["id"] if workload else "nobody (unallocated between jobs)"
        gaps = sorted(self.gaps)
        median = gaps[len(gaps) // 2] if gaps else 0.0
        daily = self.routine_usd * DAY / self.observed_s if self.observed_s else 0.0
        resource = self.mig_uuid or self.gpu_uuid
        what = "MIG slice" if self.mig_uuid else "GPU"
        date = _date(start)
        verb = "was" if not active else "is"
        summary = (f"{what} {verb} idle {share:.0f}% of {date} between jobs ({self.routine_s / 3600:.1f} h in "
                   f"{self.gap_count} routine gaps, none paged) on {self.node} ({self.gpu_model or 'unknown model'}): "
                   f"${self.routine_usd:.2f} of ${self.cost_usd:.2f}; mostly {owner}")
        evidence = {
            "day": date, "node": self.node, "gpu_uuid": self.gpu_uuid, "mig_uuid": self.mig_uuid,
            "gpu_model": self.gpu_model, "observed_hours": round(self.observed_s / 3600, 3),
            "idle_hours": round(self.routine_s / 3600, 3), "idle_share_pct": round(share, 1),
            "paged_idle_hours": round(self.paged_s / 3600, 3), "gaps": self.gap_count,
            "median_gap_min": round(median / 60, 1), "longest_gap_min": round((gaps[-1] if gaps else 0.0) / 60, 1),
            "gpu_cost_usd": round(self.cost_usd, 2), "threshold_pct": self.config.idle_share_pct,
            "workloads": [{"id": h[1]["id"], "hours": round(h[0] / 3600, 2)} for h in top],
            "price_per_hour_usd": self.last_price,
            "action": "pack the queue's jobs onto fewer GPUs or release this GPU between jobs",
        }
        return [Finding(kind="underused_gpu", resource=resource, workload=workload, started_at=start, at=at,
                        active=active, waste_usd=self.routine_usd, projected_daily_usd=daily, summary=summary,
                        evidence=evidence)]

    # ----------------------------------------------- endpoints (workload level)
    def _join(self, wid: str) -> None:
        registry: dict[str, dict[str, GpuUsageDetector]] = self.context.shared(_ENDPOINTS)
        if self.ep_wid is not None:
            members = registry.get(self.ep_wid)
            if members is not None:
                members.pop(self.key, None)
                if not members:
                    del registry[self.ep_wid]
            self._ep_reset()  # another workload: its buckets start afresh
        else:
            self._ep_reset()
        registry.setdefault(wid, {})[self.key] = self
        self.ep_wid = wid
        self.next_eval = float("-inf")

    def restored(self) -> None:
        if self.ep_wid is not None:
            registry: dict[str, dict[str, GpuUsageDetector]] = self.context.shared(_ENDPOINTS)
            registry.setdefault(self.ep_wid, {})[self.key] = self

    def _maybe_evaluate(self, ts: float) -> list[Finding]:
        cfg = self.config
        every = cfg.evaluate_every_s
        point = math.floor((ts - cfg.settle_s) / every) * every
        self.next_eval = point + every + cfg.settle_s
        assert self.ep_wid is not None
        st: _EndpointState = self.context.state(_WORKLOAD_STATE, self.ep_wid, _EndpointState)
        if point <= st.evaluated_upto:
            return []
        st.evaluated_upto = point
        members = self.context.shared(_ENDPOINTS).get(self.ep_wid, {})
        return self._evaluate(st, point, list(members.values()))

    def _evaluate(self, st: _EndpointState, now: float, gpus: list[GpuUsageDetector]) -> list[Finding]:
        cfg = self.config
        bs = cfg.bucket_s
        n = len(self.ep_ids)
        last_b = int(now // bs) - 1
        first_b = last_b - n + 1
        act = np.zeros(n)
        alloc = np.zeros(n)
        price_h = 0.0
        for g in gpus:
            ids = np.frombuffer(g.ep_ids, dtype=np.int32)
            ok = (ids >= first_b) & (ids <= last_b)
            pos = ids[ok] - first_b
            act[pos] += np.frombuffer(g.ep_act, dtype=np.float32)[ok]
            alloc[pos] += np.frombuffer(g.ep_alloc, dtype=np.float32)[ok]
            price_h += g.price
        price = price_h / len(gpus) if gpus else 0.0  # per GPU-hour, averaged over the workload's GPUs
        have = np.flatnonzero(alloc > 0)
        verdict: tuple[str, float, dict[str, Any]] | None = None
        if len(have):
            lo, hi = int(have[0]), int(have[-1])
            span_s = (hi - lo + 1) * bs
            if span_s >= cfg.min_span_s and len(have) >= cfg.allocated_share * (hi - lo + 1):
                verdict = self._judge(act[lo:hi + 1], alloc[lo:hi + 1], price, span_s)
        out: list[Finding] = []
        kind = verdict[0] if verdict else None
        if st.open_kind is not None and kind != st.open_kind:
            out.append(self._endpoint_finding(st, now, False, st.last_saving, st.last_daily, st.last_evidence))
            st.open_kind = None
        if verdict is None:
            return out
        kind, saving_usd, evidence = verdict
        if st.open_kind is None:
            st.open_kind = kind
            st.started_at = now - span_s
            scope = self.context.scope
            st.resource = f"{self.ep_wid} @{scope}" if scope else str(self.ep_wid)
        st.workload = self.ep_workload
        evidence["gpus_seen"] = sorted(g.mig_uuid or g.gpu_uuid for g in gpus)[:16]
        evidence["scope"] = self.context.scope or "all"
        daily = saving_usd * DAY / span_s
        st.last_saving, st.last_daily, st.last_evidence = saving_usd, daily, evidence
        out.append(self._endpoint_finding(st, now, True, saving_usd, daily, evidence))
        return out

    def _judge(self, act: np.ndarray, alloc: np.ndarray, price: float,
               span_s: float) -> tuple[str, float, dict[str, Any]] | None:
        """The verdict on one workload's buckets: (kind, dollars over the span, evidence) or None."""
        cfg = self.config
        bs = cfg.bucket_s
        held = alloc > 0
        gpus = alloc / bs  # GPUs allocated, per bucket
        busy = np.where(held, act / (100.0 * bs), 0.0)  # busy GPU-equivalents, per bucket
        share = np.where(held, busy / np.maximum(gpus, 1e-9), 0.0)
        g = gpus[held]
        s = share[held]
        fleet = float(np.median(g))
        hours = float(g.sum()) * bs / 3600.0
        base = {"gpus_allocated": round(fleet, 2), "gpu_hours": round(hours, 1), "span_hours": round(span_s / 3600, 1),
                "price_per_gpu_hour_usd": round(price, 4), "target_pct": cfg.target_pct,
                "p50_busy_pct": round(100 * float(np.percentile(s, 50)), 1),
                "p95_busy_pct": round(100 * float(np.percentile(s, 95)), 1)}
        # batch work on a real-time endpoint: periodic bursts, long quiet spells
        quiet = s < cfg.quiet_below_pct / 100.0
        runs = _runs(~quiet)
        bursts = [(a, b) for a, b in runs if float(s[a:b].max()) >= cfg.burst_peak_pct / 100.0]
        spells = [b - a for a, b in _runs(quiet)]
        if len(bursts) >= cfg.min_bursts and quiet.mean() * 100 >= cfg.batch_quiet_share_pct and spells \
                and float(np.median(spells)) * bs >= cfg.min_quiet_spell_s:
            starts = np.array([a for a, _ in bursts], dtype=float)
            gaps = np.diff(starts)
            cv = float(gaps.std() / gaps.mean()) if len(gaps) >= 2 and gaps.mean() > 0 else math.inf
            if cv <= cfg.periodic_max_cv:
                quiet_gpu_h = float(g[quiet].sum()) * bs / 3600.0
                usd = quiet_gpu_h * price
                if usd * DAY / span_s >= cfg.min_saving_daily_usd:
                    every_h = float(gaps.mean()) * bs / 3600.0
                    burst_h = float(np.median([b - a for a, b in bursts])) * bs / 3600.0
                    return "batch_on_realtime", usd, {
                        **base, "bursts": len(bursts), "burst_every_hours": round(every_h, 2),
                        "burst_hours": round(burst_h, 2), "quiet_share_pct": round(100 * float(quiet.mean()), 1),
                        "quiet_gpu_hours": round(quiet_gpu_h, 1), "interval_cv": round(cv, 3),
                        "action": f"run the scoring as a scheduled batch job (about {burst_h:.1f} h every "
                                  f"{every_h:.1f} h) and release the endpoint's GPUs in between"}
        target = cfg.target_pct / 100.0
        need = busy[held] / target
        p95_need = float(np.percentile(need, 95))
        right = max(cfg.min_replicas, math.ceil(p95_need - 1e-9))
        p95_share = float(np.percentile(s, 95))
        if p95_share * 100 < cfg.right_size_below_pct and fleet - right >= cfg.min_saving_gpus:
            saved_h = float(np.maximum(g - right, 0.0).sum()) * bs / 3600.0
            usd = saved_h * price
            if usd * DAY / span_s >= cfg.min_saving_daily_usd:
                return "underused_endpoint", usd, {
                    **base, "pattern": "oversized", "p95_load_gpus": round(float(np.percentile(busy[held], 95)), 3),
                    "right_sized_gpus": right, "gpu_hours_saved": round(saved_h, 1),
                    "action": f"scale to {right} GPU(s) (p95 load {p95_need * target:.2f} GPU-equivalents at "
                              f"{cfg.target_pct:g}% target)"}
        # allocated flat while the traffic has a daily cycle
        hourly = _hourly(share[held], bs)
        if len(hourly) >= 20 and float(np.percentile(g, 10)) >= cfg.flat_fleet_ratio * float(np.percentile(g, 90)):
            trough = float(np.percentile(hourly, 10))
            follow = np.maximum(np.ceil(need - 1e-9), cfg.min_replicas)
            follow_h = float(np.minimum(follow, g).sum()) * bs / 3600.0
            saving_pct = 100.0 * (1.0 - follow_h / hours) if hours else 0.0
            if trough * 100 < cfg.trough_below_pct and saving_pct >= cfg.scale_down_min_saving_pct \
                    and fleet - float(np.percentile(follow, 10)) >= cfg.min_saving_gpus:
                saved_h = hours - follow_h
                usd = saved_h * price
                if usd * DAY / span_s >= cfg.min_saving_daily_usd:
                    return "underused_endpoint", usd, {
                        **base, "pattern": "never_scales_down", "trough_busy_pct": round(100 * trough, 1),
                        "peak_busy_pct": round(100 * float(np.percentile(hourly, 95)), 1),
                        "trough_gpus_needed": int(np.percentile(follow, 10)), "gpu_hours_saved": round(saved_h, 1),
                        "action": f"autoscale with traffic: {int(np.percentile(follow, 10))} GPU(s) in the trough, "
                                  f"{int(follow.max())} at the peak, instead of {fleet:g} all day"}
        return None

    def _endpoint_finding(self, st: _EndpointState, now: float, active: bool, saving_usd: float, daily: float,
                          evidence: dict[str, Any]) -> Finding:
        kind = str(st.open_kind)
        wid = self.ep_wid
        if kind == "batch_on_realtime":
            head = (f"{wid}: batch scoring on an always-on endpoint ({evidence.get('bursts')} bursts of "
                    f"~{evidence.get('burst_hours')} h every ~{evidence.get('burst_every_hours')} h, quiet "
                    f"{evidence.get('quiet_share_pct')}% of the time)")
        elif evidence.get("pattern") == "never_scales_down":
            head = (f"{wid}: {evidence.get('gpus_allocated')} GPUs allocated around the clock while traffic drops to "
                    f"{evidence.get('trough_busy_pct')}% busy every day (scales up, never down)")
        else:
            head = (f"{wid}: {evidence.get('gpus_allocated')} GPUs allocated around the clock at "
                    f"{evidence.get('p95_busy_pct')}% p95 load; {evidence.get('right_sized_gpus')} would do")
        state = "could save" if active else "could have saved"
        summary = f"{head}: {state} ${daily:,.0f}/day (${saving_usd:,.0f} over the last {evidence.get('span_hours')} h)"
        return Finding(kind=kind, resource=st.resource, workload=st.workload, started_at=st.started_at, at=now,
                       active=active, waste_usd=saving_usd, projected_daily_usd=daily, summary=summary,
                       evidence=dict(evidence))

    def __getstate__(self) -> dict[str, Any]:
        # config and context are re-attached on restore; _idle_ref is another detector's instance,
        # looked up again after a restore
        state = {name: getattr(self, name) for name in _SLOTS if name not in ("config", "context")}
        state["_idle_ref"] = None
        state["gaps"] = self.gaps.tolist()  # a list pickles smaller than an array
        state.update(vars(self))  # anything set outside the slots (empty unless somebody added a field) is kept
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """New snapshots and those of the older layout (an instance dict, the gaps a list)."""
        state = dict(state)
        state.pop("config", None)
        state.pop("context", None)
        gaps = state.get("gaps")
        if not isinstance(gaps, array):
            state["gaps"] = array("d", gaps or ())
        state.setdefault("_idle_ref", None)
        for name, value in state.items():
            setattr(self, name, value)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in ``mask``."""
    if not len(mask):
        return []
    m = np.concatenate(([False], mask.astype(bool), [False]))
    d = np.flatnonzero(np.diff(m.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(d[::2], d[1::2], strict=True)]


def _hourly(values: np.ndarray, bucket_s: float) -> np.ndarray:
    k = max(1, int(round(3600.0 / bucket_s)))
    n = len(values) // k
    return values[: n * k].reshape(n, k).mean(axis=1) if n else values[:0]


def _date(ts: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d")
