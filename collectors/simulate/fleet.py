"""The fleet: GPUs and MIG slices on nodes by role, their timelines, the GPU injections and samples.

Nodes of 8 GPUs, by role, in a fixed cycle: ``mixed`` (H100: three single-GPU batch queues, a
notebook, a monitoring sidecar at 3-5 %, an inference replica and two GPUs split by MIG into
3g.40gb + 2g.20gb + 2g.20gb, each slice its own stream), ``train`` (one distributed training
job per node with a 5-minute checkpoint pause every 45 minutes, and a few minutes between jobs
with nothing allocated), ``infer`` (A100 replicas with a diurnal load, NVML only: no
``sm_active_pct``) and ``batch`` (queues of 20-150 min jobs with short gaps). Also the
workload catalog the other parts bill and train.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from collectors.simulate.config import DAY, GIB, HOUR, MIN
from spendwatch.prices import DEFAULT_GPU_PRICES, PriceConfig

if TYPE_CHECKING:
    from collectors.simulate.builder import Builder

A100, H100 = "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
# $/GPU-hour: the default price table's figures, so waste in the truth and in the anomalies agree
PRICE = {A100: DEFAULT_GPU_PRICES["A100-SXM4-80GB"], H100: DEFAULT_GPU_PRICES["H100"]}
TRAINING_GPU_USD = PriceConfig().training_gpu_usd  # what a training run's GPU-hour costs
MIG_LAYOUT = (("3g.40gb", 3, 40), ("2g.20gb", 2, 20), ("2g.20gb", 2, 20))
ROLE_CYCLE = ("mixed", "train", "infer", "batch")


def workload(wid: str, kind: str, team: str, owner: str | None = None, **labels: str) -> dict[str, Any]:
    """A contract workload object."""
    w: dict[str, Any] = {"id": wid, "kind": kind, "team": team, "owner": owner or f"{team}-oncall@corp.example"}
    if labels:
        w["labels"] = labels
    return w


TRAIN_JOBS = [workload("research/moe-pretrain", "training", "research", cost_centre="cc-4410"),
              workload("nlp/bert-distill", "training", "nlp"),
              workload("vision/detr-pretrain", "training", "vision"),
              workload("recsys/dlrm-train", "training", "recsys"),
              workload("ml-research/llama-lora", "training", "ml"),
              workload("ml-research/sd-finetune", "training", "ml")]
SERVICES = [workload("serving/asr-whisper", "inference", "speech", model="whisper-large-v3"),
            workload("serving/llm-chat", "inference", "assistant", model="llama-3.1-70b"),
            workload("serving/search-embed", "inference", "search", model="e5-large-v2"),
            workload("serving/ads-ranker", "inference", "ads", model="dcn-v2")]
BATCH_JOBS = [workload("data/feature-backfill", "batch", "data"),
              workload("search/embeddings-batch", "batch", "search"),
              workload("risk/xgb-scoring", "batch", "risk"),
              workload("vision/thumbnail-embed", "batch", "vision")]
NOTEBOOK_USERS = ["mkowalski", "aokafor", "jlindqvist", "psharma", "tnguyen", "ebrandt"]
SIDECAR = workload("observability/gpu-canary", "batch", "sre")
SMALL_LLM = workload("serving/llm-small", "inference", "assistant", model="llama-3.1-8b")
EMBED_BACKFILL = workload("batch/embeddings-backfill", "batch", "search")


def notebook(user: str) -> dict[str, Any]:
    return workload(f"notebooks/jhub-{user}", "notebook", "analytics", owner=f"{user}@corp.example")


@dataclass
class GpuStream:
    """One GPU or MIG slice and its timeline arrays (one value per sample slot)."""

    node: str
    gpu_uuid: str
    mig_uuid: str | None
    profile: str | None
    model: str
    mem_gib: int
    price: float
    has_sm: bool
    role: str
    pid: int
    util: Any = None  # numpy arrays, filled by the role timeline then by injections
    sm: Any = None  # NaN = derive from util (a fixed share), when the GPU offers sm_active
    mem: Any = None
    wl: Any = None  # index into the workload table; -1 = nothing allocated

    @property
    def resource(self) -> str:
        return self.mig_uuid or self.gpu_uuid


class GpuSamples:
    """One GPU stream's kept samples as arrays, rendered to JSON lines a time slice at a time.

    Rendering lazily, slice by slice, keeps memory flat: holding half a million small ``bytes``
    objects at once costs more in page faults than serialising them does.
    """

    def __init__(self, base: dict[str, Any], pid: int, total: int, ts: np.ndarray, util: np.ndarray,
                 sm: np.ndarray | None, used: np.ndarray, wl: np.ndarray, power: np.ndarray | None,
                 price: np.ndarray, bad: np.ndarray, seed: int) -> None:
        self.base, self.pid, self.total = base, pid, total
        self.ts, self.util, self.sm, self.used, self.wl, self.power, self.price = ts, util, sm, used, wl, power, price
        self.bad, self.seed = bad, seed

    def render(self, a: int, b: int, table: list[dict[str, Any] | None]) -> list[bytes]:
        dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        base, pid, total = self.base, self.pid, self.total
        n = b - a
        ts, util, used, wl = (self.ts[a:b].tolist(), self.util[a:b].tolist(), self.used[a:b].tolist(),
                              self.wl[a:b].tolist())
        sm = self.sm[a:b].tolist() if self.sm is not None else [None] * n
        power = self.power[a:b].tolist() if self.power is not None else [None] * n
        price = [None if p != p else p for p in self.price[a:b].tolist()]  # NaN -> null: not reported
        out = []
        procs_cache: dict[int, list[dict[str, int]]] = {}
        for i in range(n):
            w = table[wl[i]]
            u = used[i]
            if w is not None and u:
                procs = procs_cache.get(u)
                if procs is None:
                    procs = procs_cache[u] = [{"pid": pid, "used_mem_bytes": u}]
            else:
                procs = []
            ev = base.copy()
            ev["ts"] = ts[i]
            ev["util_gpu_pct"] = util[i]
            ev["sm_active_pct"] = sm[i]
            ev["mem_used_bytes"] = u
            ev["mem_total_bytes"] = total
            ev["power_w"] = power[i]
            ev["processes"] = procs
            ev["workload"] = w
            ev["price_per_hour_usd"] = price[i]
            out.append(dumps(ev, option=opt))
        for i in np.flatnonzero(self.bad[a:b]).tolist():
            out[i] = _junk(out[i], random.Random(self.seed * 1_000_003 + a + i)) + b"\n"
        return out


def _junk(line: bytes, g: random.Random) -> bytes:
    """A malformed version of one gpu_sample line, like a broken exporter or proxy would send."""
    line = line.rstrip(b"\n")
    ev = orjson.loads(line)
    kind = g.randrange(6)
    if kind == 0:
        return line[:g.randint(15, len(line) - 5)]  # cut off mid-object
    if kind == 1:
        return g.choice([b'"gpu_sample"', b"42", b"null", b"[1,2]"])  # not an object
    if kind == 2:
        return orjson.dumps(dict(ev, util_gpu_pct=130.0))  # percent > 100
    if kind == 3:
        return orjson.dumps(dict(ev, mem_used_bytes=-GIB))  # negative bytes
    if kind == 4:
        return orjson.dumps({"type": "gpu_xid_event", "ts": ev["ts"], "node": ev["node"], "xid": 79})
    return orjson.dumps({k: v for k, v in ev.items() if k != "workload"})  # workload missing


# ------------------------------------------------------------------ fleet
def build_fleet(sb: Builder) -> None:
    cfg = sb.cfg
    pid = 4000
    nodes = math.ceil(cfg.gpus / 8)
    left = cfg.gpus
    for k in range(nodes):
        role = ROLE_CYCLE[k % len(ROLE_CYCLE)]
        model = H100 if role == "mixed" or (role == "train" and k % 8 == 5) else A100
        name = f"{'hgx-h100' if model == H100 else 'dgx-a100'}-{k + 1:02d}"
        has_sm = role != "infer"  # the inference pool runs plain NVML exporters
        count, left = min(8, left), left - min(8, left)
        rng = np.random.default_rng([cfg.seed, k, 1])
        if role == "train":
            plan = _train_plan(sb, rng, k)
        for g in range(count):
            gpu = sb.uuid("GPU")
            if role == "mixed" and g >= 6:
                for j, (prof, slices, gib) in enumerate(MIG_LAYOUT):
                    pid += 1
                    sub = ("infer-small", "notebook", "embed")[j]
                    s = GpuStream(name, gpu, sb.uuid("MIG"), prof, model, gib,
                                round(PRICE[model] * slices / 7, 4), True, sub, pid)
                    _timeline(sb, s, np.random.default_rng([cfg.seed, k, g, j, 2]), k * 8 + g)
                continue
            pid += 1
            sub = role
            if role == "mixed":
                sub = ("batch", "batch", "batch", "notebook", "sidecar", "infer")[g]
            s = GpuStream(name, gpu, None, None, model, 80, PRICE[model], has_sm, sub, pid)
            if role == "train":
                _train_fill(sb, s, np.random.default_rng([cfg.seed, k, g, 3]), plan)
                sb.streams.append(s)
            else:
                _timeline(sb, s, np.random.default_rng([cfg.seed, k, g, 4]), k * 8 + g)


def _train_plan(sb: Builder, rng: np.random.Generator, k: int) -> list[tuple[int, int, int, float]]:
    """Jobs on one training node: (first slot, end slot, workload, checkpoint phase s)."""
    plan, pos, j = [], 0, k // 4
    step = sb.cfg.interval_s
    while pos < sb.n:
        length = int(rng.uniform(6, 30) * HOUR / step)
        w = sb.wl_id(TRAIN_JOBS[(k + j) % len(TRAIN_JOBS)])
        plan.append((pos, min(sb.n, pos + length), w, float(rng.uniform(0, 45 * MIN))))
        pos += length + int(rng.uniform(3, 8) * MIN / step)  # the scheduler's gap: nothing allocated
        j += 1
    return plan


def _blank(sb: Builder, s: GpuStream) -> None:
    n = sb.n
    s.util, s.sm, s.mem = np.zeros(n), np.full(n, np.nan), np.zeros(n)
    s.wl = np.full(n, -1, dtype=np.int64)


def _train_fill(sb: Builder, s: GpuStream, rng: np.random.Generator, plan: list[tuple[int, int, int, float]]) -> None:
    _blank(sb, s)
    n, t = sb.n, sb.t_rel
    busy = rng.uniform(74, 96, n)
    pause = rng.uniform(0, 0.6, n)
    for a, b, w, phase in plan:
        in_pause = ((t[a:b] - t[a] + phase) % (45 * MIN)) < 5 * MIN  # checkpoint write: GPU waits on I/O
        s.util[a:b] = np.where(in_pause, pause[a:b], busy[a:b])
        s.mem[a:b] = 0.78
        s.wl[a:b] = w


def _timeline(sb: Builder, s: GpuStream, rng: np.random.Generator, idx: int) -> None:
    _blank(sb, s)
    n, step = sb.n, sb.cfg.interval_s
    role = s.role
    if role in ("infer", "infer-small"):
        w = SERVICES[(idx // 2) % len(SERVICES)] if role == "infer" else SMALL_LLM
        hour = ((sb.S + sb.t_rel) % DAY) / HOUR
        base, peak = rng.uniform(35, 55), rng.uniform(13, 18)
        load = base * (1 + 0.6 * np.cos(2 * np.pi * (hour - peak) / 24)) + rng.normal(0, 3, n)
        s.util[:] = np.maximum(6.0, load)  # replicas never drain fully: health checks, warm traffic
        s.mem[:] = rng.uniform(0.3, 0.5) if role == "infer" else 0.82
        s.wl[:] = sb.wl_id(w)
    elif role == "notebook":
        user = NOTEBOOK_USERS[idx % len(NOTEBOOK_USERS)]
        s.util[:] = rng.uniform(4, 45, n)
        s.sm[:] = s.util * rng.uniform(0.7, 0.9, n)
        s.mem[:] = 0.25
        s.wl[:] = sb.wl_id(notebook(user))
    elif role == "sidecar":
        s.util[:] = rng.uniform(3, 5, n)  # a monitoring canary: light but real use
        s.sm[:] = s.util * rng.uniform(0.85, 0.95, n)
        s.mem[:] = 0.03
        s.wl[:] = sb.wl_id(SIDECAR)
    elif role == "embed":
        s.util[:] = rng.uniform(55, 90, n)
        s.mem[:] = 0.6
        s.wl[:] = sb.wl_id(EMBED_BACKFILL)
    else:  # batch: a queue of single-GPU jobs with short scheduling gaps
        pos = -int(rng.uniform(0, 60) * MIN / step)
        busy = rng.uniform(60, 95, n)
        j = int(rng.integers(0, len(BATCH_JOBS)))
        while pos < n:
            a, b = max(0, pos), min(n, pos + int(rng.uniform(20, 150) * MIN / step))
            if b > a:
                s.util[a:b] = busy[a:b]
                s.mem[a:b] = rng.uniform(0.4, 0.85)
                s.wl[a:b] = sb.wl_id(BATCH_JOBS[j % len(BATCH_JOBS)])
            pos = b + int(rng.uniform(1, 8) * MIN / step)
            j += 1
    sb.streams.append(s)


def _pick(sb: Builder, roles: tuple[str, ...], used: set[str], need_sm: bool = False,
          count: int = 1) -> list[GpuStream]:
    """Streams to inject into: the first roles that exist, deterministic, never reused."""
    for role in roles:
        cands = [s for s in sb.streams if s.role == role and s.resource not in used
                 and (s.has_sm or not need_sm)]
        if len(cands) >= count:
            picked = cands[:count] if role == "train" else sb.r.sample(cands, count)
            used.update(s.resource for s in picked)
            return picked
    cands = [s for s in sb.streams if s.resource not in used and (s.has_sm or not need_sm)]
    picked = cands[:count]
    used.update(s.resource for s in picked)
    return picked


def inject_gpus(sb: Builder) -> None:
    inj, used, r = sb.cfg.inject, set[str](), sb.r
    if "idle" in inj:  # a notebook nobody touches: kernel alive, a little memory, no compute
        for s in _pick(sb, ("notebook",), used):
            a, b = sb.window(0.1, 0.3, 5, 9)
            i, j = sb.slot(a), sb.slot(b)
            s.util[i:j], s.sm[i:j], s.mem[i:j] = 0.0, np.random.default_rng(sb.cfg.seed).uniform(
                0, 0.15, j - i), 0.10
            sb.add_truth("idle", s.resource, sb.workloads[int(s.wl[i])], sb.S + i * sb.cfg.interval_s,
                           sb.S + j * sb.cfg.interval_s, s.price)
    if "hoarding" in inj:  # a hung job: memory stays, compute stops
        for s in _pick(sb, ("batch",), used):
            a, b = sb.window(0.2, 0.5, 2, 3)
            i, j = sb.slot(a), sb.slot(b)
            w = int(s.wl[i]) if s.wl[i] >= 0 else sb.wl_id(BATCH_JOBS[0])
            s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = 0.0, 0.0, 0.70, w
            _busy_after(sb, s, j, w)
            sb.add_truth("hoarding", s.resource, sb.workloads[w], sb.S + i * sb.cfg.interval_s,
                           sb.S + j * sb.cfg.interval_s, s.price)
    if "busywait" in inj:  # two ranks spin in a collective on a dead peer: util ~100, SMs idle
        a, b = sb.window(0.3, 0.6, 1.5, 2.5)
        for s in _pick(sb, ("train",), used, need_sm=True, count=2):
            i, j = sb.slot(a), sb.slot(b)
            g = np.random.default_rng([sb.cfg.seed, i, 7])
            w = int(s.wl[i]) if s.wl[i] >= 0 else sb.wl_id(TRAIN_JOBS[3])
            s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = g.uniform(98, 100, j - i), \
                g.uniform(0.05, 0.8, j - i), 0.86, w
            _busy_after(sb, s, j, w)
            sb.add_truth("busywait", s.resource, sb.workloads[w], sb.S + i * sb.cfg.interval_s,
                           sb.S + j * sb.cfg.interval_s, s.price)
    if "unallocated" in inj:  # the job ended, nothing was scheduled on the GPU for hours
        for s in _pick(sb, ("batch", "train", "infer"), used):
            a, b = sb.window(0.05, 0.3, 4, 6)
            i, j = sb.slot(a), sb.slot(b)
            s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = 0.0, 0.0, 0.0, -1
            _busy_after(sb, s, j, sb.wl_id(BATCH_JOBS[r.randrange(len(BATCH_JOBS))]))
            sb.add_truth("unallocated", s.resource, None, sb.S + i * sb.cfg.interval_s,
                           sb.S + j * sb.cfg.interval_s, s.price)


def _busy_after(sb: Builder, s: GpuStream, j: int, w: int) -> None:
    """After an injected stretch the next job starts at once (so the truth end is sharp)."""
    k = min(sb.n, j + int(30 * MIN / sb.cfg.interval_s))
    s.util[j:k] = np.maximum(s.util[j:k], 70.0)
    s.sm[j:k] = np.nan
    s.mem[j:k] = np.maximum(s.mem[j:k], 0.5)
    s.wl[j:k] = np.where(s.wl[j:k] >= 0, s.wl[j:k], w)


def gpu_samples(sb: Builder) -> None:
    cfg = sb.cfg
    step = cfg.interval_s
    jitter_hi = min(2.0, step / 4)  # keeps each stream's samples in ts order
    for k, s in enumerate(sb.streams):
        g = np.random.default_rng([cfg.seed, k, 5])
        n = sb.n
        keep = np.ones(n, dtype=bool)
        if g.random() < 0.25:  # an exporter restart: a few minutes without samples
            a = int(g.integers(0, n))
            keep[a:a + int(g.uniform(2, 5) * MIN / step)] = False
        util = np.clip(s.util, 0, 100)
        if s.has_sm:
            derived = util * g.uniform(0.6, 0.8, n)
            sm_arr = np.clip(np.where(np.isnan(s.sm), derived, s.sm), 0, 100)
        else:
            sm_arr = util
        total = s.mem_gib * GIB
        used = (total * np.clip(s.mem, 0, 1)).astype(np.int64)
        ts = np.round(sb.S + sb.t_rel + step + g.uniform(0.1 * jitter_hi / 2, jitter_hi, n), 3)
        power = None
        if s.mig_uuid is None:  # NVML reports no power per MIG instance
            power = np.round(np.maximum(0.0, 58 + 3.1 * sm_arr + np.where(used > 0, 25, 0)
                                        + g.normal(0, 4, n)), 1)[keep]
        price = np.full(n, s.price)
        if s.model == A100 and s.mig_uuid is None:
            price[g.random(n) < 0.1] = np.nan  # some exporters do not know the price: null
        bad = g.random(n) < cfg.bad_fraction if cfg.bad_fraction > 0 else np.zeros(n, dtype=bool)
        base: dict[str, Any] = {"type": "gpu_sample", "ts": 0.0, "node": s.node, "gpu_uuid": s.gpu_uuid,
                                "mig_uuid": s.mig_uuid, "gpu_model": s.model, "interval_s": step}
        if s.profile:
            base["mig_profile"] = s.profile
        src = GpuSamples(base, s.pid, total, ts[keep], np.round(util, 2)[keep],
                       np.round(sm_arr, 2)[keep] if s.has_sm else None, used[keep], s.wl[keep], power,
                       price[keep], bad[keep], cfg.seed * 1000 + k)
        sb.samples.append(src)
        nbad = int(src.bad.sum())
        sb.bad += nbad
        sb.counts["gpu_sample"] = sb.counts.get("gpu_sample", 0) + len(src.ts) - nbad
