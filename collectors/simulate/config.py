"""What to simulate (:class:`SimConfig`) and the units the simulator counts in."""

from __future__ import annotations

from dataclasses import dataclass

from collectors.simulate.truth import INJECTIONS

HOUR, MIN, DAY = 3600.0, 60.0, 86400.0
GIB = 2**30
DEFAULT_START = 1_774_310_400.0  # 2026-03-24T00:00:00Z, a Tuesday: fixed so output is reproducible


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
