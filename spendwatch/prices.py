"""GPU price per hour, by GPU model, for waste figures when an event carries no price.

Defaults are typical on-demand cloud prices per GPU (2026, USD/h, rounded): they make the
dollar figures meaningful out of the box; override them in the ``prices`` settings section
(``prices: {gpu: {"H100": 3.9}, default_gpu_usd: 2.0}``). Matching is by the longest table
key contained in the NVML model name, case-insensitive, so "NVIDIA H100 80GB HBM3" matches "H100".
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_GPU_PRICES: dict[str, float] = {
    "B200": 6.50,
    "H200": 4.50,
    "H100": 3.90,
    "GH200": 4.20,
    "A100-SXM4-80GB": 2.95,
    "A100 80GB": 2.95,
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
    """``prices`` section: GPU price table and the fallback for unknown models (0 = unknown)."""

    gpu: dict[str, float] = field(default_factory=dict)
    default_gpu_usd: float = 0.0
    replace_defaults: bool = False


class PriceTable:
    """Looks up a GPU's hourly price by model name; caches each model string it has seen."""

    def __init__(self, config: PriceConfig | None = None) -> None:
        config = config or PriceConfig()
        table = {} if config.replace_defaults else dict(DEFAULT_GPU_PRICES)
        table.update(config.gpu)
        # longest key first so "A100-SXM4-80GB" wins over "A100"
        self._keys = sorted(((k.lower(), v) for k, v in table.items()), key=lambda kv: -len(kv[0]))
        self._default = config.default_gpu_usd
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
