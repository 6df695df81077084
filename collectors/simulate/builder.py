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

Injections (``INJECTIONS``; each adds one or more truth entries, :mod:`collectors.simulate.truth`)
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

The parts: :mod:`~collectors.simulate.fleet` (GPUs, their timelines, GPU injections and
samples), :mod:`~collectors.simulate.billing`, :mod:`~collectors.simulate.training`,
:mod:`~collectors.simulate.observations` and :mod:`~collectors.simulate.truth`; this module
holds the :class:`Builder` they write into and the :class:`Simulation` it returns.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import orjson

from collectors.simulate.billing import add_billing
from collectors.simulate.config import HOUR, SimConfig
from collectors.simulate.fleet import GpuSamples, GpuStream, build_fleet, gpu_samples, inject_gpus
from collectors.simulate.observations import add_observations
from collectors.simulate.training import add_training
from collectors.simulate.truth import truth_document, truth_entry
from collectors.simulate.waste import add_waste_billing, add_waste_training, budgets, inject_waste_gpus


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
    _samples: list[GpuSamples] = field(repr=False)
    _other_ts: np.ndarray = field(repr=False)
    _other: list[bytes] = field(repr=False)  # billing, training, observations: newline-terminated
    _table: list[dict[str, Any] | None] = field(repr=False)
    budgets: dict[str, Any] = field(default_factory=dict)  # the `budgets` settings section the truth assumes

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
        return truth_document(self.config, self.truth, self.counts, self.bad_lines, self.budgets)


class Builder:
    """Builds one :class:`Simulation`; each part appends (ts, line) pairs (the parts are functions
    of the builder, in their own modules)."""

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
        self.streams: list[GpuStream] = []
        self.samples: list[GpuSamples] = []
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
        self.truth.append(truth_entry(kind, resource, wl, start, min(end, self.E), price, **extra))

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

    def build(self) -> Simulation:
        build_fleet(self)
        inject_gpus(self)
        inject_waste_gpus(self)
        gpu_samples(self)
        add_billing(self)
        add_waste_billing(self)
        add_training(self)
        add_waste_training(self)
        add_observations(self)
        section = budgets(self)
        ts = np.concatenate(self.ts_parts) if self.ts_parts else np.zeros(0)
        order = np.argsort(ts, kind="stable")
        self.truth.sort(key=lambda t: (t["start"], t["kind"], str(t["resource"])))
        lines = self.lines
        return Simulation(self.cfg, self.truth, dict(sorted(self.counts.items())), self.bad, len(self.streams),
                          self.samples, ts[order], [lines[i] for i in order.tolist()], [*self.workloads, None],
                          budgets=section)


def simulate(config: SimConfig | None = None, **kwargs: Any) -> Simulation:
    """Generate a stream: ``simulate(SimConfig(hours=6, gpus=16, seed=3))`` or ``simulate(hours=6)``."""
    cfg = config or SimConfig(**kwargs)
    return Builder(cfg).build()
