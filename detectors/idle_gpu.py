"""Idle GPUs and GPU memory hoarding, per physical GPU and per MIG instance, against each GPU's own rhythm.

What it flags
    A GPU (or MIG slice: each instance is its own resource) whose *activity* stays below
    ``idle_below_pct`` for longer than *its own* dwell, with a mean below
    ``open_below_mean_pct`` (near zero). Activity is ``sm_active_pct`` when the sample has it,
    else ``util_gpu_pct``: NVML's utilization counts a kernel that merely spins (a collective
    waiting on a dead peer reads ~100 %), SM activity does not.

    The anomaly is ``gpu_memory_hoarding`` when, at the moment it opens, the idle GPU still
    holds at least ``hoard_mem_pct`` of its memory (a loaded model, a hung job, an abandoned
    notebook), and ``idle_gpu`` otherwise, including GPUs whose ``workload`` is null
    (allocated to nobody: capacity waste, routed to the platform team). The kind is fixed for
    the life of one anomaly so one problem keeps one id.

Each GPU's own dwell (the learned rhythm)
    Every quiet spell that ends with the GPU busy again is a *gap* of its rhythm: the last
    ``gaps_kept`` gaps of at least ``min_gap_s`` are kept per GPU, and the GPUs of the same
    workload on the same node pool theirs (a batch queue's eight GPUs learn its rhythm eight
    times as fast). The dwell of a stretch, fixed when it starts, is

    - learned gaps: ``exp(mean + gap_z x sd)`` of their logs (the spread shrunk towards a wide
      prior while gaps are few), at least ``gap_over_max`` x the longest of them, within
      [``min_dwell_s``, ``max_dwell_s``], and never below the cold dwell until four gaps are
      known, eight for the ``cold_dwell_s`` kinds (the fast dwell instead, for a ``fast_kinds``
      GPU seen for ``continuity_s``): a batch
      queue whose jobs are separated by 15-40 minutes is flagged only when a gap is clearly
      longer than its own; a training job's (``regular_pause_kinds``) at most
      ``regular_pause_over_max`` x its longest pause, its pauses being its own program's;
    - no gaps, but ``continuity_s`` of busy history with a ``fast_kinds`` workload (training,
      a busy endpoint): ``fast_dwell_s`` (9 min), so a hung job or a dead endpoint is flagged
      within ten minutes of going quiet;
    - a *straggler*: a training GPU idle while the other GPUs of its workload on its node are
      busy (at least two of them, and most: a rank that is not running; with a single peer a rank
      waiting while the other evaluates looks the same), and it has never idled alone before:
      ``straggler_dwell_s`` (4 min);
    - otherwise, the rhythm is not known yet: ``dwell_s`` (20 min, the configured default) for a
      GPU idle from its first sample and for training and inference workloads; ``cold_dwell_s``
      (90 min) for batch, notebook and unknown-kind workloads and unallocated GPUs, whose gaps
      between jobs (a pool's scheduling gaps) are routine until their own rhythm says otherwise.

    A stretch that was flagged and ended with the GPU busy again is learned as a gap only when
    it lasted less than ``learn_flagged_below`` x its dwell (a routine gap that the cold-start
    dwell called too early); a long one (a hung job) never makes the GPU slower to flag.

Feedback
    A ``feedback`` event saying "not a problem" about one of this GPU's anomalies makes that quiet
    spell part of its rhythm: the dwell stays above ``gap_over_max`` x the spell from then on (the
    same pattern does not page again; one clearly longer, with its dollars, still does), and an
    anomaly still open resolves at once with ``evidence.resolution = "marked not a problem by
    <who>"``, the stretch going on silently until the GPU is busy again.

How a stretch works
    - It starts at the first idle sample's interval start and accumulates idle time and
      waste per sample. A gap between samples up to ``max_gap_s`` counts as part of the
      stretch (an exporter hiccup is not a change of behaviour); a longer gap ends it.
    - It ends when the GPU is busy for ``busy_confirm_s`` in a row (one busy sample inside
      a long idle stretch is a blip, not a recovery) or, once an anomaly is open,
      ``busy_confirm_open_s`` (a notebook busy for a few minutes inside hours of idling does not
      split one problem into two, and a job of eight minutes or more is work: an hourly batch job
      of 8-12 minutes kept an anomaly opened on its first routine gap open for days); when the
      workload changes to one the GPU has not carried recently (time-sliced pods alternating on
      one GPU do not split it); or when no sample
      arrives for ``stale_after_s`` (the node went away: the anomaly resolves at the last
      sample instead of staying open forever).

Defaults, and why
    - ``idle_below_pct = 2``: a sidecar or canary at 3-5 % is light but real use; a GPU
      doing nothing reads 0-1 % (SM activity of a spinning kernel stays below 1 %).
    - ``open_below_mean_pct = 1``: an endpoint answering a trickle of requests at night
      averages a few percent; one with nothing to do averages ~0.
    - ``dwell_s = 1200`` (20 min): longer than checkpoint writes and the gap between two batch
      jobs on a GPU whose rhythm is not known yet.
    - ``fast_dwell_s = 540`` and ``min_dwell_s = 480``: longer than a checkpoint write (1-5 min),
      short enough to flag within 10 minutes with 15-60 s samples (the stretch starts up to one
      interval after the GPU went quiet: 570 s took 10-10.4 min at 60 s).
    - ``gap_z = 3.5``: a routine gap from a log-normal rhythm outlasts the dwell about once in
      4,000 (once in a few weeks on a queue with a gap an hour).
    - ``max_gap_s = 900``: exporter restarts and scrape hiccups last minutes.
    - ``hoard_mem_pct = 25``: a quarter of an 80 GB GPU is a loaded model, not a CUDA context
      (~0.5 GB).

Money
    ``waste_usd`` = idle hours x price: the sample's ``price_per_hour_usd``, else the last
    price seen for this GPU, else the configured price table by ``gpu_model`` (scaled by the
    compute-slice share of a MIG profile such as ``2g.20gb`` when the sample names one, else by
    the slice's memory share of the GPU: :func:`spendwatch.prices.mig_share`).
    ``projected_daily_usd`` = price x 24 while it stays idle.

State
    Only what decisions and evidence need (never the whole sample: unknown fields are not
    kept): the current stretch, the last gaps, a few figures of the latest sample.

Examples
--------
A notebook's GPU that does nothing for an hour from its very first sample, sampled every minute,
then gets busy: with no history at all it waits the configured default dwell (20 min), and the
anomaly resolves once the GPU has been busy for the 15 minutes that end an open one, dated the
moment it got busy:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[IdleGpuDetector])
>>> def sample(t, util):
...     return validate({"type": "gpu_sample", "ts": t, "node": "n1", "gpu_uuid": "GPU-1", "interval_s": 60.0,
...                      "util_gpu_pct": util, "mem_used_bytes": 0, "mem_total_bytes": 80 * 2**30,
...                      "price_per_hour_usd": 2.0, "workload": {"id": "ml/notebook", "kind": "notebook"}})
>>> out = [a for t in range(60, 3601, 60) for a in engine.process(sample(float(t), 0.0))]
>>> out += [a for t in range(3660, 4800, 60) for a in engine.process(sample(float(t), 90.0))]
>>> [(a["kind"], a["state"], a["waste_usd"], a["projected_daily_usd"]) for a in out]
[('idle_gpu', 'open', 0.67, 48.0), ('idle_gpu', 'open', 1.67, 48.0), ('idle_gpu', 'resolved', 2.0, 48.0)]
>>> out[0]["summary"]
'GPU idle 0.3 h on n1 (unknown model); ml/notebook is paying $2.00/h: $0.67 lost so far, $48/day'
>>> out[0]["evidence"]["dwell_source"]
'default'

References
----------
- NVIDIA, *NVML API Reference Manual*, ``nvmlDeviceGetUtilizationRates``: utilization is the
  share of time *a* kernel was running, however little of the GPU it used.
- NVIDIA, *DCGM User Guide*, "Profiling Metrics": ``DCGM_FI_PROF_SM_ACTIVE``, the share of
  cycles an SM had at least one warp resident: what ``sm_active_pct`` carries.
- M. Jeon et al., "Analysis of large-scale multi-tenant GPU clusters for DNN training
  workloads", USENIX ATC 2019; Q. Weng et al., "MLaaS in the wild", NSDI 2022: GPU idleness
  comes in long-tailed gaps between and within jobs, different per job class: one global
  dwell either floods batch queues or flags training hangs late.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, DetectorContext
from spendwatch.anomaly import Finding
from spendwatch.contract import GPU_SAMPLE, gpu_sample_key

_PEERS = "idle.peers"  # the Engine-wide registry of GPUs by (node, workload id)
_PRIOR_LOG_SD = 0.6  # spread of log gaps assumed before many are known ...
_PRIOR_WEIGHT = 2  # ... worth this many gaps
_FEW_GAPS_MAX_RATIO = 4.0  # while gaps are few, the dwell stays within this many times the longest
_OWN_GAPS_ENOUGH = 4  # gaps that make a rhythm known
_PEER_GAPS_EACH = 8  # the latest gaps of each node peer pooled with a GPU's own
_RECENT_WORKLOADS = 4
_DAY = 86400.0
_DAILY_SLACK_S = 3 * 3600.0  # an unallocated spell this close to a day after yesterday's long one follows its rhythm
_DAILY_MAX_DWELL_S = 1.5 * _DAY
_PEER_FRESH_S = 120.0  # a peer's latest sample must be this recent to count
_STRAGGLER_MIN_PEERS = 2
_ALONE_CONFIRM_S = 120.0  # a straggler is seen idling alone at least this long before it pages
_ALONE_LOOK_S = 60.0  # how far into a quiet spell its peers are looked at (their picture is a sample old)
_SILENCE_INTERVALS = 3  # samples this many intervals apart or more: the collector was silent between
_WORKLOADS = "gpu.workloads"  # Engine registry: workload id -> one workload object of that content (derived)
_WORKLOADS_MAX = 65_536  # ... emptied when it grows past this (workload ids that come and go)


@dataclass(frozen=True)
class IdleConfig:
    """``idle`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    idle_below_pct
        Activity (``sm_active_pct``, else ``util_gpu_pct``) below which a sample is idle (2 %).
    open_below_mean_pct
        A stretch opens an anomaly only while its mean activity is below this (1 %).
    dwell_s
        Idle time before an anomaly opens on a GPU whose rhythm is not known yet, running a
        training or inference workload, or idle from its first sample (1200 s).
    cold_dwell_s, cold_kinds
        The same for ``cold_kinds`` workloads ("batch", "unknown", "notebook") and unallocated GPUs
        (5400 s): their gaps are routine until their rhythm says otherwise. A GPU idle from its
        very first sample gets ``dwell_s``.
    fast_dwell_s
        The dwell of a GPU with ``continuity_s`` of busy history and no gaps, running a
        ``fast_kinds`` workload (540 s).
    straggler_dwell_s
        The dwell of a training GPU idle while its node's peers of the same workload are busy (240 s).
    wait_dwell_s
        The dwell of a training GPU idle while a few of its node's peers of the same workload are at work (rank 0
        evaluating while the other ranks wait at a barrier): 2700 s, or ``regular_pause_over_max`` x
        the longest such wait it had, whichever is longer. Evaluations of 15-25 minutes are common (a
        20-minute dwell paged every waiting rank at each of them); a hang stops every rank, and a rank
        left behind is a straggler, neither of which waits on this.
    min_dwell_s, max_dwell_s
        Bounds of a dwell learned from gaps (480 s, 6 h).
    continuity_s
        Busy history without a gap that earns the fast dwell (3600 s).
    gap_z
        A learned dwell is ``exp(mean + gap_z x sd)`` of the log gaps (3.5), ``sd`` shrunk towards a
        wide prior while gaps are few.
    gap_over_max
        ... and at least this many times the longest learned gap (1.25).
    gaps_kept
        Gaps remembered per GPU (64: a queue's tail, a gap once in 50, is part of its rhythm).
    min_gap_s
        Quiet spells shorter than this are not learned as gaps (120 s).
    learn_flagged_below
        A flagged stretch that ended busy is learned as a gap when shorter than this many times
        its dwell (3).
    fast_kinds, straggler_kinds
        Workload kinds that earn the fast dwell ("training", "inference") and the straggler
        dwell ("training"). A ``fast_kinds`` GPU seen for ``continuity_s`` with fewer than four
        gaps has the fast dwell as its floor instead of the cold one.
    regular_pause_kinds, regular_pause_over_max
        Workload kinds whose pauses are their own program's (checkpoints: "training"); once seen
        for ``continuity_s``, their learned dwell is at most ``regular_pause_over_max`` (2) x the
        longest gap, and at least ``fast_dwell_s``.
    busy_confirm_s
        Busy time in a row that ends a stretch (60 s): one busy sample is a blip.
    busy_confirm_open_s
        Busy time in a row that ends a stretch whose anomaly is open (480 s: over the 2-6 minutes a
        notebook cell runs inside hours of idling, under an hourly batch job's 8-12 minutes).
    max_gap_s
        A gap between samples up to this long is part of the stretch (900 s); a longer one ends it.
    stale_after_s
        No sample for this long resolves the anomaly at the last sample (1800 s).
    hoard_mem_pct
        Memory held, in percent of the GPU's, that makes an idle GPU ``gpu_memory_hoarding`` (25 %).
    update_every_s
        At most one update of an open anomaly per this much event time (300 s).
    max_processes_in_evidence
        Processes kept and listed in the evidence (10).
    """

    idle_below_pct: float = 2.0
    open_below_mean_pct: float = 1.0
    dwell_s: float = 1200.0
    cold_dwell_s: float = 5400.0
    cold_kinds: tuple[str, ...] = ("batch", "unknown", "notebook")
    fast_dwell_s: float = 540.0
    straggler_dwell_s: float = 240.0
    wait_dwell_s: float = 2700.0
    min_dwell_s: float = 480.0
    max_dwell_s: float = 6 * 3600.0
    continuity_s: float = 3600.0
    gap_z: float = 3.5
    gap_over_max: float = 1.25
    gaps_kept: int = 64
    min_gap_s: float = 120.0
    learn_flagged_below: float = 3.0
    fast_kinds: tuple[str, ...] = ("training", "inference")
    straggler_kinds: tuple[str, ...] = ("training",)
    regular_pause_kinds: tuple[str, ...] = ("training",)
    regular_pause_over_max: float = 2.0
    busy_confirm_s: float = 60.0
    busy_confirm_open_s: float = 480.0
    max_gap_s: float = 900.0
    stale_after_s: float = 1800.0
    hoard_mem_pct: float = 25.0
    update_every_s: float = 300.0
    max_processes_in_evidence: int = 10


# Every attribute of an instance: a slot each, no per-instance dict (a dict of 40-odd names is 1.5 KiB).
_SLOTS = (
    "key", "config", "context", "wants_tick",
    "last_ts", "first_ts", "last_price", "price_source", "node", "gpu_uuid", "mig_uuid", "gpu_model",
    "mem_used", "mem_total", "has_sm", "processes", "gaps", "busy_s", "solo_gaps", "busy_now", "group",
    "recent_workloads", "last_interval", "approved_s", "longest_wait", "free_gaps",
    "start", "workload", "idle_s", "waste", "activity_sum", "util_sum", "samples", "busy_since",
    "blip_s", "blip_usd", "blip_activity", "blip_util", "blip_samples", "opened_kind", "last_report", "dwell",
    "dwell_source", "peers_busy", "peers_checked", "waited_on_peers", "idled_alone", "job_paused", "silenced",
    "silent_s", "worked_wids", "free_spell",
)
_NOT_PICKLED = frozenset({"config", "context", "blip_s", "blip_usd", "blip_activity", "blip_util", "blip_samples"})
# older snapshots: the attributes that are newer than them, with the value they stand for
_NEWER_DEFAULTS: dict[str, Any] = {"peers_checked": False, "waited_on_peers": False, "job_paused": False,
                                   "idled_alone": None, "longest_wait": 0.0, "free_gaps": b"", "silent_s": 0.0,
                                   "worked_wids": None, "free_spell": None}


class IdleGpuDetector(Detector):
    """One GPU or MIG instance: its rhythm, the current idle stretch, and the report of it.

    Its state is a slot per field (no instance dict) and only the figures of the latest sample that
    evidence reads, kept as plain values: the processes as flat ``(pid, used_mem_bytes, ...)`` pairs,
    the gaps as an array of float32. The figures that only a finding reads (memory, processes, model,
    price source) are taken from a sample only when a finding can follow it: while a stretch is
    going or when the sample is idle (a busy GPU outside a stretch has nothing to report).
    """

    __slots__ = _SLOTS
    name = "idle"
    event_types = (GPU_SAMPLE,)
    kinds = ("idle_gpu", "gpu_memory_hoarding")
    config_cls = IdleConfig
    config: IdleConfig

    def __init__(self, key: str, config: IdleConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.last_ts: float | None = None
        self.first_ts: float | None = None
        self.last_price: float | None = None
        self.price_source = "table"
        # the latest sample, as far as evidence needs it
        self.node = ""
        self.gpu_uuid = ""
        self.mig_uuid: str | None = None
        self.gpu_model: str | None = None
        self.mem_used = 0
        self.mem_total = 0
        self.has_sm = False
        self.processes: tuple[Any, ...] = ()  # pid, used_mem_bytes, pid, used_mem_bytes, ... (at most the evidence's)
        # the rhythm
        # latest quiet spells that ended busy (seconds), oldest first: float32, 64 of them in 256 bytes
        self.gaps = array("f")
        # ... of them, those spent unallocated (no workload: the gap between two pods), kept apart: a pool's
        # scheduling gaps say nothing about how long a pod may sit idle holding the GPU, and its own
        # pauses (checkpoints, model loads) nothing about the scheduler
        self.free_gaps = array("f")
        self.busy_s = 0.0  # busy time seen since the latest gap (capped)
        self.solo_gaps = 0  # gaps while most of its node peers (two or more) were busy: it idles alone routinely
        self.busy_now = False
        self.group: tuple[str, str | None] | None = None  # (node, workload id) it is registered under
        self.recent_workloads: tuple[str | None, ...] = ()
        self.last_interval: float | None = None
        self.approved_s = 0.0  # the longest quiet spell a person marked "not a problem": the dwell stays above it
        self.longest_wait = 0.0  # the longest quiet spell spent waiting on a few of its peers at work
        # workload ids seen at work on this GPU lately (None: not known, a snapshot older than this field:
        # every workload counts as seen); a pod not seen at work yet gets at least the configured default dwell
        self.worked_wids: tuple[str | None, ...] | None = ()
        # (start, length) of the latest long unallocated spell: a scheduler's nightly scale-down is a daily rhythm
        self.free_spell: tuple[float, float] | None = None
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
        self.silent_s = 0.0  # the stretch's time without samples (the collector silent), beyond one interval each
        self._clear_blip()
        self.opened_kind: str | None = None
        self.last_report = 0.0
        self.dwell = self.config.dwell_s
        self.dwell_source = "default"
        self.peers_busy = 0  # node peers busy when the stretch last looked
        self.peers_checked = False  # whether this quiet spell has looked at its peers a few minutes in
        self.waited_on_peers = False  # ... and saw a few of them at work: it waits on them
        # its node peers a minute into the quiet spell (None: not looked): most of them at work (it idled
        # alone, as a straggler does), or none of them (a pause of the whole job: a checkpoint)
        self.idled_alone: bool | None = None
        self.job_paused = False
        self.silenced = False  # marked not a problem while it lasts: it goes on without a word
        self.wants_tick = False

    def _clear_blip(self) -> None:
        # the busy run since busy_since: seconds, waste, activity, util, samples
        self.blip_s = self.blip_usd = self.blip_activity = self.blip_util = 0.0
        self.blip_samples = 0

    key_of = staticmethod(gpu_sample_key)  # the contract's Kafka key: <node>/<gpu or MIG uuid>

    # ------------------------------------------------------------------ events
    def process(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        last = self.last_ts
        if last is not None and ts <= last:
            return []  # duplicate or late sample: the stretch already covers that time
        self.last_ts = ts
        if self.first_ts is None:
            self.first_ts = ts
        cfg = self.config
        interval = event["interval_s"]
        self.last_interval = interval
        sample_start = ts - interval
        sm = event.get("sm_active_pct")
        util = event["util_gpu_pct"]
        activity = sm if sm is not None else util
        workload = event["workload"]
        wid = workload["id"] if workload else None
        node = event["node"]
        if node != self.node:
            self.node = sys.intern(node)  # one copy per node name, shared by its GPUs
        if self.start is not None or activity < cfg.idle_below_pct:
            # a finding can follow this sample: the figures its evidence reads are this sample's
            price = self._price(event)
            self._keep_sample(event, sm is not None)
        else:
            # busy, no stretch: nothing to report until an idle sample, which takes its own figures;
            # only the price a later sample may fall back on is kept
            price = 0.0
            p = event.get("price_per_hour_usd")
            if p is not None:
                self.last_price = p
        group = self.group
        if group is None or group[1] != wid or group[0] != self.node:
            self._register(wid)
        out: list[Finding] = []

        if self.start is not None:
            if last is not None and ts - last > cfg.max_gap_s + interval:
                out.extend(self._end(last, busy=False))  # a long silence: we cannot say it stayed idle
            elif wid != (self.workload["id"] if self.workload else None) and wid not in self.recent_workloads:
                # a new workload: the stretch ends; if the new one is at work straight away the quiet
                # spell was the gap between two jobs, part of the GPU's rhythm like any other
                out.extend(self._end(sample_start, busy=activity >= cfg.idle_below_pct))
        if wid not in self.recent_workloads:
            self.recent_workloads = (*self.recent_workloads, wid)[-_RECENT_WORKLOADS:]

        covered = ts - last if last is not None and ts - last <= cfg.max_gap_s + interval else interval
        if self.start is not None and last is not None and ts - last > _SILENCE_INTERVALS * interval:
            self.silent_s += ts - last - interval
        if activity < cfg.idle_below_pct:
            self.busy_now = False
            if self.busy_since is not None:  # the busy run was a blip: it stays part of the stretch
                self.busy_since = None
                self._clear_blip()
            if self.start is None:
                self.start = sample_start
                self.workload = shared_workload(self.context, workload)
                self.peers_checked = self.waited_on_peers = False
                covered = interval
                self._choose_dwell(workload)
            elif self.opened_kind is None and (self.workload is None) != (workload is None):
                if workload is not None:
                    # a pod came to the GPU while it was unallocated (a rescheduled endpoint loading its
                    # model): the spell is that workload's from here, judged by the GPU's rhythm with it,
                    # not by a pool's scheduling gaps; not yet seen at work, it gets no fast dwell
                    self._note_free_spell(sample_start)
                    self.workload = shared_workload(self.context, workload)
                    self._choose_dwell(workload, ts - self.start, new_pod=True)
                    self.dwell += sample_start - self.start  # counted from the pod's arrival
                elif self._mem_pct() < cfg.hoard_mem_pct:
                    # its pod ended during the spell (a checkpoint pause that was the job's last):
                    # the scheduler's gap from here, judged by the GPU's unallocated spells (a sample
                    # without its workload but with the memory still held is the attribution's hiccup)
                    self.workload = None
                    self._choose_dwell(None, ts - self.start)
                    self.dwell += sample_start - self.start
            self._accumulate(covered, price, activity, util)
            # not at the spell's first sample, whatever the cadence: the peers' picture is a sample old
            if self.idled_alone is None and ts - self.start >= max(_ALONE_LOOK_S, 1.5 * interval) and self.workload \
                    and self.workload.get("kind") in cfg.straggler_kinds:
                self._look_alone()
        else:
            self.busy_now = True
            worked = self.worked_wids
            if worked is not None and wid not in worked:
                self.worked_wids = (*worked, wid)[-_RECENT_WORKLOADS:]
            if self.start is None:
                self.busy_s = min(self.busy_s + covered, 10.0 * cfg.continuity_s)
                return out
            if self.busy_since is None:
                self.busy_since = sample_start
            confirm = cfg.busy_confirm_open_s if self.opened_kind is not None else cfg.busy_confirm_s
            if ts - self.busy_since >= confirm:
                # busy for good since busy_since: that run was not idle time after all
                self.idle_s -= self.blip_s
                self.waste -= self.blip_usd
                self.activity_sum -= self.blip_activity
                self.util_sum -= self.blip_util
                self.samples -= self.blip_samples
                out.extend(self._end(self.busy_since, busy=True))
                return out
            # maybe a blip inside a stretch: counted as stretch time (the GPU is still reserved)
            # unless the busy run lasts
            self._accumulate(covered, price, activity, util)
            self.blip_s += covered
            self.blip_usd += covered / 3600.0 * price
            self.blip_activity += activity
            self.blip_util += util
            self.blip_samples += 1

        out.extend(self._report(ts))
        return out

    def _keep_sample(self, event: dict[str, Any], has_sm: bool) -> None:
        """The latest sample's figures that evidence reads (names only when they change: one copy)."""
        uuid = event["gpu_uuid"]
        if uuid != self.gpu_uuid:
            self.gpu_uuid = uuid
        mig = event.get("mig_uuid")
        if mig != self.mig_uuid:
            self.mig_uuid = mig
        model = event.get("gpu_model")
        if model != self.gpu_model:
            self.gpu_model = sys.intern(model) if type(model) is str else model
        self.mem_used = event["mem_used_bytes"]
        self.mem_total = event["mem_total_bytes"]
        self.has_sm = has_sm
        procs = event.get("processes")
        self.processes = _flat_processes(procs, self.config.max_processes_in_evidence) if procs else ()

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
        return self.context.prices.gpu_sample_per_hour(event)

    # ------------------------------------------------------------- the rhythm
    def _peers(self) -> dict[str, IdleGpuDetector]:
        """This GPU's node peers of the same workload (itself included), from the Engine's registry."""
        if self.group is None:
            return {}
        registry: dict[tuple[str, str | None], dict[str, IdleGpuDetector]] = self.context.shared(_PEERS)
        return registry.get(self.group, {})

    def _register(self, wid: str | None) -> None:
        group = (self.node, wid)
        if group == self.group:
            return
        registry: dict[tuple[str, str | None], dict[str, IdleGpuDetector]] = self.context.shared(_PEERS)
        if self.group is not None:
            members = registry.get(self.group)
            if members is not None:
                members.pop(self.key, None)
                if not members:
                    del registry[self.group]
        registry.setdefault(group, {})[self.key] = self
        self.group = group

    def __getstate__(self) -> dict[str, Any]:
        # config and context are re-attached on restore; the peer registry is the Engine's, rebuilt by
        # restored() from ``group``
        state = {name: getattr(self, name) for name in _SLOTS if name not in _NOT_PICKLED}
        state["blip"] = (self.blip_s, self.blip_usd, self.blip_activity, self.blip_util, self.blip_samples)
        state["gaps"] = self.gaps.tobytes()  # 4 bytes a gap (a list of floats pickles 9, an array ~32 more)
        state["free_gaps"] = self.free_gaps.tobytes()
        state.update(vars(self))  # anything set outside the slots (empty unless somebody added a field) is kept
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """New snapshots, and those of the older layout (an instance dict: a list of gaps, a list of
        process dicts, a ``blip`` list, some fields missing)."""
        state = dict(state)
        state.pop("config", None)
        state.pop("context", None)
        for name, value in _NEWER_DEFAULTS.items():
            state.setdefault(name, value)
        blip = state.pop("blip", None)
        if blip is not None:
            (state["blip_s"], state["blip_usd"], state["blip_activity"], state["blip_util"],
             samples) = blip
            state["blip_samples"] = int(samples)
        for name in ("gaps", "free_gaps"):
            gaps = state.get(name)
            if isinstance(gaps, bytes):
                state[name] = array("f", gaps)  # float32, native (little-endian) order, as written
            elif not isinstance(gaps, array) or gaps.typecode != "f":
                state[name] = array("f", gaps or ())  # older snapshots: a list, or an array of doubles
        recent = state.get("recent_workloads")
        if not isinstance(recent, tuple):
            state["recent_workloads"] = tuple(recent or ())
        procs = state.get("processes")
        if isinstance(procs, list):  # [{"pid": ..., "used_mem_bytes": ...}, ...]
            state["processes"] = tuple(v for p in procs for v in (p.get("pid"), p.get("used_mem_bytes")))
        for name, value in state.items():
            setattr(self, name, value)

    def restored(self) -> None:
        """After a restore: join the peer registry again (it is derived from the instances)."""
        group, self.group = self.group, None
        if group is not None:
            self._register(group[1])

    def _choose_dwell(self, workload: dict[str, Any] | None, elapsed: float = 0.0, new_pod: bool = False) -> None:
        """Fix the dwell of the stretch that starts now (or is ``elapsed`` seconds old and is looked at
        again), from this GPU's (and its peers') rhythm. ``new_pod``: the workload came to the GPU
        during the stretch, so the GPU has not seen it at work yet."""
        cfg = self.config
        kind = (workload or {}).get("kind") if workload else None
        peers = self._peers()
        # by key, not by registry order: a restored Engine rebuilds the registry in another order
        others = [p for k, p in sorted(peers.items()) if k != self.key]
        self.peers_busy = self._busy_peers(others)
        # the GPU's own gaps and its node peers' of the same workload (one queue, one rhythm), of the
        # stretch's kind: with a pod on the GPU, or unallocated
        own = self._own_gaps(workload is None)
        gaps = [*own, *(g for p in others for g in p._own_gaps(workload is None)[-_PEER_GAPS_EACH:])]
        if gaps:
            self.dwell = self._learned_dwell(gaps)
            own_enough = len(own) >= _OWN_GAPS_ENOUGH or len(gaps) == len(own)
            self.dwell_source = "learned_gaps" if own_enough else "peer_gaps"
            # a training job or an endpoint seen at work for an hour: a few short pauses (checkpoints)
            # make it no slower to flag than none would (the fast dwell is the floor, not the default)
            seen_working = kind in cfg.fast_kinds and self._history_s() >= cfg.continuity_s and not new_pod
            floor = cfg.fast_dwell_s if seen_working else self._cold_dwell(workload, kind)
            # a rhythm of a few gaps is not known yet; a queue's (the cold dwell's kinds) takes twice as
            # many: its gaps are heavy-tailed, and its first few are often its shortest
            enough = _OWN_GAPS_ENOUGH if floor < cfg.cold_dwell_s else 2 * _OWN_GAPS_ENOUGH
            if len(gaps) < enough:
                self.dwell = max(floor, min(self.dwell, _FEW_GAPS_MAX_RATIO * max(gaps)))
            if seen_working and kind in cfg.regular_pause_kinds:
                # a training job's pauses are its own program's (checkpoints, evaluations): regular, not a
                # queue's heavy tail, so twice the longest seen is clearly longer; the log-normal bound of a
                # few near-equal gaps is mostly the prior's spread (4 checkpoints of 4 min: 18 min)
                self.dwell = min(self.dwell, max(cfg.fast_dwell_s, cfg.regular_pause_over_max * max(gaps)))
        elif kind in cfg.fast_kinds and self.busy_s >= cfg.continuity_s and not new_pod:
            self.dwell, self.dwell_source = cfg.fast_dwell_s, "no_gaps"
        else:
            self.dwell, self.dwell_source = self._cold_dwell(workload, kind), "default"
        worked = self.worked_wids
        if workload is not None and (new_pod or worked is not None and workload.get("id") not in worked):
            # a pod not seen at work on this GPU yet (pulling its image, loading a model, waiting at a gang's
            # rendezvous): the pauses of the GPU's earlier jobs say nothing about how long that takes
            # (probe gpu13_gang_wait: 8 min from earlier jobs' checkpoints paged pods waiting for their gang):
            # at least the configured default
            if self.dwell < cfg.dwell_s:
                self.dwell, self.dwell_source = cfg.dwell_s, "not_yet_at_work"
        elif workload is None and self.free_spell is not None and self.start is not None:
            # about the time of day a long unallocated spell began yesterday: the scheduler's daily rhythm
            # (replicas scaled down every night), routine waste for the daily report, not a page a night
            fs_start, fs_len = self.free_spell
            if abs(self.start - fs_start - _DAY) <= _DAILY_SLACK_S and self.dwell < cfg.gap_over_max * fs_len:
                self.dwell, self.dwell_source = min(_DAILY_MAX_DWELL_S, cfg.gap_over_max * fs_len), "daily_rhythm"
        if self._straggler_eligible(kind) and self._peers_say_straggler(len(others)):
            self.dwell, self.dwell_source = min(self.dwell, self._straggler_dwell(elapsed)), "straggler"
        elif self._peers_at_work(len(others)) and self.dwell < self._wait_dwell(kind):
            # a few of its job's GPUs at work while it waits: rank 0 evaluating or saving while the
            # others wait for it is routine, a hang stops them all; the wait's dwell until they stop
            self.dwell, self.dwell_source = self._wait_dwell(kind), "peers_at_work"
        if self.approved_s and self.dwell < cfg.gap_over_max * self.approved_s:
            # a person said a quiet spell this long is fine here: only a clearly longer one pages
            self.dwell, self.dwell_source = cfg.gap_over_max * self.approved_s, "marked_fine"

    def _own_gaps(self, unallocated: bool) -> array[float]:
        """The quiet spells learned for a stretch with no workload (unallocated), or with one."""
        return self.free_gaps if unallocated else self.gaps

    def _history_s(self) -> float:
        """How long this GPU has been seen (first sample to latest)."""
        return (self.last_ts - self.first_ts) if self.first_ts is not None and self.last_ts is not None else 0.0

    def _cold_dwell(self, workload: dict[str, Any] | None, kind: str | None) -> float:
        """The dwell while the GPU's rhythm is not known: ``dwell_s`` (the configured default) for a
        GPU seen for the first time and for training and inference workloads; ``cold_dwell_s`` for
        workloads whose gaps are routine and for unallocated GPUs (a pool's scheduling gaps)."""
        cfg = self.config
        if self.first_ts is not None and self.last_ts is not None and self.last_ts - self.first_ts <= \
                2 * (self.last_interval or 60.0):
            return cfg.dwell_s  # no history at all yet: the configured default
        if not workload or kind in cfg.cold_kinds:
            return cfg.cold_dwell_s
        return cfg.dwell_s

    def _learned_dwell(self, gaps: list[float]) -> float:
        """A dwell that a routine gap outlasts about once in ``exp(gap_z)``-tail odds: the upper
        prediction bound of a log-normal fit, with the spread shrunk towards a wide prior while
        gaps are few and widened by how few they are (a Student-t in spirit)."""
        cfg = self.config
        logs = [math.log(g) for g in gaps]
        n = len(logs)
        mean = sum(logs) / n
        ss = sum((x - mean) ** 2 for x in logs)
        sd = math.sqrt((_PRIOR_WEIGHT * _PRIOR_LOG_SD ** 2 + ss) / (_PRIOR_WEIGHT + n - 1))
        bound = math.exp(mean + cfg.gap_z * sd * math.sqrt(1.0 + 1.0 / n))
        return min(cfg.max_dwell_s, max(cfg.min_dwell_s, bound, cfg.gap_over_max * max(gaps)))

    def _wait_dwell(self, kind: str | None) -> float:
        """The dwell of a quiet spell spent waiting on a few of its job's GPUs at work: for a training
        rank (an evaluation on rank 0), ``wait_dwell_s`` or twice the longest such wait it had; for
        other kinds ``dwell_s`` (a replica of an endpoint idle while another serves waits on nothing:
        it was drained)."""
        cfg = self.config
        if kind not in cfg.straggler_kinds:
            return cfg.dwell_s
        return min(cfg.max_dwell_s, max(cfg.wait_dwell_s, cfg.regular_pause_over_max * self.longest_wait))

    def _straggler_dwell(self, seen_alone_after: float) -> float:
        """The straggler dwell, from the start of the quiet spell: ``straggler_dwell_s``, and at least
        two minutes idling alone once it is seen so (a rank that went quiet inside a checkpoint of the
        whole job is a straggler only once its peers are back; a rank resuming a sample after them is not)."""
        return max(self.config.straggler_dwell_s, seen_alone_after + _ALONE_CONFIRM_S)

    def _peers_say_straggler(self, others: int) -> bool:
        """At least two peers, and most of them, busy: a rank left behind (with one peer only, a rank
        waiting while the other evaluates looks the same)."""
        return self.peers_busy >= _STRAGGLER_MIN_PEERS and self.peers_busy * 2 >= others

    def _peers_at_work(self, others: int) -> bool:
        """Some of its node peers busy, but not most of them (that would be a straggler's picture);
        or its only peer busy (a rank waiting while the other evaluates: with one peer there is no
        straggler rule to tell it from a rank left behind)."""
        return self.peers_busy > 0 and (self.peers_busy * 2 < others or others < _STRAGGLER_MIN_PEERS)

    def _straggler_eligible(self, kind: str | None) -> bool:
        cfg = self.config
        return kind in cfg.straggler_kinds and self.solo_gaps == 0 and self.busy_s >= cfg.continuity_s / 4

    def _busy_peers(self, others: list[IdleGpuDetector]) -> int:
        now = self.last_ts or 0.0
        return sum(1 for p in others if p.busy_now and p.last_ts is not None and now - p.last_ts <= _PEER_FRESH_S)

    def _look_alone(self) -> None:
        """A minute into the quiet spell, whether its node peers are at work (it idles alone) or all
        quiet too (the whole job paused). Looked at then, not when the spell ends: by the time its
        busy run is confirmed the peers are back at work after any pause of the whole job."""
        others = [p for k, p in self._peers().items() if k != self.key]
        busy = self._busy_peers(others)
        self.idled_alone = busy >= _STRAGGLER_MIN_PEERS and busy * 2 >= len(others)
        self.job_paused = bool(others) and busy == 0

    def _learn_gap(self, duration: float) -> None:
        cfg = self.config
        if duration < cfg.min_gap_s:
            return
        if self.idled_alone:
            # it idled the way a straggler does (most peers busy, two at least) and that was routine
            # here, whether it was then taken as waiting on them or not (an RL job's rollout GPUs idle
            # while its trainers work, probe gpu13_rl_alternating); a gap while a single peer evaluates is not that
            self.solo_gaps += 1
        if self.waited_on_peers:
            # it waited on a peer (rank 0 evaluating): not the rhythm of its own pauses, but that of its waits
            self.longest_wait = max(self.longest_wait, duration)
            return
        gaps = self._own_gaps(self.workload is None)
        gaps.append(duration)
        del gaps[: -cfg.gaps_kept]
        if not self.job_paused:
            # a pause of the whole job (a checkpoint) does not end its run: it stays a GPU long at work
            self.busy_s = 0.0

    # ---------------------------------------------------------------- deciding
    def _report(self, ts: float) -> list[Finding]:
        cfg = self.config
        assert self.start is not None
        if self.silenced:
            return []
        if self.opened_kind is None:
            recheck = self.dwell_source in ("straggler", "peers_at_work")
            if recheck or self._straggler_eligible((self.workload or {}).get("kind")):
                # the peers can go quiet too (a checkpoint of the whole job, the end of an evaluation):
                # then it is no straggler, and no longer waiting on a peer
                others = [p for k, p in self._peers().items() if k != self.key]
                self.peers_busy = self._busy_peers(others)
                straggler_gone = self.dwell_source == "straggler" and not self._peers_say_straggler(len(others))
                wait_over = self.dwell_source == "peers_at_work" and not self._peers_at_work(len(others))
                # a straggler's dwell counts from when it was seen idling alone: a pause of the whole
                # job (a checkpoint) ends with its peers at work a sample before it is
                if straggler_gone or wait_over:
                    self._choose_dwell(self.workload, ts - self.start)
                    if self.waited_on_peers:
                        # the wait it was seen in (a few minutes into the spell) is over (or the
                        # peers it then looked left behind by stopped too): the job's
                        # own quiet spell, or its being left behind, starts now, so the dwell counts
                        # from here. Peers that stopped too (an evaluation that ends in a checkpoint
                        # of the whole job): its own dwell from now; peers back at work a sample
                        # before it (the end of an evaluation): the straggler's two minutes from now.
                        # (Peers that stop a sample after it are one stop with it: never a wait.)
                        elapsed = ts - self.start
                        if self.dwell_source == "straggler":
                            self.dwell = self._straggler_dwell(elapsed)
                        else:
                            self.dwell += elapsed
                elif self.dwell_source != "straggler" and self._peers_say_straggler(len(others)):
                    self.dwell = min(self.dwell, self._straggler_dwell(ts - self.start))
                    self.dwell_source = "straggler"
            if not self.peers_checked and ts - self.start >= min(self.dwell, cfg.min_dwell_s) \
                    and self.dwell_source != "straggler":
                # once per spell, a few minutes in (the picture at its first sample can be stale: peers
                # still busy then): a few of its job's GPUs at work means it waits on them
                self.peers_checked = True
                others = [p for k, p in self._peers().items() if k != self.key]
                self.peers_busy = self._busy_peers(others)
                self.waited_on_peers = self._peers_at_work(len(others))
                kind = (self.workload or {}).get("kind")
                if self.waited_on_peers and self.dwell < self._wait_dwell(kind):
                    self.dwell, self.dwell_source = self._wait_dwell(kind), "peers_at_work"
                    if self.job_paused:
                        # the whole job stopped with it (a checkpoint) and a peer went back to work
                        # alone (rank 0 evaluating): the wait on that peer began after the pause,
                        # so it counts from when it is seen
                        self.dwell += ts - self.start
            if ts - self.start < self.dwell or self.activity_sum / self.samples >= cfg.open_below_mean_pct:
                return []
            self.opened_kind = "gpu_memory_hoarding" if self._mem_pct() >= cfg.hoard_mem_pct else "idle_gpu"
            self.wants_tick = True
        elif ts - self.last_report < cfg.update_every_s:
            return []
        self.last_report = ts
        return [self._finding(ts, active=True)]

    def _note_free_spell(self, at: float) -> None:
        """Remember the stretch, if it was a long unallocated one (at least half the cold dwell) until ``at``."""
        if self.start is not None and self.workload is None and at - self.start >= self.config.cold_dwell_s / 2:
            self.free_spell = (self.start, at - self.start)

    def _end(self, at: float, busy: bool) -> list[Finding]:
        """End the stretch at ``at``; ``busy``: because the GPU got busy (a gap of its rhythm)."""
        out = [self._finding(at, active=False)] if self.opened_kind is not None and self.samples \
            and not self.silenced else []
        self._note_free_spell(at)
        if busy and self.start is not None:
            # how long it was seen quiet: a collector silent inside a checkpoint pause is no longer pause
            # (a 4-min pause bridged over a 10-min dropout taught a node's GPUs a 20-min dwell)
            duration = max(at - self.start - self.silent_s, 0.0)
            if self.silenced:
                self.approved_s = max(self.approved_s, duration)
                self._learn_gap(duration)
            elif self.opened_kind is None or duration < self.config.learn_flagged_below * self.dwell:
                self._learn_gap(duration)
            elif self.idled_alone and duration >= self.config.min_gap_s:
                # too long to learn as a gap, but it idled alone while its peers worked and came back by itself:
                # it is no longer a GPU that never idles alone (the straggler's 4 min paged an RL job's rollout
                # GPUs at every phase after the first, probe gpu13_rl_alternating)
                self.solo_gaps += 1
        self._reset()
        return out

    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """"Not a problem": the quiet spell is part of this GPU's rhythm. It is learned as a gap the
        dwell stays above (so the same pattern does not page again, a clearly longer one still does),
        and an anomaly still open ends now, the stretch going on silently until the GPU is busy."""
        if event["verdict"] != "not_a_problem":
            return []
        who = event["by"]
        if self.start is not None and self.opened_kind is not None and not self.silenced:
            at = self.last_ts if self.last_ts is not None else event["ts"]
            self.approved_s = max(self.approved_s, at - self.start)
            finding = self._finding(at, active=False)
            finding.evidence["resolution"] = f"marked not a problem by {who}"
            self.silenced = True
            return [finding]
        hours = (event.get("evidence") or {}).get("idle_hours")
        if isinstance(hours, int | float) and hours > 0:  # an anomaly over already: its length was fine
            self.approved_s = max(self.approved_s, float(hours) * 3600.0)
        return []

    def tick(self, now: float) -> list[Finding]:
        if self.last_ts is not None and now - self.last_ts > self.config.stale_after_s:
            return self._end(self.last_ts, busy=False)
        return []

    # ---------------------------------------------------------------- findings
    def _mem_pct(self) -> float:
        return 100.0 * self.mem_used / self.mem_total if self.mem_total else 0.0

    def _finding(self, at: float, active: bool) -> Finding:
        assert self.start is not None and self.opened_kind is not None
        cfg = self.config
        hours = self.idle_s / 3600.0
        price_per_hour = self.waste / hours if hours > 0 else 0.0
        daily = price_per_hour * 24.0
        mem_pct = self._mem_pct()
        mig = self.mig_uuid
        resource = mig or self.gpu_uuid
        what = "MIG slice" if mig else "GPU"
        owner = _workload_id(self.workload) or "unallocated (no workload)"
        mean_activity = self.activity_sum / self.samples
        busy_wait = self.has_sm and self.util_sum / self.samples >= 50.0
        if self.opened_kind == "gpu_memory_hoarding":
            head = f"{what} idle {hours:.1f} h holding {mem_pct:.0f}% of its memory"
        else:
            head = f"{what} idle {hours:.1f} h"
        if busy_wait:
            head += " (util reads busy but SMs do nothing: busy-wait)"
        if self.dwell_source == "straggler":
            head += f" while {self.peers_busy} other GPU(s) of its job on the node are busy (straggler)"
        state = "was" if not active else "is"
        summary = (f"{head} on {self.node} ({self.gpu_model or 'unknown model'}); {owner} {state} "
                   f"paying ${price_per_hour:.2f}/h: ${self.waste:.2f} lost so far, ${daily:.0f}/day")
        evidence = {
            "node": self.node,
            "gpu_uuid": self.gpu_uuid,
            "mig_uuid": mig,
            "gpu_model": self.gpu_model,
            "activity_source": "sm_active_pct" if self.has_sm else "util_gpu_pct",
            "threshold_pct": cfg.idle_below_pct,
            "dwell_s": round(self.dwell, 1),
            "dwell_source": self.dwell_source,
            "usual_gaps_s": [round(g) for g in self._own_gaps(self.workload is None)[-5:]],
            "peers_busy": self.peers_busy,
            "idle_hours": round(hours, 3),
            "mean_activity_pct": round(mean_activity, 3),
            "mean_util_gpu_pct": round(self.util_sum / self.samples, 3),
            "mem_used_bytes": self.mem_used,
            "mem_total_bytes": self.mem_total,
            "mem_used_pct": round(mem_pct, 1),
            "hoard_threshold_pct": cfg.hoard_mem_pct,
            "processes": _process_dicts(self.processes),
            "price_per_hour_usd": round(price_per_hour, 4),
            "price_source": self.price_source,
            "samples": self.samples,
        }
        return Finding(kind=self.opened_kind, resource=resource, workload=self.workload,
                       started_at=self.start, at=at, active=active, waste_usd=self.waste,
                       projected_daily_usd=daily, summary=summary, evidence=evidence)


def shared_workload(context: DetectorContext, workload: dict[str, Any] | None) -> dict[str, Any] | None:
    """One object for equal workload objects of the GPU detectors' state: every sample brings its own
    copy, and a detector that keeps one (the workload of a stretch, of a day) would keep it per GPU and
    per detector. Equal content, so findings are the same; never mutated (findings carry it as is)."""
    if workload is None:
        return None
    table: dict[Any, dict[str, Any]] = context.shared(_WORKLOADS)
    wid = workload.get("id")
    kept = table.get(wid)
    if kept is None or kept != workload:
        if len(table) >= _WORKLOADS_MAX:
            table.clear()
        table[wid] = kept = workload
    return kept


def _flat_processes(procs: list[Any], limit: int) -> tuple[Any, ...]:
    """The first ``limit`` processes of a sample as ``(pid, used_mem_bytes, pid, ...)``."""
    return tuple(v for p in procs[:limit] if isinstance(p, dict) for v in (p.get("pid"), p.get("used_mem_bytes")))


def _process_dicts(flat: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [{"pid": flat[i], "used_mem_bytes": flat[i + 1]} for i in range(0, len(flat), 2)]


def _workload_id(workload: dict[str, Any] | None) -> str | None:
    return workload["id"] if workload else None
