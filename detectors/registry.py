"""The detectors an Engine runs by default. Add a detector here to put it in every pipeline."""

from __future__ import annotations

from detectors.base import Detector


def default_detector_classes() -> list[type[Detector]]:
    from detectors.cost_spike import CostSpikeDetector
    from detectors.drift import DriftDetector
    from detectors.idle_gpu import IdleGpuDetector
    from detectors.retrain_loop import RetrainLoopDetector
    from detectors.retrain_without_drift import RetrainWithoutDriftDetector

    return [IdleGpuDetector, DriftDetector, RetrainLoopDetector, RetrainWithoutDriftDetector, CostSpikeDetector]
