"""The anomaly event of the contract, and the finding a detector reports to the Engine."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from spendwatch.contract import ANOMALY, INSIGHT

OPEN = "open"
RESOLVED = "resolved"
SEVERITIES = ("info", "warning", "critical")

# Every kind detectors emit today; more may be added (contract).
KINDS = ("idle_gpu", "gpu_memory_hoarding", "cost_spike", "retrain_loop", "retrain_needed",
         "retrain_without_drift")
# Structural waste: reported (the ``insight`` event type, its own topic, the report), not paged, unless
# the ``insights.page`` setting promotes a kind to an anomaly.
INSIGHT_KINDS = ("underused_gpu", "underused_endpoint", "batch_on_realtime", "redundant_training",
                 "unit_cost_rise", "budget_forecast", "spend_growth")


def anomaly_id(kind: str, resource: str, started_at: float) -> str:
    """Stable fingerprint of one problem: the same (kind, resource, start) always gives the same id."""
    digest = hashlib.sha1(f"{kind}|{resource}|{started_at:.3f}".encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


@dataclass(slots=True)
class Finding:
    """What a detector says about one problem at one moment of event time.

    ``active`` True means the problem is ongoing (open or still open, with current figures);
    False means it ended at ``at`` (the Engine then emits ``resolved``). ``slot`` tells apart
    several simultaneous problems of one kind on one resource (rare; default "").
    ``notify`` asks the Engine to publish this update even though its figures did not change
    materially, because it says something new (another feature started drifting).
    ``severity`` None (the default) means "by dollars": the Engine sets it from
    ``projected_daily_usd`` and its ``warning_daily_usd`` / ``critical_daily_usd`` settings; a
    detector sets it only to say something else (e.g. the size of a problem that just ended).
    """

    kind: str
    resource: str
    workload: dict[str, Any] | None
    started_at: float
    at: float
    active: bool
    waste_usd: float
    projected_daily_usd: float
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: str | None = None
    slot: str = ""
    notify: bool = False

    @property
    def problem_key(self) -> tuple[str, str, str]:
        return (self.kind, self.resource, self.slot)


def severity_for(projected_daily_usd: float, warning_daily_usd: float, critical_daily_usd: float) -> str:
    """Severity by dollar impact: the figure on-call cares about."""
    if projected_daily_usd >= critical_daily_usd:
        return "critical"
    if projected_daily_usd >= warning_daily_usd:
        return "warning"
    return "info"


MAX_FIGURE_USD = 1e15  # dollar figures of an anomaly are clamped to +-this: finite, whatever came in


def finite_usd(x: float) -> float:
    """A dollar figure fit to publish: NaN is 0, anything beyond +-MAX_FIGURE_USD is clamped to it.

    >>> finite_usd(float("inf")), finite_usd(float("nan")), finite_usd(-1e308), finite_usd(12.345)
    (1000000000000000.0, 0.0, -1000000000000000.0, 12.35)
    """
    if x != x:  # NaN
        return 0.0
    return round(min(MAX_FIGURE_USD, max(-MAX_FIGURE_USD, x)), 2)


def finite_evidence(v: Any) -> Any:
    """``v`` with every non-finite float replaced by None (JSON has no NaN or infinity)."""
    if type(v) is float:
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: finite_evidence(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [finite_evidence(x) for x in v]
    return v


def anomaly_event(anomaly_id_: str, state: str, finding: Finding, detected_at: float,
                  resolved_at: float | None, insight: bool = False) -> dict[str, Any]:
    """The contract's `anomaly` output event for a finding (its severity already set); with
    ``insight`` the same fields as an ``insight`` event (structural waste, reported, not paged).

    Whatever arithmetic the detector did, the figures are finite: dollars clamped
    (:func:`finite_usd`), non-finite evidence values null."""
    assert finding.severity is not None, "the Engine sets a finding's severity before it is published"
    return {
        "type": INSIGHT if insight else ANOMALY,
        "id": anomaly_id_,
        "kind": finding.kind,
        "state": state,
        "severity": finding.severity,
        "workload": finding.workload,
        "resource": finding.resource,
        "started_at": round(finding.started_at, 3),
        "detected_at": round(detected_at, 3),
        "resolved_at": None if resolved_at is None else round(resolved_at, 3),
        "waste_usd": finite_usd(finding.waste_usd),
        "projected_daily_usd": finite_usd(finding.projected_daily_usd),
        "summary": finding.summary,
        "evidence": finite_evidence(finding.evidence),
        "ts": round(finding.at, 3),
    }
