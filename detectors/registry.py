"""The detectors an Engine runs by default. Add a detector here to put it in every pipeline.

The order is the order in which the detectors of one event type see each event."""

from __future__ import annotations

from detectors.base import Detector


def default_detector_classes() -> list[type[Detector]]:
    from detectors.budget_forecast import BudgetForecastDetector
    from detectors.cost_spike import CostSpikeDetector
    from detectors.drift import DriftDetector
    from detectors.gpu_usage import GpuUsageDetector
    from detectors.idle_gpu import IdleGpuDetector
    from detectors.redundant_training import RedundantTrainingDetector
    from detectors.retrain_loop import RetrainLoopDetector
    from detectors.retrain_without_drift import RetrainWithoutDriftDetector
    from detectors.unit_cost import UnitCostDetector

    # the incident detectors, then the structural-waste ones (insights); GpuUsageDetector after
    # IdleGpuDetector: it reads whether the idle detector paged the GPU's current quiet spell
    return [IdleGpuDetector, DriftDetector, RetrainLoopDetector, RetrainWithoutDriftDetector, CostSpikeDetector,
            GpuUsageDetector, RedundantTrainingDetector, UnitCostDetector, BudgetForecastDetector]
