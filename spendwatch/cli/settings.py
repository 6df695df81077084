"""The settings every command reads, checked whole at the edge: sections, keys, types and ranges.

:func:`load` is :func:`spendwatch.config.load_settings` with the known sections (the components'
below and one per detector), then every section that is set is built into its typed config, so
a typo or an out-of-range value in any section is exit 2 with the file (or the variable) and
key named, whichever command reads the settings, not only the one whose component uses them.
"""

from __future__ import annotations

import importlib
import os

from spendwatch.config import Settings, load_settings

# section -> "module:ConfigClass" of the component that reads it (None: a free-form mapping)
COMPONENT_SECTIONS: dict[str, str | None] = {
    "alerting": "alerting.pipeline:AlertingConfig",
    "attribution": None,  # static workload attribution rules (collectors.attribution.build_static)
    "billing": "collectors.billing.focus:BillingConfig",
    "budgets": "spendwatch.forecast:BudgetsConfig",
    "collector": "collectors.nvml.run:GpuCollectorConfig",
    "dcgm": "collectors.dcgm.collector:DcgmConfig",
    "engine": "detectors.base:EngineConfig",
    "insights": "detectors.base:InsightsConfig",
    "kafka": "spendwatch.kafka:KafkaConfig",
    "kube": "collectors.kube.attribution:KubeAttributionConfig",
    "limits": "spendwatch.events:LimitsConfig",
    "llm_usage": "collectors.billing.llm_usage:LlmUsageConfig",
    "opencost": "collectors.billing.opencost:OpenCostConfig",
    "prices": "spendwatch.prices:PriceConfig",
    "teams": "spendwatch.teams:TeamsConfig",
    "publisher": "collectors.publisher:PublisherConfig",
    "worker": "streams.settings:WorkerSettings",
}


def _detector_sections() -> dict[str, type]:
    from detectors.registry import default_detector_classes

    return {cls.name: cls.config_cls for cls in default_detector_classes()}


def known_sections() -> list[str]:
    """Every section a settings file may have."""
    return sorted({*COMPONENT_SECTIONS, *_detector_sections()})


def load(path: str | os.PathLike[str] | None) -> Settings:
    """The settings of ``--config`` (and ``SPENDWATCH__*``), every section set checked now."""
    detectors = _detector_sections()
    settings = load_settings(path, known={*COMPONENT_SECTIONS, *detectors})
    for name in settings.sections:
        if name in detectors:
            settings.build(detectors[name], name)
            continue
        target = COMPONENT_SECTIONS.get(name)
        if target:
            module, cls = target.split(":")
            settings.build(getattr(importlib.import_module(module), cls), name)
    return settings
