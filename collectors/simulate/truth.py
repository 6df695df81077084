"""The truth: what the simulator injected, for scoring detectors against it.

Each injection (:data:`INJECTIONS`) adds one or more truth entries: kind, the anomaly kinds a
detector may rightly report for it, resource, workload, team, start and end (event time), and
for GPU problems the price and the waste a detector should find.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collectors.simulate.config import SimConfig

INJECTIONS = ("idle", "hoarding", "busywait", "unallocated", "cost_spike", "level_shift", "retrain_loop",
              "drift", "needless_retrain", "underused_gpu", "underused_endpoint", "batch_on_realtime",
              "redundant_training", "unit_cost", "over_budget", "storage_growth")
# Structural waste (collectors.simulate.waste): reported as insights, not paged.
WASTE_INJECTIONS = INJECTIONS[9:]
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
    "underused_gpu": ("underused_gpu",),
    "underused_endpoint": ("underused_endpoint",),
    "batch_on_realtime": ("batch_on_realtime",),
    "redundant_training": ("redundant_training",),
    "unit_cost": ("unit_cost_rise", "cost_spike"),  # the endpoint's spend doubles too: a spike is right as well
    "over_budget": ("budget_forecast",),
    "storage_growth": ("spend_growth",),
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


def truth_entry(kind: str, resource: str | None, wl: dict[str, Any] | None, start: float, end: float,
                price: float | None = None, **extra: Any) -> dict[str, Any]:
    """One injected problem; ``end`` is already clipped to the stream's end."""
    t: dict[str, Any] = {"kind": kind, "expected_kinds": list(EXPECTED_KINDS[kind]), "resource": resource,
                         "workload": wl["id"] if wl else None, "team": wl.get("team") if wl else None,
                         "start": round(start, 3), "end": round(end, 3)}
    if price is not None:
        t["price_per_hour_usd"] = price
        t["expected_waste_usd"] = round((t["end"] - t["start"]) / 3600.0 * price, 2)
    t.update(extra)
    return t


def truth_document(config: SimConfig, truth: list[dict[str, Any]], counts: dict[str, int],
                   bad_lines: int, budgets: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``spendwatch simulate --truth FILE`` writes: the run's settings, its counts, the truth,
    and the ``budgets`` settings section its budget truth assumes."""
    c = config
    return {"seed": c.seed, "start": c.start, "end": c.end, "hours": c.hours, "gpus": c.gpus,
            "interval_s": c.interval_s, "inject": sorted(c.inject), "events": sum(counts.values()),
            "bad_lines": bad_lines, "counts": counts, "truth": truth, "budgets": budgets or {}}
