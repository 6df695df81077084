"""Idle GPUs and GPU memory hoarding, per physical GPU and per MIG instance.

What it flags
    A GPU (or MIG slice: each instance is its own resource) whose *activity* stays below
    ``idle_below_pct`` for ``dwell_s`` of event time. Activity is ``sm_active_pct`` when the
    sample has it, else ``util_gpu_pct``: NVML's utilization counts a kernel that merely
    spins (a collective waiting on a dead peer reads ~100 %), SM activity does not.

    The anomaly is ``gpu_memory_hoarding`` when, at the moment it opens, the idle GPU still
    holds at least ``hoard_mem_pct`` of its memory (a loaded model, a hung job, an abandoned
    notebook), and ``idle_gpu`` otherwise, including GPUs whose ``workload`` is null
    (allocated to nobody: capacity waste, routed to the platform team). The kind is fixed for
    the life of one anomaly so one problem keeps one id.

How a stretch works
    - It starts at the first idle sample's interval start and accumulates idle time and
      waste per sample. A gap between samples up to ``max_gap_s`` counts as part of the
      stretch (an exporter hiccup is not a change of behaviour); a longer gap ends it.
    - It ends when the GPU is busy for ``busy_confirm_s`` in a row (one busy sample inside
      a long idle stretch is a blip, not a recovery), when the workload changes, or when no
      sample arrives for ``stale_after_s`` (the node went away: the anomaly resolves at the
      last sample instead of staying open forever).
    - It opens an anomaly only if its mean activity is below the threshold as well, so a GPU
      that flickers between idle and busy samples (sporadic real work) is not called idle.

Defaults, and why
    - ``idle_below_pct = 2``: a sidecar or canary at 3-5 % is light but real use; a GPU
      doing nothing reads 0-1 % (SM activity of a spinning kernel stays below 1 %).
    - ``dwell_s = 1200`` (20 min): longer than checkpoint writes, evaluation passes, data
      loader stalls and the gap between two batch jobs (typically 1-15 min), short enough
      that a GPU idle for tens of minutes is flagged within the half hour.
    - ``max_gap_s = 900``: exporter restarts and scrape hiccups last minutes.
    - ``hoard_mem_pct = 25``: a quarter of an 80 GB GPU is a loaded model, not a CUDA context
      (~0.5 GB).

Money
    ``waste_usd`` = idle hours x price: the sample's ``price_per_hour_usd``, else the last
    price seen for this GPU, else the configured price table by ``gpu_model`` (scaled by the
    compute-slice share of a MIG profile such as ``2g.20gb`` when the sample names one).
    ``projected_daily_usd`` = price x 24 while it stays idle.

Examples
--------
A notebook's GPU that does nothing for an hour, sampled every minute, then gets busy:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[IdleGpuDetector])
>>> def sample(t, util):
...     return validate({"type": "gpu_sample", "ts": t, "node": "n1", "gpu_uuid": "GPU-1", "interval_s": 60.0,
...                      "util_gpu_pct": util, "mem_used_bytes": 0, "mem_total_bytes": 80 * 2**30,
...                      "price_per_hour_usd": 2.0, "workload": {"id": "ml/notebook"}})
>>> out = [a for t in range(60, 3601, 60) for a in engine.process(sample(float(t), 0.0))]
>>> out += [a for t in range(3660, 3800, 60) for a in engine.process(sample(float(t), 90.0))]
>>> [(a["kind"], a["state"], a["waste_usd"], a["projected_daily_usd"]) for a in out]
[('idle_gpu', 'open', 0.67, 48.0), ('idle_gpu', 'open', 1.67, 48.0), ('idle_gpu', 'resolved', 2.0, 48.0)]
>>> out[0]["summary"]
'GPU idle 0.3 h on n1 (unknown model); ml/notebook is paying $2.00/h: $0.67 lost so far, $48/day'

References
----------
- NVIDIA, *NVML API Reference Manual*, ``nvmlDeviceGetUtilizationRates``: utilization is the
  share of time *a* kernel was running, however little of the GPU it used.
- NVIDIA, *DCGM User Guide*, "Profiling Metrics": ``DCGM_FI_PROF_SM_ACTIVE``, the share of
  cycles an SM had at least one warp resident: what ``sm_active_pct`` carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, DetectorContext
from spendwatch.anomaly import Finding
from spendwatch.contract import GPU_SAMPLE, gpu_sample_key

_MIG_PROFILE = re.compile(r"^(\d+)g\.")
_FULL_GPU_SLICES = 7  # A100/H100/H200 split into at most seven compute slices


@dataclass(frozen=True)
class IdleConfig:
    """``idle`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    idle_below_pct
        Activity (``sm_active_pct``, else ``util_gpu_pct``) below which a sample is idle (2 %).
    dwell_s
        Idle event time before an anomaly opens (1200 s).
    busy_confirm_s
        Busy time in a row that ends a stretch (60 s): one busy sample is a blip.
    max_gap_s
        A gap between samples up to this long is part of the stretch (900 s); a longer one ends it.
    stale_after_s
        No sample for this long resolves the anomaly at the last sample (1800 s).
    hoard_mem_pct
        Memory held, in percent of the GPU's, that makes an idle GPU ``gpu_memory_hoarding`` (25 %).
    update_every_s
        At most one update of an open anomaly per this much event time (300 s).
    max_processes_in_evidence
        Processes listed in the evidence (10).
    """

    idle_below_pct: float = 2.0
    dwell_s: float = 1200.0
    busy_confirm_s: float = 60.0
    max_gap_s: float = 900.0
    stale_after_s: float = 1800.0
    hoard_mem_pct: float = 25.0
    update_every_s: float = 300.0
    max_processes_in_evidence: int = 10


class IdleGpuDetector(Detector):
    """One GPU or MIG instance: tracks the current idle stretch and reports it."""

    name = "idle"
    event_types = (GPU_SAMPLE,)
    config_cls = IdleConfig
    config: IdleConfig

    def __init__(self, key: str, config: IdleConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.last_ts: float | None = None
        self.last_price: float | None = None
        self.price_source = "table"
        self.sample: dict[str, Any] = {}  # latest sample, for evidence
        self._reset()

    def _reset(self) -> None:
        self.start: float | None = None  # stretch start (event time); None = not in a stretch
        self.workload: dict[str, Any] | None = None
        self.idle_s = 0.0
        self.waste = 0.0
        self.activity_sum = 0.0
        self.util_sum = 0.0
        self.samples = 0
        self.busy_since: float | None = None
        self.opened_kind: str | None = None
        self.last_report = 0.0
        self.wants_tick = False

    key_of = staticmethod(gpu_sample_key)  # the contract's Kafka key: <node>/<gpu or MIG uuid>

    # ------------------------------------------------------------------ events
    def process(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        last = self.last_ts
        if last is not None and ts <= last:
            return []  # duplicate or late sample: the stretch already covers that time
        self.last_ts = ts
        cfg = self.config
        interval = event["interval_s"]
        sample_start = ts - interval
        price = self._price(event)
        sm = event.get("sm_active_pct")
        activity = sm if sm is not None else event["util_gpu_pct"]
        workload = event["workload"]
        self.sample = event
        out: list[Finding] = []

        if self.start is not None:
            if last is not None and ts - last > cfg.max_gap_s + interval:
                out.extend(self._end(last))  # a long silence: we cannot say it stayed idle
            elif _workload_id(workload) != _workload_id(self.workload):
                out.extend(self._end(sample_start))

        if activity < cfg.idle_below_pct:
            self.busy_since = None
            if self.start is None:
                self.start = sample_start
                self.workload = workload
                covered = interval
            else:
                covered = ts - last if last is not None else interval
            self._accumulate(covered, price, activity, event["util_gpu_pct"])
        elif self.start is not None:
            if self.busy_since is None:
                self.busy_since = sample_start
            if ts - self.busy_since >= cfg.busy_confirm_s:
                out.extend(self._end(self.busy_since))
                return out
            # a blip inside a stretch: counted as stretch time, the GPU is still reserved
            self._accumulate(ts - last if last is not None else interval, price, activity,
                             event["util_gpu_pct"])
        else:
            return out

        if self.start is not None:
            out.extend(self._report(ts))
        return out

    def _accumulate(self, covered: float, price: float, activity: float, util: float) -> None:
        self.idle_s += covered
        self.waste += covered / 3600.0 * price
        self.activity_sum += activity
        self.util_sum += util
        self.samples += 1

    def _price(self, event: dict[str, Any]) -> float:
        price = event.get("price_per_hour_usd")
        if price is not None:
            self.last_price = price
            self.price_source = "sample"
            return float(price)
        if self.last_price is not None:
            self.price_source = "last_sample"
            return self.last_price
        self.price_source = "table"
        base = self.context.prices.gpu_per_hour(event.get("gpu_model"))
        profile = event.get("mig_profile")
        if event.get("mig_uuid") and isinstance(profile, str):
            m = _MIG_PROFILE.match(profile)
            if m:
                base *= min(1.0, int(m.group(1)) / _FULL_GPU_SLICES)
        return base

    def _report(self, ts: float) -> list[Finding]:
        cfg = self.config
        assert self.start is not None
        if self.opened_kind is None:
            if ts - self.start < cfg.dwell_s or self.activity_sum / self.samples >= cfg.idle_below_pct:
                return []
            self.opened_kind = "gpu_memory_hoarding" if self._mem_pct() >= cfg.hoard_mem_pct else "idle_gpu"
            self.wants_tick = True
        elif ts - self.last_report < cfg.update_every_s:
            return []
        self.last_report = ts
        return [self._finding(ts, active=True)]

    def _end(self, at: float) -> list[Finding]:
        out = [self._finding(at, active=False)] if self.opened_kind is not None else []
        self._reset()
        return out

    def tick(self, now: float) -> list[Finding]:
        if self.last_ts is not None and now - self.last_ts > self.config.stale_after_s:
            return self._end(self.last_ts)
        return []

    # ---------------------------------------------------------------- findings
    def _mem_pct(self) -> float:
        total = self.sample["mem_total_bytes"]
        return 100.0 * self.sample["mem_used_bytes"] / total if total else 0.0

    def _finding(self, at: float, active: bool) -> Finding:
        assert self.start is not None and self.opened_kind is not None
        s, cfg = self.sample, self.config
        hours = self.idle_s / 3600.0
        price_per_hour = self.waste / hours if hours > 0 else 0.0
        daily = price_per_hour * 24.0
        mem_pct = self._mem_pct()
        mig = s.get("mig_uuid")
        resource = mig or s["gpu_uuid"]
        what = "MIG slice" if mig else "GPU"
        owner = _workload_id(self.workload) or "unallocated (no workload)"
        mean_activity = self.activity_sum / self.samples
        busy_wait = s.get("sm_active_pct") is not None and self.util_sum / self.samples >= 50.0
        if self.opened_kind == "gpu_memory_hoarding":
            head = f"{what} idle {hours:.1f} h holding {mem_pct:.0f}% of its memory"
        else:
            head = f"{what} idle {hours:.1f} h"
        if busy_wait:
            head += " (util reads busy but SMs do nothing: busy-wait)"
        state = "was" if not active else "is"
        summary = (f"{head} on {s['node']} ({s.get('gpu_model') or 'unknown model'}); {owner} {state} "
                   f"paying ${price_per_hour:.2f}/h: ${self.waste:.2f} lost so far, ${daily:.0f}/day")
        processes = s.get("processes") or []
        evidence = {
            "node": s["node"],
            "gpu_uuid": s["gpu_uuid"],
            "mig_uuid": mig,
            "gpu_model": s.get("gpu_model"),
            "activity_source": "sm_active_pct" if s.get("sm_active_pct") is not None else "util_gpu_pct",
            "threshold_pct": cfg.idle_below_pct,
            "dwell_s": cfg.dwell_s,
            "idle_hours": round(hours, 3),
            "mean_activity_pct": round(mean_activity, 3),
            "mean_util_gpu_pct": round(self.util_sum / self.samples, 3),
            "mem_used_bytes": s["mem_used_bytes"],
            "mem_total_bytes": s["mem_total_bytes"],
            "mem_used_pct": round(mem_pct, 1),
            "hoard_threshold_pct": cfg.hoard_mem_pct,
            "processes": processes[: cfg.max_processes_in_evidence],
            "price_per_hour_usd": round(price_per_hour, 4),
            "price_source": self.price_source,
            "samples": self.samples,
        }
        return Finding(kind=self.opened_kind, resource=resource, workload=self.workload,
                       started_at=self.start, at=at, active=active, waste_usd=self.waste,
                       projected_daily_usd=daily, summary=summary, evidence=evidence)


def _workload_id(workload: dict[str, Any] | None) -> str | None:
    return workload["id"] if workload else None
