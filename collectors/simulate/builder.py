"""A fleet simulator: a realistic contract event stream with optional injected problems.

:func:`simulate` builds, for one seed, the four input event types of ``shared/CONTRACT.md``
sorted by ``ts``, plus the *truth*: the problems it injected (kind, resource, workload, start,
end). The demo, the tests and the benches use it; users use it to try settings before pointing
spendwatch at a real fleet (``spendwatch simulate --hours 24 | spendwatch replay -``).

The fleet
    Nodes of 8 GPUs, by role, in a fixed cycle: ``mixed`` (H100: three single-GPU batch queues,
    a notebook, a monitoring sidecar at 3-5 %, an inference replica and two GPUs split by MIG
    into 3g.40gb + 2g.20gb + 2g.20gb, each slice its own stream), ``train`` (one distributed
    training job per node with a 5-minute checkpoint pause every 45 minutes, and a few minutes
    between jobs with nothing allocated), ``infer`` (A100 replicas with a diurnal load, NVML
    only: no ``sm_active_pct``) and ``batch`` (queues of 20-150 min jobs with short gaps).
    Samples arrive every ``interval_s`` (default 15 s) with a little jitter; a quarter of the
    streams lose a few minutes of samples once (exporter restarts); ~10 % of A100 samples
    carry no price (the detector keeps the last one).

Billing
    Hourly rows per workload, landing 4-15 min after the hour closes, starting
    ``billing_days`` (default 14) before the telemetry window so cost baselines have history:
    the fleet's GPU-metered workloads, LLM token spend (an input and an output row per period),
    a managed endpoint with daily and weekly cycles and a legitimate +40 % ramp, a heavy-tailed
    (lognormal) analytics workload and a large pre-training pool.

Training runs and model observations
    Two healthy nightly retrains on fresh data with an improving metric (over the whole billing
    history), a one-off 64-GPU fine-tune posting hourly progress, and four served models
    reporting 50 values per feature every minute (one with heavy-tailed Student-t features).

Injections (``INJECTIONS``; each adds one or more truth entries)
    ``idle``             a notebook (a MIG slice when there is one) left untouched for hours
    ``hoarding``         a hung single-GPU job holding 70 % of memory at 0 % for 2-3 h
    ``busywait``         two GPUs reading util ~100 % while SM activity is < 1 % (a collective
                         spinning on a dead peer) for 1.5-2.5 h
    ``unallocated``      a GPU with nothing allocated (workload null) for 4-6 h
    ``cost_spike``       LLM token spend x6 for 3 h
    ``level_shift``      a training workload's spend stepping up x1.8 for good
    ``retrain_loop``     a crash loop (failed, retried every ~25 min for 6 h) and hourly
                         scheduled retrains on an unchanged data_version with a flat metric
    ``drift``            one feature's mean moving 2 std over 3 h; another's std tripling
    ``needless_retrain`` a model retrained every 2 h on new data with a flat metric while its
                         inputs stay stable

Durations are scaled down when the window is too short for them. Everything derives from the
seed: the same arguments give byte-identical output.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import orjson

from spendwatch.prices import DEFAULT_GPU_PRICES, PriceConfig

HOUR, MIN, DAY = 3600.0, 60.0, 86400.0
GIB = 2**30
DEFAULT_START = 1_774_310_400.0  # 2026-03-24T00:00:00Z, a Tuesday: fixed so output is reproducible
A100, H100 = "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
# $/GPU-hour: the default price table's figures, so waste in the truth and in the anomalies agree
PRICE = {A100: DEFAULT_GPU_PRICES["A100-SXM4-80GB"], H100: DEFAULT_GPU_PRICES["H100"]}
TRAINING_GPU_USD = PriceConfig().training_gpu_usd  # what a training run's GPU-hour costs
MIG_LAYOUT = (("3g.40gb", 3, 40), ("2g.20gb", 2, 20), ("2g.20gb", 2, 20))
ROLE_CYCLE = ("mixed", "train", "infer", "batch")

INJECTIONS = ("idle", "hoarding", "busywait", "unallocated", "cost_spike", "level_shift", "retrain_loop",
              "drift", "needless_retrain")
# The anomaly kinds a detector may rightly report for each injection.
EXPECTED_KINDS: dict[str, tuple[str, ...]] = {
    "idle": ("idle_gpu",),
    "hoarding": ("gpu_memory_hoarding",),
    "busywait": ("gpu_memory_hoarding", "idle_gpu"),
    "unallocated": ("idle_gpu",),
    "cost_spike": ("cost_spike",),
    "level_shift": ("cost_spike",),
    "retrain_loop": ("retrain_loop",),
    "drift": ("retrain_needed",),
    "needless_retrain": ("retrain_without_drift",),
}


def parse_inject(text: str) -> frozenset[str]:
    """``"all"``, ``"none"`` or a comma-separated list of :data:`INJECTIONS` names."""
    text = text.strip().lower()
    if text in ("all", ""):
        return frozenset(INJECTIONS) if text == "all" else frozenset()
    if text == "none":
        return frozenset()
    names = {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(names - set(INJECTIONS))
    if unknown:
        raise ValueError(f"unknown injection(s) {', '.join(unknown)}; choose from {', '.join(INJECTIONS)}, "
                         f"all or none")
    return frozenset(names)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``gpus`` counts physical GPUs (MIG slices add streams)."""

    hours: float = 24.0
    gpus: int = 32
    seed: int = 1
    inject: frozenset[str] = frozenset(INJECTIONS)
    start: float = DEFAULT_START
    interval_s: float = 15.0
    billing_days: float = 14.0
    bad_fraction: float = 0.0  # share of gpu_sample lines replaced by malformed input

    def __post_init__(self) -> None:
        if self.hours <= 0 or self.gpus < 1 or self.interval_s <= 0 or self.billing_days < 0:
            raise ValueError("hours, gpus and interval_s must be positive, billing_days not negative")
        if not 0.0 <= self.bad_fraction < 1.0:
            raise ValueError("bad_fraction must be in [0, 1)")

    @property
    def end(self) -> float:
        return self.start + self.hours * HOUR


class _Samples:
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


@dataclass
class Simulation:
    """The generated stream, sorted by ts, and the truth: what was injected.

    ``chunks()`` yields the stream as newline-terminated JSON lines, an hour of event time per
    chunk; ``write(out)`` writes it; ``lines`` materialises every line (fine for tests).
    """

    config: SimConfig
    truth: list[dict[str, Any]]
    counts: dict[str, int]
    bad_lines: int
    streams: int
    _samples: list[_Samples] = field(repr=False)
    _other_ts: np.ndarray = field(repr=False)
    _other: list[bytes] = field(repr=False)  # billing, training, observations: newline-terminated
    _table: list[dict[str, Any] | None] = field(repr=False)

    @property
    def total_lines(self) -> int:
        return sum(self.counts.values()) + self.bad_lines

    def chunks(self, slice_s: float = HOUR) -> Iterator[bytes]:
        """The stream in ts order, one slice of event time per chunk of bytes."""
        firsts = [s.ts[0] for s in self._samples if len(s.ts)] + ([self._other_ts[0]] if len(self._other_ts) else [])
        lasts = [s.ts[-1] for s in self._samples if len(s.ts)] + ([self._other_ts[-1]] if len(self._other_ts) else [])
        if not firsts:
            return
        w, hi = math.floor(min(firsts) / slice_s) * slice_s, max(lasts)
        pos = [0] * len(self._samples)
        opos = 0
        while w <= hi:
            w += slice_s
            ts_parts, lines = [], []
            for k, s in enumerate(self._samples):
                b = int(np.searchsorted(s.ts, w, side="left"))
                if b > pos[k]:
                    ts_parts.append(s.ts[pos[k]:b])
                    lines.extend(s.render(pos[k], b, self._table))
                    pos[k] = b
            b = int(np.searchsorted(self._other_ts, w, side="left"))
            if b > opos:
                ts_parts.append(self._other_ts[opos:b])
                lines.extend(self._other[opos:b])
                opos = b
            if lines:
                order = np.argsort(np.concatenate(ts_parts), kind="stable").tolist()
                yield b"".join([lines[i] for i in order])

    def write(self, out: IO[bytes]) -> int:
        """Write the stream as JSON lines; return the number of bytes written."""
        n = 0
        for chunk in self.chunks():
            out.write(chunk)
            n += len(chunk)
        return n

    @property
    def lines(self) -> list[bytes]:
        """Every line, without the newline (materialised: meant for small streams and tests)."""
        return [line for chunk in self.chunks() for line in chunk.split(b"\n")[:-1]]

    def truth_document(self) -> dict[str, Any]:
        c = self.config
        return {"seed": c.seed, "start": c.start, "end": c.end, "hours": c.hours, "gpus": c.gpus,
                "interval_s": c.interval_s, "inject": sorted(c.inject), "events": sum(self.counts.values()),
                "bad_lines": self.bad_lines, "counts": self.counts, "truth": self.truth}


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
class _Stream:
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


class _Builder:
    """Builds one :class:`Simulation`; each part appends (ts, line) pairs."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.r = random.Random(cfg.seed)
        self.S, self.E = cfg.start, cfg.end
        self.n = max(1, int(round(cfg.hours * HOUR / cfg.interval_s)))
        self.t_rel = np.arange(self.n, dtype=np.float64) * cfg.interval_s  # slot starts, seconds from S
        self.ts_parts: list[np.ndarray] = []
        self.lines: list[bytes] = []
        self.truth: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.workloads: list[dict[str, Any] | None] = []
        self._wl_index: dict[str, int] = {}
        self.streams: list[_Stream] = []
        self.samples: list[_Samples] = []
        self.bad = 0

    # ------------------------------------------------------------------ helpers
    def uuid(self, prefix: str) -> str:
        h = f"{self.r.getrandbits(128):032x}"
        return f"{prefix}-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def wl_id(self, w: dict[str, Any]) -> int:
        i = self._wl_index.get(w["id"])
        if i is None:
            i = self._wl_index[w["id"]] = len(self.workloads)
            self.workloads.append(w)
        return i

    def emit(self, events: Iterable[dict[str, Any]]) -> None:
        """Append events that are not GPU samples (their ts sorted later with everything else)."""
        ts = []
        for ev in events:
            ts.append(ev["ts"])
            self.lines.append(orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE))
            self.counts[ev["type"]] = self.counts.get(ev["type"], 0) + 1
        self.ts_parts.append(np.asarray(ts, dtype=np.float64))

    def add_truth(self, kind: str, resource: str | None, wl: dict[str, Any] | None, start: float, end: float,
                  price: float | None = None, **extra: Any) -> None:
        t: dict[str, Any] = {"kind": kind, "expected_kinds": list(EXPECTED_KINDS[kind]), "resource": resource,
                             "workload": wl["id"] if wl else None, "team": wl.get("team") if wl else None,
                             "start": round(start, 3), "end": round(min(end, self.E), 3)}
        if price is not None:
            t["price_per_hour_usd"] = price
            t["expected_waste_usd"] = round((t["end"] - t["start"]) / HOUR * price, 2)
        t.update(extra)
        self.truth.append(t)

    def window(self, lo: float, hi: float, dur_lo: float, dur_hi: float) -> tuple[float, float]:
        """An injection window: starts at a fraction lo..hi of the telemetry window and lasts
        dur_lo..dur_hi hours, shrunk to fit when the window is short."""
        hours = self.cfg.hours
        dur = self.r.uniform(dur_lo, dur_hi)
        scale = min(1.0, 0.55 * hours / dur_hi)
        dur *= scale
        a = self.S + self.r.uniform(lo, hi) * hours * HOUR
        a = min(a, self.E - dur * HOUR)
        return max(self.S, a), min(self.E, a + dur * HOUR)

    def slot(self, t: float) -> int:
        return int(min(self.n, max(0, math.ceil((t - self.S) / self.cfg.interval_s))))

    # -------------------------------------------------------------------- fleet
    def fleet(self) -> None:
        cfg = self.cfg
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
                plan = self._train_plan(rng, k)
            for g in range(count):
                gpu = self.uuid("GPU")
                if role == "mixed" and g >= 6:
                    for j, (prof, slices, gib) in enumerate(MIG_LAYOUT):
                        pid += 1
                        sub = ("infer-small", "notebook", "embed")[j]
                        s = _Stream(name, gpu, self.uuid("MIG"), prof, model, gib,
                                    round(PRICE[model] * slices / 7, 4), True, sub, pid)
                        self._timeline(s, np.random.default_rng([cfg.seed, k, g, j, 2]), k * 8 + g)
                    continue
                pid += 1
                sub = role
                if role == "mixed":
                    sub = ("batch", "batch", "batch", "notebook", "sidecar", "infer")[g]
                s = _Stream(name, gpu, None, None, model, 80, PRICE[model], has_sm, sub, pid)
                if role == "train":
                    self._train_fill(s, np.random.default_rng([cfg.seed, k, g, 3]), plan)
                    self.streams.append(s)
                else:
                    self._timeline(s, np.random.default_rng([cfg.seed, k, g, 4]), k * 8 + g)

    def _train_plan(self, rng: np.random.Generator, k: int) -> list[tuple[int, int, int, float]]:
        """Jobs on one training node: (first slot, end slot, workload, checkpoint phase s)."""
        plan, pos, j = [], 0, k // 4
        step = self.cfg.interval_s
        while pos < self.n:
            length = int(rng.uniform(6, 30) * HOUR / step)
            w = self.wl_id(TRAIN_JOBS[(k + j) % len(TRAIN_JOBS)])
            plan.append((pos, min(self.n, pos + length), w, float(rng.uniform(0, 45 * MIN))))
            pos += length + int(rng.uniform(3, 8) * MIN / step)  # the scheduler's gap: nothing allocated
            j += 1
        return plan

    def _blank(self, s: _Stream) -> None:
        n = self.n
        s.util, s.sm, s.mem = np.zeros(n), np.full(n, np.nan), np.zeros(n)
        s.wl = np.full(n, -1, dtype=np.int64)

    def _train_fill(self, s: _Stream, rng: np.random.Generator, plan: list[tuple[int, int, int, float]]) -> None:
        self._blank(s)
        n, t = self.n, self.t_rel
        busy = rng.uniform(74, 96, n)
        pause = rng.uniform(0, 0.6, n)
        for a, b, w, phase in plan:
            in_pause = ((t[a:b] - t[a] + phase) % (45 * MIN)) < 5 * MIN  # checkpoint write: GPU waits on I/O
            s.util[a:b] = np.where(in_pause, pause[a:b], busy[a:b])
            s.mem[a:b] = 0.78
            s.wl[a:b] = w

    def _timeline(self, s: _Stream, rng: np.random.Generator, idx: int) -> None:
        self._blank(s)
        n, step = self.n, self.cfg.interval_s
        role = s.role
        if role in ("infer", "infer-small"):
            w = SERVICES[(idx // 2) % len(SERVICES)] if role == "infer" else SMALL_LLM
            hour = ((self.S + self.t_rel) % DAY) / HOUR
            base, peak = rng.uniform(35, 55), rng.uniform(13, 18)
            load = base * (1 + 0.6 * np.cos(2 * np.pi * (hour - peak) / 24)) + rng.normal(0, 3, n)
            s.util[:] = np.maximum(6.0, load)  # replicas never drain fully: health checks, warm traffic
            s.mem[:] = rng.uniform(0.3, 0.5) if role == "infer" else 0.82
            s.wl[:] = self.wl_id(w)
        elif role == "notebook":
            user = NOTEBOOK_USERS[idx % len(NOTEBOOK_USERS)]
            s.util[:] = rng.uniform(4, 45, n)
            s.sm[:] = s.util * rng.uniform(0.7, 0.9, n)
            s.mem[:] = 0.25
            s.wl[:] = self.wl_id(notebook(user))
        elif role == "sidecar":
            s.util[:] = rng.uniform(3, 5, n)  # a monitoring canary: light but real use
            s.sm[:] = s.util * rng.uniform(0.85, 0.95, n)
            s.mem[:] = 0.03
            s.wl[:] = self.wl_id(SIDECAR)
        elif role == "embed":
            s.util[:] = rng.uniform(55, 90, n)
            s.mem[:] = 0.6
            s.wl[:] = self.wl_id(EMBED_BACKFILL)
        else:  # batch: a queue of single-GPU jobs with short scheduling gaps
            pos = -int(rng.uniform(0, 60) * MIN / step)
            busy = rng.uniform(60, 95, n)
            j = int(rng.integers(0, len(BATCH_JOBS)))
            while pos < n:
                a, b = max(0, pos), min(n, pos + int(rng.uniform(20, 150) * MIN / step))
                if b > a:
                    s.util[a:b] = busy[a:b]
                    s.mem[a:b] = rng.uniform(0.4, 0.85)
                    s.wl[a:b] = self.wl_id(BATCH_JOBS[j % len(BATCH_JOBS)])
                pos = b + int(rng.uniform(1, 8) * MIN / step)
                j += 1
        self.streams.append(s)

    def _pick(self, roles: tuple[str, ...], used: set[str], need_sm: bool = False, count: int = 1) -> list[_Stream]:
        """Streams to inject into: the first roles that exist, deterministic, never reused."""
        for role in roles:
            cands = [s for s in self.streams if s.role == role and s.resource not in used
                     and (s.has_sm or not need_sm)]
            if len(cands) >= count:
                picked = cands[:count] if role == "train" else self.r.sample(cands, count)
                used.update(s.resource for s in picked)
                return picked
        cands = [s for s in self.streams if s.resource not in used and (s.has_sm or not need_sm)]
        picked = cands[:count]
        used.update(s.resource for s in picked)
        return picked

    def inject_gpus(self) -> None:
        inj, used, r = self.cfg.inject, set[str](), self.r
        if "idle" in inj:  # a notebook nobody touches: kernel alive, a little memory, no compute
            for s in self._pick(("notebook",), used):
                a, b = self.window(0.1, 0.3, 5, 9)
                i, j = self.slot(a), self.slot(b)
                s.util[i:j], s.sm[i:j], s.mem[i:j] = 0.0, np.random.default_rng(self.cfg.seed).uniform(
                    0, 0.15, j - i), 0.10
                self.add_truth("idle", s.resource, self.workloads[int(s.wl[i])], self.S + i * self.cfg.interval_s,
                               self.S + j * self.cfg.interval_s, s.price)
        if "hoarding" in inj:  # a hung job: memory stays, compute stops
            for s in self._pick(("batch",), used):
                a, b = self.window(0.2, 0.5, 2, 3)
                i, j = self.slot(a), self.slot(b)
                w = int(s.wl[i]) if s.wl[i] >= 0 else self.wl_id(BATCH_JOBS[0])
                s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = 0.0, 0.0, 0.70, w
                self._busy_after(s, j, w)
                self.add_truth("hoarding", s.resource, self.workloads[w], self.S + i * self.cfg.interval_s,
                               self.S + j * self.cfg.interval_s, s.price)
        if "busywait" in inj:  # two ranks spin in a collective on a dead peer: util ~100, SMs idle
            a, b = self.window(0.3, 0.6, 1.5, 2.5)
            for s in self._pick(("train",), used, need_sm=True, count=2):
                i, j = self.slot(a), self.slot(b)
                g = np.random.default_rng([self.cfg.seed, i, 7])
                w = int(s.wl[i]) if s.wl[i] >= 0 else self.wl_id(TRAIN_JOBS[3])
                s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = g.uniform(98, 100, j - i), \
                    g.uniform(0.05, 0.8, j - i), 0.86, w
                self._busy_after(s, j, w)
                self.add_truth("busywait", s.resource, self.workloads[w], self.S + i * self.cfg.interval_s,
                               self.S + j * self.cfg.interval_s, s.price)
        if "unallocated" in inj:  # the job ended, nothing was scheduled on the GPU for hours
            for s in self._pick(("batch", "train", "infer"), used):
                a, b = self.window(0.05, 0.3, 4, 6)
                i, j = self.slot(a), self.slot(b)
                s.util[i:j], s.sm[i:j], s.mem[i:j], s.wl[i:j] = 0.0, 0.0, 0.0, -1
                self._busy_after(s, j, self.wl_id(BATCH_JOBS[r.randrange(len(BATCH_JOBS))]))
                self.add_truth("unallocated", s.resource, None, self.S + i * self.cfg.interval_s,
                               self.S + j * self.cfg.interval_s, s.price)

    def _busy_after(self, s: _Stream, j: int, w: int) -> None:
        """After an injected stretch the next job starts at once (so the truth end is sharp)."""
        k = min(self.n, j + int(30 * MIN / self.cfg.interval_s))
        s.util[j:k] = np.maximum(s.util[j:k], 70.0)
        s.sm[j:k] = np.nan
        s.mem[j:k] = np.maximum(s.mem[j:k], 0.5)
        s.wl[j:k] = np.where(s.wl[j:k] >= 0, s.wl[j:k], w)

    def gpu_samples(self) -> None:
        cfg = self.cfg
        step = cfg.interval_s
        jitter_hi = min(2.0, step / 4)  # keeps each stream's samples in ts order
        for k, s in enumerate(self.streams):
            g = np.random.default_rng([cfg.seed, k, 5])
            n = self.n
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
            ts = np.round(self.S + self.t_rel + step + g.uniform(0.1 * jitter_hi / 2, jitter_hi, n), 3)
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
            src = _Samples(base, s.pid, total, ts[keep], np.round(util, 2)[keep],
                           np.round(sm_arr, 2)[keep] if s.has_sm else None, used[keep], s.wl[keep], power,
                           price[keep], bad[keep], cfg.seed * 1000 + k)
            self.samples.append(src)
            nbad = int(src.bad.sum())
            self.bad += nbad
            self.counts["gpu_sample"] = self.counts.get("gpu_sample", 0) + len(src.ts) - nbad

    # ------------------------------------------------------------------ billing
    def billing(self) -> None:
        cfg, r = self.cfg, self.r
        t0 = self.S - round(cfg.billing_days * 24) * HOUR
        hours = int((self.E - t0) // HOUR)
        llm = workload("support/agent-assist", "inference", "support", model="claude-sonnet-4")
        pretrain = workload("research/moe-pretrain", "training", "research", cost_centre="cc-4410")
        burst_a = burst_b = shift = math.inf
        if "cost_spike" in cfg.inject:
            a, _ = self.window(0.25, 0.5, 3, 3)
            burst_a = t0 + math.ceil((a - t0) / HOUR) * HOUR
            burst_b = min(self.E, burst_a + 3 * HOUR)
            self.add_truth("cost_spike", "apikey-support-prod-7", llm, burst_a, burst_b, factor=6.0)
        if "level_shift" in cfg.inject:
            a, _ = self.window(0.2, 0.45, 1, 1)
            shift = t0 + math.ceil((a - t0) / HOUR) * HOUR
            self.add_truth("level_shift", "zones/us-c1/a3-pool", pretrain, shift, self.E, factor=1.8)
        ramp = self.S - r.uniform(4, 7) * DAY

        def gentle() -> float:
            return max(0.6, r.gauss(1, 0.06))

        def flat() -> float:
            return max(0.8, r.gauss(1, 0.03))

        Spec = tuple[dict[str, Any], float, float, float, float, Callable[[], float], Callable[[float], float],
                     dict[str, Any], str | None, float, str]
        specs: list[Spec] = [
            # workload, $/h weekday mean, weekend factor, daily amplitude, peak hour UTC, noise,
            # multiplier(t), fixed fields, sku (None = token rows), unit price, unit
            (llm, 38.0, 0.45, 0.55, 16, gentle, lambda t: 6.0 if burst_a <= t < burst_b else 1.0,
             {"source": "llm_usage", "service": "Anthropic API", "resource_id": "apikey-support-prod-7",
              "model": "claude-sonnet-4"}, None, 0.0, ""),
            (workload("product/search-answers", "inference", "product", model="gpt-4.1"), 12.0, 0.6, 0.4, 15,
             gentle, lambda t: 1.0, {"source": "llm_usage", "service": "OpenAI API",
                                     "resource_id": "proj-search-answers", "model": "gpt-4.1"}, None, 0.0, ""),
            (workload("serving/search-embed", "inference", "search"), 14.0, 0.8, 0.3, 14, gentle,
             lambda t: 1 + 0.4 * min(1.0, max(0.0, (t - ramp) / (7 * DAY))),  # legitimate growth: +40 %/week
             {"source": "focus", "service": "Amazon SageMaker", "resource_id": "endpoint/search-embed",
              "model": "e5-large-v2"}, "ml.g5.2xlarge-hosting", 1.515, "Hrs"),
            (pretrain, 98.0, 0.93, 0.08, 11, flat, lambda t: 1.8 if t >= shift else 1.0,
             {"source": "gpu_meter", "service": "Compute Engine", "resource_id": "zones/us-c1/a3-pool"},
             "a3-highgpu-8g", TRAINING_GPU_USD, "GPU-hours"),
            (workload("data/adhoc-spark-gpu", "batch", "data"), 20.0, 0.6, 0.25, 13,
             lambda: r.lognormvariate(-0.125, 0.5), lambda t: 1.0,  # heavy-tailed, noisy but normal
             {"source": "custom", "service": "Databricks", "resource_id": "dbx-ws-analytics"},
             "jobs-compute-photon", 0.55, "DBU"),
        ]
        # the simulated fleet itself: GPUs billed by allocation, per workload holding them at the start
        fleet: dict[int, tuple[float, float]] = {}
        for s in self.streams:
            w = int(s.wl[0])
            if w >= 0:
                usd, gpus = fleet.get(w, (0.0, 0.0))
                fleet[w] = (usd + s.price, gpus + (s.price / PRICE[s.model]))  # a MIG slice: its share
        for wi, (per_hour, gpus) in sorted(fleet.items()):
            wl = self.workloads[wi]
            assert wl is not None
            if wl["id"] == pretrain["id"]:
                continue  # billed through its pool above
            specs.append((wl, per_hour, 1.0, 0.0, 12, flat, lambda t: 1.0,
                          {"source": "gpu_meter", "service": "Kubernetes GPU pool",
                           "resource_id": f"gpu-pool/{wl['id'].split('/')[0]}"}, "gpu-hour", per_hour / gpus,
                          "GPU-hours"))
        events: list[dict[str, Any]] = []
        for owner, base, weekend, amp, peak, noise, mult, fields, sku, unit_price, unit in specs:
            for h in range(hours):
                t = t0 + h * HOUR
                g = time.gmtime(t)
                cost = (base * (weekend if g.tm_wday >= 5 else 1.0) * mult(t) * noise()
                        * (1 + amp * math.cos(2 * math.pi * (g.tm_hour + 0.5 - peak) / 24)))
                if sku is None:  # token spend: an input row and an output row for the same period
                    share = r.uniform(0.35, 0.45)
                    parts: list[dict[str, Any]] = [{"sku": "input-tokens", "cost_usd": cost * share,
                              "usage_quantity": round(cost * share / 3e-6), "usage_unit": "tokens"},
                             {"sku": "output-tokens", "cost_usd": cost * (1 - share),
                              "usage_quantity": round(cost * (1 - share) / 15e-6), "usage_unit": "tokens"}]
                else:
                    parts = [{"sku": sku, "cost_usd": cost, "usage_quantity": round(cost / unit_price, 3),
                              "usage_unit": unit}]
                ts = t + HOUR + r.uniform(240, 900)  # exports land 4-15 min after the hour closes
                for p in parts:
                    p["cost_usd"] = round(p["cost_usd"], 4)
                    events.append({"type": "billing_delta", "ts": round(ts, 3), "period_start": t,
                                   "period_end": t + HOUR, "workload": owner, **fields, **p})
                    ts += r.uniform(0.5, 3)
        self.emit(events)

    # ----------------------------------------------------------------- training
    def job(self, out: list[dict[str, Any]], model: str, w: dict[str, Any], start: float, dur: float, status: str,
            metric: dict[str, Any] | None, data: str, code: str, trigger: str, n_gpu: int,
            progress: bool = False) -> None:
        """A training run's events: started, hourly progress when asked, then its end (if in the stream)."""
        rid = f"{model}-{self.r.getrandbits(40):010x}"
        end_of_stream = self.E

        def ev(ts: float, st: str, done: bool) -> dict[str, Any]:
            gh = n_gpu * (ts - start) / HOUR
            return {"type": "training_run", "ts": round(ts, 3), "run_id": rid, "model_id": model, "workload": w,
                    "status": st, "started_at": round(start, 3), "ended_at": round(ts, 3) if done else None,
                    "gpu_hours": round(gh, 3), "cost_usd": round(gh * TRAINING_GPU_USD, 2),
                    "metric": metric if done else None, "data_version": data, "code_version": code,
                    "trigger": trigger}
        if start >= end_of_stream:
            return
        out.append(ev(start, "started", False))
        k = start + HOUR
        while progress and k < min(start + dur, end_of_stream):  # progress: same run, still running
            out.append(ev(k, "started", False))
            k += HOUR
        if start + dur <= end_of_stream:
            out.append(ev(start + dur, status, True))

    def training(self) -> None:
        cfg, r, out = self.cfg, self.r, []  # type: ignore[var-annotated]
        t0 = self.S - round(cfg.billing_days * 24) * HOUR
        days = int((self.E - t0) // DAY) + 1
        ltr = workload("search/ltr-nightly", "training", "search")
        fraud = workload("risk/fraud-nightly", "training", "risk")
        for d in range(days):  # healthy nightly retrains on fresh data, metric improving
            day = t0 - (t0 % DAY) + d * DAY
            start = day + 1.5 * HOUR + r.uniform(0, 600)
            if t0 <= start:
                self.job(out, "ltr-ranker", ltr, start, r.uniform(1.6, 2.3) * HOUR, "succeeded",
                         {"name": "val_logloss", "value": round(0.412 - 0.0011 * d + r.gauss(0, 3e-4), 5),
                          "higher_is_better": False},
                         "clicks-" + time.strftime("%Y%m%d", time.gmtime(start)), "ltr@2b7d91e", "schedule", 8)
            start = day + 3 * HOUR + r.uniform(0, 900)
            if t0 <= start:
                self.job(out, "fraud-xgb", fraud, start, r.uniform(0.5, 0.9) * HOUR, "succeeded",
                         {"name": "auc", "value": round(0.90 + 0.0004 * d + r.gauss(0, 2e-4), 5),
                          "higher_is_better": True},
                         "txns-" + time.strftime("%Y%m%d", time.gmtime(start)), "fraud@5d0c2aa", "schedule", 1)
        sft = workload("ml-platform/sft-70b", "training", "ml-platform")
        start = self.S - r.uniform(2, 6) * HOUR
        self.job(out, "llama-70b-support-sft", sft, start, r.uniform(10.5, 12) * HOUR, "succeeded",
                 {"name": "eval_loss", "value": round(r.uniform(1.1, 1.3), 4), "higher_is_better": False},
                 "support-mix-v4", "sft@e03a7f4", "manual", 64, progress=True)
        if "retrain_loop" in cfg.inject:
            w = workload("speech/conformer-train", "training", "speech")
            a, b = self.window(0.15, 0.35, 6, 6)
            t, i = a, 0
            while t < b:  # crash loop: dies a few minutes in, retried ~25 min later
                self.job(out, "asr-conformer-xl", w, t, r.uniform(2.5, 7) * MIN, "failed", None,
                         "librispeech-mix-v3", "asr@9c1e0b2", "manual" if i == 0 else "retry", 16)
                t, i = t + r.uniform(22, 28) * MIN, i + 1
            self.add_truth("retrain_loop", "asr-conformer-xl", w, a, t, runs=i)
            w = workload("growth/churn-retrain", "training", "growth")
            a, b = self.window(0.05, 0.2, 10, 10)
            runs = max(3, int((b - a) // HOUR))
            for k in range(runs):  # cron fires hourly on a frozen snapshot: nothing changes
                self.job(out, "churn-gbm", w, a + k * HOUR + r.uniform(0, 90), r.uniform(14, 19) * MIN, "succeeded",
                         {"name": "auc", "value": round(0.8412 + r.uniform(-7e-4, 7e-4), 4),
                          "higher_is_better": True},
                         "warehouse-snap-2026-03-18", "churn@4f2a9c1", "schedule", 1)
            self.add_truth("retrain_loop", "churn-gbm", w, a, a + runs * HOUR, runs=runs)
        if "needless_retrain" in cfg.inject:
            w = workload("product/intent-retrain", "training", "product")
            every = 2 * HOUR if cfg.hours >= 8 else max(0.5, cfg.hours / 5) * HOUR
            starts = [self.S + k * every + r.uniform(0, 120) for k in range(1, int(cfg.hours * HOUR // every))]
            for st in starts:  # fresh data every time, inputs unchanged, metric flat
                self.job(out, "intent-clf-v5", w, st, r.uniform(22, 34) * MIN, "succeeded",
                         {"name": "accuracy", "value": round(0.9132 + r.uniform(-8e-4, 8e-4), 4),
                          "higher_is_better": True},
                         "tickets-" + time.strftime("%m%d-%H%M", time.gmtime(st)), "intent@71c0d5a", "schedule", 2)
            if starts:
                self.add_truth("needless_retrain", "intent-clf-v5", w, starts[0], self.E, runs=len(starts))
        self.emit(sorted(out, key=lambda e: e["ts"]))

    # -------------------------------------------------------- model observations
    def observations(self) -> None:
        cfg = self.cfg
        g = np.random.default_rng([cfg.seed, 99])
        minutes = max(1, int(cfg.hours * 60))
        tm = self.S + np.arange(minutes) * MIN  # batch start
        credit = workload("fintech/credit-limit-api", "inference", "fintech")
        eta = workload("logistics/eta", "inference", "ops")
        ads = workload("ads/ctr-serving", "inference", "ads")
        intent = workload("product/intent-serving", "inference", "product")
        mean_k = np.zeros(minutes)
        sd = np.full(minutes, 20.0)
        if "drift" in cfg.inject:
            a, _ = self.window(0.25, 0.45, 3, 3)
            mean_k = np.clip((tm - a) / (3 * HOUR), 0, 1)  # 0 -> 1 over 3 h: the mean moves +2 std
            b, _ = self.window(0.35, 0.6, 1, 1)
            sd = np.where(tm >= b, 65.0, 20.0)  # the spread triples at once
            self.add_truth("drift", "credit-limit-v2", credit, a, self.E, feature="income_k")
            self.add_truth("drift", "eta-gbm-v11", eta, b, self.E, feature="courier_lag_s")
        size = (minutes, 50)

        def rows(a: np.ndarray) -> list[list[float]]:
            return np.round(a, 4).tolist()  # type: ignore[no-any-return]
        models = [
            ("credit-limit-v2", credit, {"income_k": rows(g.normal(68 + 28 * mean_k[:, None], 14, size)),
                                         "utilization": rows(g.beta(2, 3, size)),
                                         "open_lines": rows(g.integers(1, 13, size).astype(float))}),
            ("eta-gbm-v11", eta, {"distance_km": rows(g.lognormal(1.4, 0.5, size)),
                                  "courier_lag_s": rows(90 + g.normal(0, 1, size) * sd[:, None])}),
            ("ads-ctr-dnn", ads, {"bid_cpm": rows(2.1 + 0.4 * g.standard_t(3, size)),
                                  "user_age_days": rows(400 + 90 * g.standard_t(3, size))}),
            ("intent-clf-v5", intent, {"text_len": rows(np.maximum(1, np.round(g.normal(48, 11, size)))),
                                       "confidence": rows(g.beta(6, 2, size))}),
        ]
        jitter = g.uniform(0, 1, (minutes, len(models))).tolist()
        starts = tm.tolist()
        events = []
        for k in range(minutes):
            for i, (m, w, vals) in enumerate(models):
                events.append({"type": "model_observation", "ts": round(starts[k] + MIN + 2.5 * i + jitter[k][i], 3),
                               "model_id": m, "workload": w, "values": {f: v[k] for f, v in vals.items()}})
        events = [e for e in events if e["ts"] <= self.E + MIN]
        self.emit(events)

    def build(self) -> Simulation:
        self.fleet()
        self.inject_gpus()
        self.gpu_samples()
        self.billing()
        self.training()
        self.observations()
        ts = np.concatenate(self.ts_parts) if self.ts_parts else np.zeros(0)
        order = np.argsort(ts, kind="stable")
        self.truth.sort(key=lambda t: (t["start"], t["kind"], str(t["resource"])))
        lines = self.lines
        return Simulation(self.cfg, self.truth, dict(sorted(self.counts.items())), self.bad, len(self.streams),
                          self.samples, ts[order], [lines[i] for i in order.tolist()], [*self.workloads, None])


def simulate(config: SimConfig | None = None, **kwargs: Any) -> Simulation:
    """Generate a stream: ``simulate(SimConfig(hours=6, gpus=16, seed=3))`` or ``simulate(hours=6)``."""
    cfg = config or SimConfig(**kwargs)
    return _Builder(cfg).build()
