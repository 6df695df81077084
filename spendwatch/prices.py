"""GPU price per hour, by GPU model, for waste figures when an event carries no price.

Defaults are typical on-demand cloud prices per GPU (2026, USD/h, rounded): they make the
dollar figures meaningful out of the box; override them in the ``prices`` settings section
(``prices: {gpu: {"H100": 3.9}, default_gpu_usd: 2.0}``). Matching is by the longest table
key contained in the NVML model name, case-insensitive, so "NVIDIA H100 80GB HBM3" matches "H100".

This is the one GPU-hour price of the product: idle GPUs (a sample without a price), the
simulator and training runs (``gpu_hours`` without ``cost_usd``) all read it. A training run
rarely says which GPU it ran on; a ``gpu_model`` workload label is looked up in the table, and
a run without one costs ``training_gpu_usd`` per GPU-hour.

Examples
--------
>>> prices = PriceTable(PriceConfig(gpu={"H100": 3.5}))
>>> prices.gpu_per_hour("NVIDIA H100 80GB HBM3"), prices.gpu_per_hour("NVIDIA A100-SXM4-80GB")
(3.5, 2.95)
>>> prices.gpu_per_hour("a GPU nobody has heard of")  # default_gpu_usd: unknown
0.0
>>> prices.training_gpu_per_hour(None), prices.training_gpu_per_hour("H100")
(2.95, 3.5)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

A100_80GB_USD = 2.95  # on-demand A100 80GB per GPU-hour: the usual training GPU

DEFAULT_GPU_PRICES: dict[str, float] = {
    "B200": 6.50,
    "H200": 4.50,
    "H100": 3.90,
    "GH200": 4.20,
    "A100-SXM4-80GB": A100_80GB_USD,
    "A100 80GB": A100_80GB_USD,
    "A100": 2.40,
    "L40S": 1.80,
    "L40": 1.50,
    "A10G": 1.20,
    "A10": 1.10,
    "L4": 0.80,
    "V100": 2.50,
    "T4": 0.53,
}


@dataclass(frozen=True)
class PriceConfig:
    """``prices`` section: the GPU price table.

    Parameters
    ----------
    gpu
        USD per GPU-hour by model name (a key matches any NVML model name that contains it,
        case-insensitive, the longest key first); added to (or replacing) the defaults.
    default_gpu_usd
        Price of a GPU model the table does not know (0 = unknown: its waste counts as $0).
    replace_defaults
        Use only ``gpu``, not the built-in table of typical on-demand prices.
    training_gpu_usd
        USD per GPU-hour of a ``training_run`` that reports ``gpu_hours`` but no ``cost_usd``
        and whose workload has no ``gpu_model`` label (2.95: an on-demand A100 80GB, the usual
        training GPU). Retrain-loop and retrain-without-drift waste use it.
    """

    gpu: dict[str, float] = field(default_factory=dict)
    default_gpu_usd: float = 0.0
    replace_defaults: bool = False
    training_gpu_usd: float = A100_80GB_USD


class PriceTable:
    """Looks up a GPU's hourly price by model name; caches each model string it has seen."""

    def __init__(self, config: PriceConfig | None = None) -> None:
        config = config or PriceConfig()
        table = {} if config.replace_defaults else dict(DEFAULT_GPU_PRICES)
        table.update(config.gpu)
        # longest key first so "A100-SXM4-80GB" wins over "A100"
        self._keys = sorted(((k.lower(), v) for k, v in table.items()), key=lambda kv: -len(kv[0]))
        self._default = config.default_gpu_usd
        self._training = config.training_gpu_usd
        self._cache: dict[str, float] = {}

    def gpu_per_hour(self, gpu_model: str | None) -> float:
        if not gpu_model:
            return self._default
        hit = self._cache.get(gpu_model)
        if hit is None:
            name = gpu_model.lower()
            hit = next((v for k, v in self._keys if k in name), self._default)
            self._cache[gpu_model] = hit
        return hit

    def gpu_sample_per_hour(self, sample: Mapping[str, Any]) -> float:
        """The table's hourly price of what a ``gpu_sample`` measures: the GPU by its model, or
        its share of it for a MIG slice (:func:`mig_share`)."""
        base = self.gpu_per_hour(sample.get("gpu_model"))
        return base * mig_share(sample) if sample.get("mig_uuid") else base

    def training_gpu_per_hour(self, gpu_model: str | None) -> float:
        """GPU-hour price of a training run: the table's price for ``gpu_model`` when it has
        one above 0, else ``training_gpu_usd``."""
        price = self.gpu_per_hour(gpu_model) if gpu_model else 0.0
        return price if price > 0 else self._training


FULL_GPU_SLICES = 7  # A100/H100/H200 split into at most seven compute slices
_MIG_PROFILE = re.compile(r"^(\d+)g\.")
_MODEL_GB = re.compile(r"(\d+)\s*GB", re.IGNORECASE)


def mig_share(sample: Mapping[str, Any]) -> float:
    """The share of its GPU a MIG slice's sample stands for: its profile's compute slices out of
    seven (``2g.20gb``: 2/7); without a profile (the contract does not require one), its memory
    out of the GPU's as the model name gives it (a 10 GiB slice of an "H100 80GB": 1/8; memory
    comes in eighths where compute comes in sevenths, so this errs low by at most a seventh);
    else the whole GPU (nothing says otherwise)."""
    profile = sample.get("mig_profile")
    m = _MIG_PROFILE.match(profile) if isinstance(profile, str) else None
    if m:
        return min(1.0, int(m.group(1)) / FULL_GPU_SLICES)
    model, total = sample.get("gpu_model"), sample.get("mem_total_bytes")
    g = _MODEL_GB.search(model) if isinstance(model, str) else None
    if g and isinstance(total, int | float) and total > 0 and int(g.group(1)) > 0:
        return min(1.0, total / (int(g.group(1)) * 2 ** 30))
    return 1.0
