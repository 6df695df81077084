"""Shared pieces of the realistic generator: the time window, workloads, randomness, the event stream, the truth book.

Everything is deterministic per seed: each part of the stream draws from its own ``numpy`` generator seeded
with ``(seed, part)``, so changing one part never reshuffles another, and nothing reads the clock.

Time: the stream ends at ``end`` (on the hour; the weekday and hour move with the seed, so weekly and daily
phases differ between seeds). GPU telemetry covers the last ``days`` days; model observations start one day
earlier (a day of history before the telemetry window); billing covers 14-21 days.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
GIB = 1 << 30

BASE_END = 1_780_466_400.0  # 2026-06-03T06:00:00Z, a Wednesday
GRACE_S = 45 * MIN  # a detection may come this long after a truth window starts (as the public scorecard)
EARLY_S = 60.0  # and this long before it

FAMILY = {"idle_gpu": "idle", "gpu_memory_hoarding": "idle", "cost_spike": "cost", "retrain_loop": "loop",
          "retrain_needed": "drift", "retrain_without_drift": "nodrift"}
FAMILIES = ("idle", "cost", "loop", "drift", "nodrift")
BY_WORKLOAD = ("cost", "loop", "drift", "nodrift")

PARTS = {"fleet": 1, "billing": 2, "training": 3, "observations": 4, "junk": 5, "disorder": 6, "window": 7}

Workload = dict[str, Any]


def workload(wid: str, kind: str, team: str, **labels: str) -> Workload:
    """A contract workload object with an owner derived from the team."""
    w: Workload = {"id": wid, "kind": kind, "team": team, "owner": f"{team}-oncall@example.com"}
    if labels:
        w["labels"] = dict(labels)
    return w


class Rng:
    """A ``numpy`` generator with the few scalar helpers the builders need (plain floats and ints out)."""

    def __init__(self, seed: int, part: str) -> None:
        self.g = np.random.default_rng([seed, PARTS[part]])

    def u(self, lo: float, hi: float) -> float:
        return float(self.g.uniform(lo, hi))

    def i(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi] (both ends included)."""
        return int(self.g.integers(lo, hi + 1))

    def p(self, prob: float) -> bool:
        return bool(self.g.random() < prob)

    def pick(self, items: list[Any] | tuple[Any, ...]) -> Any:
        return items[int(self.g.integers(0, len(items)))]

    def lognorm(self, median: float, sigma: float, lo: float = 0.0, hi: float = math.inf) -> float:
        """A log-normal draw with the given median, redrawn until it lies in [lo, hi]."""
        for _ in range(1000):
            x = median * math.exp(sigma * float(self.g.standard_normal()))
            if lo <= x <= hi:
                return x
        return min(max(median, lo), hi)

    def hexid(self, n: int = 32) -> str:
        return "".join(f"{int(b):02x}" for b in self.g.integers(0, 256, (n + 1) // 2))[:n]

    def uuid(self, prefix: str) -> str:
        h = self.hexid(32)
        return f"{prefix}-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Window:
    """The stream's time frame."""

    seed: int
    end: float
    days: float
    gpu_start: float
    obs_start: float
    bill_start: float
    bill_days: int

    @staticmethod
    def make(seed: int, days: float) -> Window:
        r = Rng(seed, "window")
        end = BASE_END + r.i(0, 6) * DAY + r.i(0, 23) * HOUR
        bill_days = r.i(14, 21)
        return Window(seed=seed, end=end, days=days, gpu_start=end - days * DAY,
                      obs_start=end - (days + 1) * DAY, bill_start=end - bill_days * DAY, bill_days=bill_days)


_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


@dataclass
class Stream:
    """Serialised events as (ts, seq, type, line); sorted at the end."""

    rows: list[tuple[float, int, str, str]] = field(default_factory=list)

    def emit(self, ev: dict[str, Any]) -> None:
        self.rows.append((float(ev["ts"]), len(self.rows), str(ev["type"]), _ENCODE(ev)))


@dataclass
class Book:
    """What the stream contains: must-catch problems (truth) and benign phenomena, by resource/workload."""

    truth: list[dict[str, Any]] = field(default_factory=list)
    benign: list[dict[str, Any]] = field(default_factory=list)

    def add_truth(self, family: str, scenario: str, resource: str | None, workload_id: str | None, start: float,
                  end: float, magnitude: float, price: float | None = None, **more: Any) -> None:
        assert family in FAMILIES, family
        t: dict[str, Any] = {"family": family, "resource": resource, "workload": workload_id,
                             "start": round(start, 3), "end": round(end, 3), "scenario": scenario,
                             "magnitude": round(magnitude, 4)}
        if price is not None:
            t["price"] = round(price, 4)
        t.update(more)
        self.truth.append(t)

    def add_benign(self, phenomenon: str, resource: str | None, workload_id: str | None, **more: Any) -> None:
        b: dict[str, Any] = {"phenomenon": phenomenon, "resource": resource, "workload": workload_id}
        b.update(more)
        self.benign.append(b)


def hour_of_day(t: np.ndarray, tz_h: float = 0.0) -> np.ndarray:
    """Hour of day (fractional) at UTC offset ``tz_h``."""
    return np.asarray(((t + tz_h * HOUR) % DAY) / HOUR)


def weekday(t: np.ndarray, tz_h: float = 0.0) -> np.ndarray:
    """Day of week, Monday = 0 (1970-01-01 was a Thursday)."""
    return np.asarray((np.floor((t + tz_h * HOUR) / DAY).astype(np.int64) + 3) % 7)
