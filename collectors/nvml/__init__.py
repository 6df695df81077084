"""GPU collector: NVML behind a small device adapter (real pynvml backend or a simulated one)."""
