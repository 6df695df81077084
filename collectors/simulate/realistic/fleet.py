"""The GPU fleet: nodes of 8 GPUs (one of 4), MIG slices, a realistic workload mix, and idle problems hidden in it.

Each device gets a timeline of segments (busy, paused, idle with memory held, idle and empty, unallocated,
busy-waiting, serving traffic, ...) and one ``gpu_sample`` per sampling interval is derived from it.

Where the shapes come from (one line each):

- Sampling every 15-60 s per node: dcgm-exporter collects every 30 s by default and Prometheus scrapes it every
  15-60 s (NVIDIA DCGM-Exporter docs, "Configure Prometheus for DCGM Exporter").
- Training job durations log-normal with a heavy tail (minutes to days), a large share of jobs failing or being
  killed: Jeon et al., "Analysis of Large-Scale Multi-Tenant GPU Clusters for DNN Training Workloads" (Philly,
  USENIX ATC'19); Hu et al., "Characterization and Prediction of Deep Learning Workloads in Large-Scale GPU
  Datacenters" (SenseTime Helios, SC'21).
- Idle spells inside jobs and GPUs idle while allocated (25-50 % of reserved GPU time idle in Philly's per-minute
  telemetry; memory held while compute is idle, median instance utilisation ~1.5 % in Alibaba PAI): Jeon et al.
  (ATC'19) and Weng et al., "MLaaS in the Wild" (Alibaba PAI, NSDI'22).
- Inference endpoints with a diurnal traffic cycle, low but real at night: Weng et al. (NSDI'22), whose PAI
  inference tasks follow daily request patterns.
- Batch queues whose workers wait between jobs with heavy-tailed, per-queue gap distributions (log-normal gaps
  of 15 min and more): the queueing and inter-arrival spread reported for Helios (SC'21) and PAI (NSDI'22).
- Checkpoint pauses of minutes at a fixed cadence: Mohan et al., "CheckFreq" (USENIX FAST'21), periodic
  checkpoint stalls in DNN training; evaluation on rank 0 while other ranks wait at a barrier is the usual
  PyTorch DDP pattern.
- MIG profiles and memory per slice (H100 80GB: 2g.20gb, 3g.40gb, 4g.40gb): NVIDIA MIG user guide; a slice is
  priced by its share of the GPU's 7 compute slices.
- Prices per GPU-hour near public on-demand list prices (H100 ~$4-7, A100 80GB ~$3-3.7, L40S ~$1.6-2.1,
  A10G ~$1.0-1.3); exporters that cannot read a price send null.
- Busy-waiting collectives (NVML utilisation ~100 % while SM activity is ~0, e.g. NCCL waiting on a dead peer):
  DCGM profiling field DCGM_FI_PROF_SM_ACTIVE versus NVML utilization.gpu (NVIDIA DCGM docs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from collectors.simulate.realistic.common import DAY, GIB, HOUR, MIN, Book, Rng, Stream, Window, Workload, workload

# name, memory GiB, price range $/h, (idle W, max W)
GPU_MODELS: dict[str, tuple[str, float, tuple[float, float], tuple[float, float]]] = {
    "H100": ("NVIDIA H100 80GB HBM3", 80.0, (4.2, 7.0), (68.0, 690.0)),
    "A100": ("NVIDIA A100-SXM4-80GB", 80.0, (2.9, 3.7), (55.0, 400.0)),
    "L40S": ("NVIDIA L40S", 48.0, (1.6, 2.1), (34.0, 350.0)),
    "A10G": ("NVIDIA A10G", 24.0, (1.0, 1.3), (16.0, 300.0)),
}
CORE_GPUS = 52

Load = Callable[[np.ndarray], np.ndarray]

# states of a segment; what a sample in it looks like
BUSY, PAUSE, HELD, EMPTY, UNALLOC, SPIN, INFER, TRICKLE, SIDECAR = (
    "busy", "pause", "held", "empty", "unalloc", "spin", "infer", "trickle", "sidecar")


@dataclass
class Node:
    name: str
    model: str
    interval: float
    has_sm: bool
    price: float
    price_null: float
    start: float
    gaps: list[tuple[float, float]] = field(default_factory=list)

    @property
    def gpu_model(self) -> str:
        return GPU_MODELS[self.model][0]


@dataclass
class Seg:
    a: float
    b: float
    state: str
    wl: Workload | None
    mem: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    load: Load | None = None
    pids: tuple[int, ...] = ()


@dataclass
class Device:
    node: Node
    gpu_uuid: str
    mig_uuid: str | None
    profile: str | None
    mem_gib: float
    price: float
    segs: list[Seg] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)

    @property
    def resource(self) -> str:
        return self.mig_uuid or self.gpu_uuid


def overlay(segs: list[Seg], new: Seg) -> list[Seg]:
    """Replace [new.a, new.b) of a timeline by ``new`` (cutting the segments it overlaps)."""
    out: list[Seg] = []
    for s in segs:
        if s.b <= new.a or s.a >= new.b:
            out.append(s)
            continue
        if s.a < new.a:
            out.append(replace(s, b=new.a))
        if s.b > new.b:
            out.append(replace(s, a=new.b))
    out.append(new)
    out.sort(key=lambda s: s.a)
    return out


def state_at(segs: list[Seg], t: float) -> Seg | None:
    for s in segs:
        if s.a <= t < s.b:
            return s
    return None


class Line:
    """Builds one device's consecutive segments from ``t``."""

    def __init__(self, t0: float, end: float) -> None:
        self.t, self.end, self.segs = t0, end, []  # type: float, float, list[Seg]

    def add(self, dur: float, state: str, wl: Workload | None, mem: float = 0.0, lo: float = 0.0,
            hi: float = 0.0, load: Load | None = None, pids: tuple[int, ...] = ()) -> tuple[float, float]:
        a, b = self.t, min(self.t + max(dur, 0.0), self.end)
        if b > a:
            self.segs.append(Seg(a, b, state, wl, mem, lo, hi, load, pids))
        self.t = b
        return a, b

    @property
    def done(self) -> bool:
        return self.t >= self.end


TEAMS = ("research", "vision", "nlp", "speech", "recsys", "search", "ads", "ml-platform", "growth", "risk")
JOB_NAMES = ("resnet-ablation", "bert-distill", "vit-pretrain", "whisper-ft", "dlrm-train", "t5-finetune",
             "gnn-fraud", "diffusion-ft", "llama-sft", "ctr-dnn", "asr-conformer", "detr-train", "moe-pretrain",
             "rm-train", "seg-unet", "clip-contrastive", "ranker-ltr", "tabular-ft")


class FleetBuilder:
    def __init__(self, seed: int, win: Window, gpus: int, scale: float, book: Book) -> None:
        self.r = Rng(seed, "fleet")
        self.win, self.book = win, book
        self.coarsen = 1.0 if scale >= 1.0 else min(4.0, 1.0 / max(scale, 0.05))
        self.gpus = max(gpus, CORE_GPUS)
        self.nodes: list[Node] = []
        self.devices: list[Device] = []
        self.jobs = 0

    # ------------------------------------------------------------------ helpers
    def node(self, name: str, model: str, intervals: tuple[float, ...], has_sm: bool, price_null: float,
             start: float | None = None) -> Node:
        lo, hi = GPU_MODELS[model][2]
        n = Node(name, model, float(self.r.pick(intervals)) * self.coarsen, has_sm, round(self.r.u(lo, hi), 2),
                 price_null, self.win.gpu_start if start is None else start)
        for _ in range(self.r.i(0, 2)):   # exporter restarts: every GPU of the node goes quiet for a few minutes
            g = self.r.u(n.start + HOUR, self.win.end - HOUR)
            n.gaps.append((g, g + self.r.u(2, 8) * MIN))
        self.nodes.append(n)
        return n

    def gpu(self, node: Node) -> Device:
        d = Device(node, self.r.uuid("GPU"), None, None, GPU_MODELS[node.model][1], node.price)
        self.exporter_gaps(d)
        self.devices.append(d)
        return d

    def mig(self, parent: Device, profile: str) -> Device:
        compute = int(profile[0])
        mem = float(profile.split(".")[1].rstrip("gb"))
        d = Device(parent.node, parent.gpu_uuid, self.r.uuid("MIG"), profile, mem,
                   round(parent.price * compute / 7, 3))
        self.exporter_gaps(d)
        self.devices.append(d)
        return d

    def exporter_gaps(self, d: Device) -> None:
        for _ in range(self.r.i(0, 3)):    # a missed scrape or a collector hiccup: 1-6 minutes without samples
            g = self.r.u(d.node.start + 10 * MIN, self.win.end - 10 * MIN)
            d.gaps.append((g, g + self.r.u(1, 6) * MIN))

    def job_wl(self, kind: str = "training", team: str | None = None, name: str | None = None) -> Workload:
        self.jobs += 1
        team = team or self.r.pick(TEAMS)
        name = name or f"{self.r.pick(JOB_NAMES)}-{self.r.hexid(5)}"
        return workload(f"{team}/{name}", kind, team)

    def pid(self) -> int:
        return self.r.i(1000, 4_000_000)

    def when(self, dur: float, lo_frac: float = 0.15, margin: float = 30 * MIN, t0: float | None = None) -> float:
        """A start time for a problem lasting ``dur``: after some history, ending before the stream does."""
        a = (t0 if t0 is not None else self.win.gpu_start) + max(lo_frac * self.win.days * DAY, 3 * HOUR)
        b = self.win.end - dur - margin
        return self.r.u(a, max(a, b))

    def truth_idle(self, d: Device, scenario: str, wl: Workload | None, a: float, b: float, **more: Any) -> None:
        self.book.add_truth("idle", scenario, d.resource, wl["id"] if wl else None, a, b, (b - a) / HOUR,
                            price=d.price, **more)

    def restart(self, d: Device, t: float, lo_min: float, hi_min: float) -> float:
        """The job is killed and resubmitted: the GPU is unallocated for a few minutes from ``t``; returns when the
        next job starts (the end of the idle stretch)."""
        b = t + self.r.u(lo_min, hi_min) * MIN
        d.segs = overlay(d.segs, Seg(t, b, UNALLOC, None))
        return b

    def benign(self, d: Device, phenomenon: str, wl: Workload | None, **more: Any) -> None:
        self.book.add_benign(phenomenon, d.resource, wl["id"] if wl else None, **more)

    # ------------------------------------------------------------------ timelines
    def pool_line(self, t0: float, end: float, long_gap_at: float | None = None,
                  long_gap: float = 0.0) -> tuple[list[Seg], tuple[float, float] | None]:
        """Jobs back to back on a shared pool GPU; unallocated for a few minutes between jobs.

        Durations log-normal (median 1.5 h, sigma 1.0, 10 min-20 h: Philly/Helios); scheduling gaps log-normal
        (median 4 min, sigma 0.8, at most 25 min). ``long_gap_at``: the first gap after it lasts ``long_gap``.
        """
        ln, long_span = Line(t0, end), None
        first = True
        while not ln.done:
            wl = self.job_wl()
            dur = self.r.lognorm(1.5 * HOUR, 1.0, 10 * MIN, 20 * HOUR)
            mem, lo = self.r.u(0.35, 0.95), self.r.u(55, 85)
            pid = (self.pid(),)
            if not first:
                ln.add(self.r.u(1, 4) * MIN, BUSY, wl, mem * 0.5, 5, 25, pids=pid)   # start-up: loading data
            dur *= self.r.u(0.1, 1.0) if first else 1.0
            if long_gap_at is not None and long_span is None and ln.t < long_gap_at:
                # this job ends when the long unallocated spell begins
                dur = min(dur, long_gap_at - ln.t)
            ln.add(dur, BUSY, wl, mem, lo, min(99.0, lo + 15), pids=pid)
            first = False
            if long_gap_at is not None and long_span is None and ln.t >= long_gap_at:
                long_span = ln.add(long_gap, UNALLOC, None)
            else:
                ln.add(self.r.lognorm(4 * MIN, 0.8, 0.5 * MIN, 25 * MIN), UNALLOC, None)
        return ln.segs, long_span

    def steady_line(self, t0: float, end: float, wl: Workload, lo: float, hi: float, mem: float) -> list[Seg]:
        ln = Line(t0, end)
        ln.add(end - t0, BUSY, wl, mem, lo, hi, pids=(self.pid(),))
        return ln.segs

    def ddp(self, ranks: int, t0: float, end: float, wl: Workload, ckpt_every: float, ckpt_len: float,
            eval_every: float | None, eval_len: float) -> list[list[Seg]]:
        """A data-parallel job on ``ranks`` GPUs: busy, with checkpoint pauses (every rank waits) and evaluation
        pauses (rank 0 evaluates, the other ranks wait at a barrier)."""
        mem = self.r.u(0.6, 0.93)
        lo = self.r.u(70, 88)
        pids = [(self.pid(),) for _ in range(ranks)]
        lines = [[Seg(t0, end, BUSY, wl, mem, lo, min(99.5, lo + 12), pids=pids[k])] for k in range(ranks)]
        t = t0 + self.r.u(0, ckpt_every)
        while t < end:
            p = ckpt_len * self.r.u(0.7, 1.3)
            for k in range(ranks):
                lines[k] = overlay(lines[k], Seg(t, min(t + p, end), PAUSE, wl, mem, pids=pids[k]))
            t += ckpt_every * self.r.u(0.92, 1.08)
        if eval_every:
            t = t0 + self.r.u(0.3, 0.7) * ckpt_every
            while t < end:
                v = eval_len * self.r.u(0.7, 1.3)
                if not any(s.state == PAUSE and s.a < t + v + 2 * MIN and s.b > t - 2 * MIN for s in lines[1]):
                    lines[0] = overlay(lines[0], Seg(t, min(t + v, end), BUSY, wl, mem, 35, 85, pids=pids[0]))
                    for k in range(1, ranks):
                        lines[k] = overlay(lines[k], Seg(t, min(t + v, end), PAUSE, wl, mem, pids=pids[k]))
                t += eval_every * self.r.u(0.9, 1.1)
        return lines

    def traffic(self, peak_util: float, night_util: float, peak_h: float, weekend: float) -> Load:
        """A diurnal request load as a share of peak utilisation (never below the night level)."""
        trough = night_util / peak_util
        kappa = self.r.u(1.0, 2.5)

        def load(t: np.ndarray) -> np.ndarray:
            h = (t % DAY) / HOUR
            wd = (np.floor(t / DAY).astype(np.int64) + 3) % 7
            day = ((1 + np.cos(2 * np.pi * (h - peak_h) / 24)) / 2) ** kappa
            lvl = trough + (1 - trough) * day * np.where(wd >= 5, weekend, 1.0)
            return np.asarray(peak_util * np.maximum(lvl, trough))
        return load

    def endpoint_line(self, t0: float, end: float, wl: Workload, mem: float, load: Load) -> list[Seg]:
        return [Seg(t0, end, INFER, wl, mem, load=load, pids=(self.pid(),))]

    def batch_line(self, t0: float, end: float, wl: Workload, style: str, gap_med: float, gap_sigma: float,
                   job_med: float, long_at: float | None,
                   long_gap: float) -> tuple[list[Seg], tuple[float, float] | None, float]:
        """A batch-queue worker: jobs (log-normal, median ``job_med``) separated by gaps log-normal around
        ``gap_med`` (at least 15 min, at most 3x the median). ``style``: ``keep`` (the worker keeps its model
        loaded between jobs), ``free`` (memory released), ``cron`` (each job a fresh pod of the same CronJob)."""
        ln, long_span = Line(t0, end), None
        mem = self.r.u(0.35, 0.6)
        wpid = self.pid()
        gap_max = 3 * gap_med
        while not ln.done:
            pid = wpid if style == "keep" else self.pid()
            dur = self.r.lognorm(job_med, 0.6, 3 * MIN, 3 * HOUR)
            if long_at is not None and long_span is None and ln.t < long_at:
                dur = min(dur, max(long_at - ln.t, 3 * MIN))
            ln.add(dur, BUSY, wl, self.r.u(mem, 0.9), 50, 96, pids=(pid,))
            is_long = long_at is not None and long_span is None and ln.t >= long_at
            gap = long_gap if is_long else self.r.lognorm(gap_med, gap_sigma, 15 * MIN, gap_max)
            if style == "keep":
                span = ln.add(gap, HELD, wl, mem, pids=(wpid,))
            else:
                span = ln.add(gap, EMPTY, wl)
            if is_long:
                long_span = span
        return ln.segs, long_span, gap_max

    # ------------------------------------------------------------------ the fleet
    def build(self) -> list[Device]:
        w = self.win
        t0, end = w.gpu_start, w.end
        r = self.r

        # N1: one 8-GPU pre-training job, checkpoint and evaluation pauses
        n1 = self.node("dgx-h100-01", "H100", (30,), True, 0.0)
        wl = self.job_wl(team="research", name="llm-pretrain-7b")
        ck_every, ck_len = r.u(30, 120) * MIN, r.u(2, 6) * MIN
        ranks = self.ddp(8, t0, end, wl, ck_every, ck_len, r.u(2, 4) * HOUR, r.u(3, 8) * MIN)
        for k in range(8):
            d = self.gpu(n1)
            d.segs = ranks[k]
            self.benign(d, "training_checkpoint_pauses", wl, every_min=round(ck_every / MIN, 1),
                        pause_min=round(ck_len / MIN, 1))
            self.benign(d, "eval_pauses" if k else "eval_on_rank0", wl)

        # N2: a 4-GPU job with a straggler rank, a busy-waiting 2-GPU job, a hung job, a job done but allocated
        n2 = self.node("dgx-h100-02", "H100", (15, 30, 30), True, 0.0)
        wl4 = self.job_wl(team="vision", name="detr-train")
        four = self.ddp(4, t0, end, wl4, r.u(40, 90) * MIN, r.u(2, 5) * MIN, None, 0)
        dur = r.u(40, 180) * MIN
        s = self.when(dur)
        lag = r.i(1, 3)
        devs = [self.gpu(n2) for _ in range(4)]
        for k, d in enumerate(devs):
            d.segs = four[k]
            self.benign(d, "training_checkpoint_pauses", wl4)
        hold = r.p(0.6)
        mem_k = four[lag][0].mem
        devs[lag].segs = overlay(devs[lag].segs, Seg(s, s + dur, HELD if hold else EMPTY, wl4,
                                                     mem_k if hold else 0.0, pids=four[lag][0].pids if hold else ()))
        restart = r.u(1, 5) * MIN
        for d in devs:   # somebody notices and restarts the job: all ranks a few minutes unallocated
            d.segs = overlay(d.segs, Seg(s + dur, s + dur + restart, UNALLOC, None))
        self.truth_idle(devs[lag], "straggler", wl4, s, s + dur + restart, rank=lag)

        wl2 = self.job_wl(team="recsys", name="dlrm-train")
        two = self.ddp(2, t0, end, wl2, r.u(45, 100) * MIN, r.u(2, 5) * MIN, None, 0)
        dur = r.u(1, 3) * HOUR
        s = self.when(dur)
        for k in range(2):
            d = self.gpu(n2)
            d.segs = overlay(two[k], Seg(s, s + dur, SPIN, wl2, two[k][0].mem, pids=two[k][0].pids))
            b = self.restart(d, s + dur, 1, 5)
            self.benign(d, "training_checkpoint_pauses", wl2)
            self.truth_idle(d, "busy_wait", wl2, s, b)

        d = self.gpu(n2)   # long hang, memory held
        wlh = self.job_wl(team="nlp", name="t5-finetune")
        d.segs = self.steady_line(t0, end, wlh, 72, 97, r.u(0.6, 0.9))
        dur = r.u(4, 8) * HOUR
        s = self.when(dur)
        d.segs = overlay(d.segs, Seg(s, s + dur, HELD, wlh, d.segs[0].mem, pids=d.segs[0].pids))
        self.truth_idle(d, "hung_job", wlh, s, self.restart(d, s + dur, 1, 6), variant="long")
        self.benign(d, "steady_training", wlh)

        d = self.gpu(n2)   # the job finished, the pod stays (memory released, still allocated)
        wld = self.job_wl(team="speech", name="whisper-ft")
        d.segs = self.steady_line(t0, end, wld, 65, 95, r.u(0.5, 0.85))
        dur = r.u(1, 4) * HOUR
        s = self.when(dur)
        d.segs = overlay(d.segs, Seg(s, s + dur, EMPTY, wld))
        self.truth_idle(d, "job_done_allocated", wld, s, self.restart(d, s + dur, 1, 6))
        self.benign(d, "steady_training", wld)

        # N3: batch queues (three queues, each its own gap distribution), pool GPUs, a short hang
        n3 = self.node("hgx-a100-01", "A100", (30, 60), True, r.u(0.05, 0.15))
        queues = [("keep", 2), ("free", 1), ("cron", 1)]
        long_q = r.i(0, 3)   # which of the four queue GPUs gets the abnormally long gap
        qi = 0
        for qn, (style, count) in enumerate(queues):
            team = r.pick(("search", "data", "risk", "ads"))
            name = ("embed-backfill", "ocr-extract", "nightly-scoring")[qn] + "-workers"
            wq = workload(f"{team}/{name}", "batch", team, queue=name)
            gap_med = r.u(18, 60) * MIN
            gap_sigma = r.u(0.3, 0.7)
            job_med = r.u(8, 40) * MIN
            for _ in range(count):
                d = self.gpu(n3)
                is_long = qi == long_q
                long_gap = max(r.u(5, 10) * gap_med, r.u(2.0, 3.0) * 3 * gap_med) if is_long else 0.0
                long_at = self.when(long_gap, lo_frac=0.4) if is_long else None
                d.segs, span, gap_max = self.batch_line(t0, end, wq, style, gap_med, gap_sigma, job_med, long_at,
                                                        long_gap)
                self.benign(d, "batch_queue_gaps", wq, queue=name, style=style,
                            gap_median_min=round(gap_med / MIN, 1), gap_max_min=round(gap_max / MIN, 1))
                if span is not None:
                    self.truth_idle(d, "batch_long_gap", wq, span[0], span[1],
                                    ratio_to_median=round((span[1] - span[0]) / gap_med, 2), style=style)
                qi += 1
        long_pool = r.i(0, 2)
        for k in range(3):
            d = self.gpu(n3)
            dur = r.u(2, 6) * HOUR
            at = self.when(dur, lo_frac=0.3) if k == long_pool else None
            d.segs, span = self.pool_line(t0, end, at, dur)
            self.benign(d, "pool_scheduling_gaps", None)
            if span is not None:
                self.truth_idle(d, "unallocated", None, span[0], span[1])
        d = self.gpu(n3)   # a single-GPU job without routine gaps hangs for half an hour, then is restarted
        wls = self.job_wl(team="risk", name="gnn-fraud")
        d.segs = self.steady_line(t0, end, wls, 60, 92, r.u(0.5, 0.8))
        dur = r.u(30, 50) * MIN
        s = self.when(dur)
        d.segs = overlay(d.segs, Seg(s, s + dur, HELD, wls, d.segs[0].mem, pids=d.segs[0].pids))
        self.truth_idle(d, "hung_job", wls, s, self.restart(d, s + dur, 1, 4), variant="short")
        self.benign(d, "steady_training", wls)

        # N4: inference endpoints with daily cycles; one busy endpoint drained to zero for a while
        n4 = self.node("l40s-01", "L40S", (20, 30), True, 0.0)
        eps = [("serving/search-rerank", "search", 3), ("serving/asr-stream", "speech", 2),
               ("serving/recsys-ranker", "recsys", 1), ("serving/moderation", "trust", 1)]
        drained = r.i(0, 6)
        k = 0
        for wid, team, reps in eps:
            wl = workload(wid, "inference", team)
            peak_h = r.u(12, 20)
            load = self.traffic(r.u(45, 85), r.u(5, 12), peak_h, r.u(0.6, 0.95))
            mem = r.u(0.45, 0.8)
            for _ in range(reps):
                d = self.gpu(n4)
                d.segs = self.endpoint_line(t0, end, wl, mem, load)
                self.benign(d, "endpoint_daily_cycle", wl)
                if k == drained:   # traffic moved elsewhere, the replica keeps its model loaded at 0 %
                    dur = r.u(35, 120) * MIN
                    s = self.when(dur)
                    d.segs = overlay(d.segs, Seg(s, s + dur, HELD, wl, mem, pids=d.segs[0].pids))
                    self.truth_idle(d, "endpoint_drained", wl, s, s + dur)
                k += 1
        d = self.gpu(n4)
        wle = self.job_wl("batch", team="search", name="embed-refresh")
        d.segs = self.steady_line(t0, end, wle, 40, 90, r.u(0.3, 0.7))
        self.benign(d, "steady_batch", wle)

        # N5: two MIG-partitioned H100s (endpoints, notebooks, a batch job), a 2-GPU job, a medium hang, pool GPUs
        n5 = self.node("h100-mig-01", "H100", (30,), True, 0.0)
        g0, g1 = self.gpu(n5), self.gpu(n5)
        self.devices.remove(g0)
        self.devices.remove(g1)
        s3 = self.mig(g0, "3g.40gb")
        wl = workload("serving/llm-small", "inference", "assistant", model="llama-3.1-8b")
        s3.segs = self.endpoint_line(t0, end, wl, r.u(0.7, 0.9), self.traffic(r.u(50, 80), r.u(6, 12), r.u(13, 18),
                                                                               r.u(0.5, 0.9)))
        self.benign(s3, "endpoint_daily_cycle", wl)
        nb = self.mig(g0, "2g.20gb")
        self.notebook(nb)
        emb = self.mig(g0, "2g.20gb")
        wl = self.job_wl("batch", team="search", name="embeddings-backfill")
        emb.segs = self.steady_line(t0, end, wl, 55, 92, r.u(0.4, 0.7))
        self.benign(emb, "steady_batch", wl)
        s4 = self.mig(g1, "4g.40gb")
        wl = workload("serving/intent-classifier", "inference", "product")
        mem = r.u(0.5, 0.8)
        s4.segs = self.endpoint_line(t0, end, wl, mem, self.traffic(r.u(40, 75), r.u(5, 10), r.u(12, 17),
                                                                    r.u(0.6, 0.9)))
        dur = r.u(2, 6) * HOUR
        s = self.when(dur)   # a rollout moved the traffic to a new version; the old replica keeps serving health checks
        s4.segs = overlay(s4.segs, Seg(s, s + dur, TRICKLE, wl, mem, pids=s4.segs[0].pids))
        self.truth_idle(s4, "endpoint_no_traffic", wl, s, s + dur)
        self.benign(s4, "endpoint_daily_cycle", wl)
        s3b = self.mig(g1, "3g.40gb")
        wl = workload("serving/ocr-small", "inference", "docs")
        s3b.segs = self.endpoint_line(t0, end, wl, r.u(0.4, 0.7), self.traffic(r.u(35, 70), r.u(5, 10), r.u(9, 15),
                                                                              r.u(0.3, 0.7)))
        self.benign(s3b, "endpoint_daily_cycle", wl)
        wl2 = self.job_wl(team="ml-platform", name="reward-model")
        two = self.ddp(2, t0, end, wl2, r.u(30, 80) * MIN, r.u(2, 6) * MIN, r.u(2, 5) * HOUR, r.u(3, 7) * MIN)
        for k in range(2):
            d = self.gpu(n5)
            d.segs = two[k]
            self.benign(d, "training_checkpoint_pauses", wl2)
            self.benign(d, "eval_pauses" if k else "eval_on_rank0", wl2)
        d = self.gpu(n5)
        wlm = self.job_wl(team="ads", name="ctr-dnn")
        d.segs = self.steady_line(t0, end, wlm, 70, 96, r.u(0.5, 0.9))
        dur = r.u(1.5, 3) * HOUR
        s = self.when(dur)
        d.segs = overlay(d.segs, Seg(s, s + dur, HELD, wlm, d.segs[0].mem, pids=d.segs[0].pids))
        self.truth_idle(d, "hung_job", wlm, s, self.restart(d, s + dur, 1, 6), variant="medium")
        self.benign(d, "steady_training", wlm)
        for _ in range(3):
            d = self.gpu(n5)
            d.segs, _ = self.pool_line(t0, end)
            self.benign(d, "pool_scheduling_gaps", None)

        # N6: an older 4-GPU node without SM metrics: a monitoring canary, a time-sliced GPU, small endpoints
        n6 = self.node("g5-a10g-01", "A10G", (60,), False, r.u(0.15, 0.35))
        d = self.gpu(n6)
        wl = workload("observability/gpu-canary", "batch", "sre")
        d.segs = [Seg(t0, end, SIDECAR, wl, r.u(0.02, 0.04), pids=(self.pid(),))]
        self.benign(d, "monitoring_sidecar", wl)
        d = self.gpu(n6)
        self.timesliced(d)
        for name in ("serving/translate-small", "serving/embed-api"):
            d = self.gpu(n6)
            wl = workload(name, "inference", r.pick(("docs", "search", "support")))
            d.segs = self.endpoint_line(t0, end, wl, r.u(0.4, 0.8),
                                        self.traffic(r.u(35, 70), r.u(6, 12), r.u(10, 18), r.u(0.5, 0.9)))
            self.benign(d, "endpoint_daily_cycle", wl)
        for d in self.devices:
            if d.node is n6 or d.node is n3:
                self.benign(d, "price_null_samples", None, share=d.node.price_null)

        # N7: a new node joins the fleet; one of its GPUs is allocated and idle from its first sample
        join = t0 + r.u(0.3, 0.6) * w.days * DAY
        n7 = self.node("dgx-h100-03", "H100", (20, 30), True, 0.0, start=join)
        wl4 = self.job_wl(team="ml-platform", name="llm-sft-70b")
        four = self.ddp(4, join + r.u(2, 6) * MIN, end, wl4, r.u(40, 90) * MIN, r.u(2, 5) * MIN, None, 0)
        for k in range(4):
            d = self.gpu(n7)
            d.segs = [Seg(join, four[k][0].a, BUSY, wl4, 0.3, 5, 25, pids=four[k][0].pids)] + four[k]
            self.benign(d, "new_node_busy", wl4)
        for _ in range(3):
            d = self.gpu(n7)
            d.segs, _ = self.pool_line(join, end)
            self.benign(d, "pool_scheduling_gaps", None)
        d = self.gpu(n7)
        wln = workload("eval/llm-eval-harness", "batch", "ml-platform")
        dur = r.u(1, 3) * HOUR
        mem = r.u(0.3, 0.6)
        pid = (self.pid(),)
        d.segs = [Seg(join, join + dur, HELD, wln, mem, pids=pid)] + self.steady_line(join + dur, end, wln, 50, 90, mem)
        self.truth_idle(d, "new_node", wln, join, join + dur)
        self.benign(d, "new_node_no_history", wln)

        # background nodes above the core
        extra = self.gpus - CORE_GPUS
        i = 0
        while extra > 0:
            i += 1
            n = self.node(f"bg-a100-{i:02d}", "A100", (30, 60), True, r.u(0.0, 0.1))
            k = min(8, extra)
            extra -= k
            if i % 2:
                wl = self.job_wl()
                ranks = self.ddp(k, t0, end, wl, r.u(30, 120) * MIN, r.u(2, 6) * MIN, r.u(2, 4) * HOUR,
                                 r.u(3, 8) * MIN)
                for j in range(k):
                    d = self.gpu(n)
                    d.segs = ranks[j]
                    self.benign(d, "training_checkpoint_pauses", wl)
            else:
                for _ in range(k):
                    d = self.gpu(n)
                    d.segs, _ = self.pool_line(t0, end)
                    self.benign(d, "pool_scheduling_gaps", None)
        for d in self.devices:
            self.benign(d, "exporter_gaps", None, gaps=len(d.gaps) + len(d.node.gaps))
        return self.devices

    def notebook(self, d: Device) -> None:
        """A notebook on a MIG slice: a batch job first, a working session, then abandoned for hours with one
        short burst of activity in the middle (somebody re-runs a cell), then culled and the slice reused."""
        r, w = self.r, self.win
        wb = self.job_wl("batch", team="analytics", name="feature-backfill")
        wn = workload(f"notebooks/jhub-{r.pick(('mkowalski', 'apatel', 'lchen', 'jdoe', 'sgarcia'))}", "notebook",
                      "analytics")
        idle = r.u(4, 9) * HOUR
        session = r.u(30, 120) * MIN
        a = self.when(idle + session, lo_frac=0.2) + session
        ln = Line(w.gpu_start, w.end)
        ln.add(a - session - 3 * MIN - w.gpu_start, BUSY, wb, r.u(0.3, 0.6), 50, 90, pids=(self.pid(),))
        ln.add(3 * MIN, UNALLOC, None)
        mem = r.u(0.3, 0.7)
        pid = (self.pid(),)
        while ln.t < a:
            ln.add(min(r.u(2, 12) * MIN, a - ln.t), BUSY, wn, mem, 5, 60, pids=pid)
            if a - ln.t > 9 * MIN:   # thinking between cells; the session ends on activity
                ln.add(r.u(1, 8) * MIN, PAUSE, wn, mem, pids=pid)
        blip_at = a + r.u(0.3, 0.7) * idle
        blip = r.u(2, 6) * MIN
        ln.add(blip_at - a, HELD, wn, mem, pids=pid)
        ln.add(blip, BUSY, wn, mem, 20, 60, pids=pid)
        ln.add(a + idle - ln.t, HELD, wn, mem, pids=pid)
        culled = ln.add(r.u(2, 6) * MIN, UNALLOC, None)[1]
        ln.add(w.end - ln.t, BUSY, wb, r.u(0.3, 0.6), 50, 90, pids=(self.pid(),))
        d.segs = ln.segs
        self.truth_idle(d, "notebook_abandoned", wn, a, culled, blip_at=round(blip_at, 3))
        self.benign(d, "notebook_blip", wn, at=round(blip_at, 3), minutes=round(blip / MIN, 1))

    def timesliced(self, d: Device) -> None:
        """One GPU shared by several pods (time-slicing): each pod works in bursts; the GPU is quiet only for short
        spells between them (at most 12 minutes)."""
        r, w = self.r, self.win
        wl = workload("ml-dev/shared-a10g-pool", "inference", "ml-platform")
        pods = r.i(3, 5)
        pids = [self.pid() for _ in range(pods)]
        active: list[list[tuple[float, float]]] = []
        for _ in range(pods):
            spans, t = [], w.gpu_start + r.u(0, 20) * MIN
            while t < w.end:
                burst = r.u(1, 15) * MIN
                spans.append((t, min(t + burst, w.end)))
                t += burst + r.u(2, 30) * MIN
            active.append(spans)
        cuts = sorted({w.gpu_start, w.end} | {x for sp in active for a, b in sp for x in (a, b)})
        segs: list[Seg] = []
        quiet_since: float | None = None
        for a, b in zip(cuts, cuts[1:], strict=False):
            on = [k for k in range(pods) if any(x <= a < y for x, y in active[k])]
            if not on:
                if quiet_since is None:
                    quiet_since = a
                if b - quiet_since > 12 * MIN:   # a pod's next burst comes earlier: keep quiet spells short
                    on = [int(r.i(0, pods - 1))]
                    quiet_since = None
            else:
                quiet_since = None
            mem = 0.12 * pods
            if on:
                segs.append(Seg(a, b, BUSY, wl, mem, 8 * len(on), min(100.0, 40 * len(on)),
                                pids=tuple(pids[k] for k in on)))
            else:
                segs.append(Seg(a, b, PAUSE, wl, mem, pids=tuple(pids)))
        d.segs = segs
        self.benign(d, "time_sliced", wl, pods=pods)


def _in_gaps(t: np.ndarray, gaps: list[tuple[float, float]]) -> np.ndarray:
    out = np.zeros(len(t), dtype=bool)
    for a, b in gaps:
        out |= (t >= a) & (t < b)
    return out


def emit_samples(devices: list[Device], win: Window, seed: int, stream: Stream) -> float:
    """Write one gpu_sample per device and interval; returns the fleet's GPU-hours (physical GPUs)."""
    g = np.random.default_rng([seed, 11])
    gpu_hours: dict[str, float] = {}
    for d in devices:
        node = d.node
        iv = node.interval
        start = max(node.start, d.segs[0].a)
        n = int((win.end - start) // iv)
        if n <= 0:
            continue
        gpu_hours[d.gpu_uuid] = (win.end - start) / HOUR
        t_end = start + iv * np.arange(1, n + 1)
        mids = t_end - iv / 2
        keep = ~_in_gaps(t_end, d.gaps + node.gaps)
        starts = np.array([s.a for s in d.segs])
        idx = np.clip(np.searchsorted(starts, mids, side="right") - 1, 0, len(d.segs) - 1)
        util = np.zeros(n)
        sm = np.zeros(n)
        memf = np.zeros(n)
        sm_ratio = g.uniform(0.55, 0.85)
        for k, s in enumerate(d.segs):
            sel = np.nonzero(idx == k)[0]
            if not len(sel):
                continue
            m = len(sel)
            if s.state == BUSY:
                u = g.uniform(s.lo, s.hi, m)
                dip = (g.random(m) < 0.01) & (s.lo >= 30)     # data-loader stalls in heavy jobs
                u = np.where(dip, u * g.uniform(0.15, 0.5, m), u)
                util[sel], sm[sel] = u, u * sm_ratio * g.uniform(0.95, 1.05, m)
            elif s.state == PAUSE:
                util[sel] = g.uniform(0, 0.4, m)
                sm[sel] = util[sel] * 0.3
            elif s.state == SPIN:
                util[sel], sm[sel] = g.uniform(97, 100, m), g.uniform(0.05, 0.8, m)
            elif s.state == INFER:
                assert s.load is not None
                u = np.clip(s.load(mids[sel]) * g.lognormal(0, 0.12, m), 0, 100)
                util[sel], sm[sel] = u, u * g.uniform(0.6, 0.85, m)
            elif s.state == TRICKLE:
                util[sel], sm[sel] = g.uniform(0, 1.2, m), g.uniform(0, 0.5, m)
            elif s.state == SIDECAR:
                u = g.uniform(3, 5, m)
                util[sel], sm[sel] = u, u * 0.75
            memf[sel] = s.mem * (1 + g.normal(0, 0.003, m)) if s.mem > 0 else 0.0
        total = int(d.mem_gib * GIB)
        idle_w, max_w = GPU_MODELS[node.model][3]
        jitter = g.uniform(0.05, 1.5, n)
        price_null = g.random(n) < node.price_null
        power = idle_w + (max_w - idle_w) * (util / 100) ** 0.9 * g.uniform(0.85, 1.0, n) + g.normal(0, 3, n) \
            + np.where(memf > 0, 6.0, 0.0)
        for j in np.nonzero(keep)[0]:
            ts = float(t_end[j] + jitter[j])
            if ts >= win.end:
                continue
            s = d.segs[int(idx[j])]
            used = int(min(total, max(0.0, memf[j]) * total))
            wl = None if s.state == UNALLOC else s.wl
            procs: list[dict[str, int]] = []
            if wl is not None and used > 0 and s.pids:
                share = used // len(s.pids)
                procs = [{"pid": p, "used_mem_bytes": share} for p in s.pids]
            ev: dict[str, Any] = {
                "type": "gpu_sample", "ts": round(ts, 3), "node": node.name, "gpu_uuid": d.gpu_uuid,
                "mig_uuid": d.mig_uuid, "gpu_model": node.gpu_model, "interval_s": iv,
                "util_gpu_pct": round(float(min(100.0, max(0.0, util[j]))), 2),
                "sm_active_pct": round(float(min(100.0, max(0.0, sm[j]))), 2) if node.has_sm else None,
                "mem_used_bytes": used, "mem_total_bytes": total,
                "power_w": None if d.mig_uuid else round(float(max(idle_w * 0.8, power[j])), 1),
                "processes": procs, "workload": wl,
                "price_per_hour_usd": None if (price_null[j] and not d.mig_uuid) else d.price,
            }
            if d.profile:
                ev["mig_profile"] = d.profile
            stream.emit(ev)
    return float(sum(gpu_hours.values()))


def is_idle_state(s: Seg) -> bool:
    return s.state in (PAUSE, HELD, EMPTY, UNALLOC, SPIN, TRICKLE)


def build_fleet(seed: int, win: Window, gpus: int, scale: float, book: Book, stream: Stream) -> float:
    fb = FleetBuilder(seed, win, gpus, scale, book)
    devices = fb.build()
    return emit_samples(devices, win, seed, stream)

