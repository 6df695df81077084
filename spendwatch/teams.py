"""The name of the team that owns what is allocated to nobody, one setting for every part.

An anomaly (or spend) whose ``workload`` is null is a GPU allocated to nobody: capacity waste,
not any team's job. Routing matches and groups it, silences match it, the history selects it
(``spendwatch anomalies --team unallocated``), and the demo, the report and the dashboard show
it under one name: ``teams.unallocated`` in the settings, default ``unallocated``.

Why ``unallocated`` and not ``platform`` (routing's name before): it says what it is, and it
cannot be mistaken for, or merged with, a real team called ``platform`` (a common name for the
team that runs the fleet). Where that team should get these alerts, route them to it
(``match: {team: unallocated}``) or set ``teams: {unallocated: platform}``. The contract says
nothing about this name: it is never written into an event, only used to read one.

A workload that has no ``team`` is not unallocated: it has an owner and a workload id, and
its team is simply unknown (``-`` in tables, ``null`` in JSON).

>>> team_of({"workload": None})
'unallocated'
>>> team_of({"workload": {"id": "ml/train", "team": "vision"}}, "platform")
'vision'
>>> team_of({"workload": {"id": "ml/train"}}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spendwatch.errors import ConfigError

UNALLOCATED_TEAM = "unallocated"


@dataclass(frozen=True)
class TeamsConfig:
    """The ``teams`` settings section.

    Parameters
    ----------
    unallocated : str
        Team name of anomalies and spend with no workload (GPUs allocated to nobody), default
        ``unallocated``.
    """

    unallocated: str = UNALLOCATED_TEAM

    def __post_init__(self) -> None:
        if not self.unallocated.strip() or len(self.unallocated) > 512:
            raise ConfigError("teams.unallocated: must be a non-empty name of at most 512 characters")


def team_of(anomaly: Mapping[str, Any], unallocated: str = UNALLOCATED_TEAM) -> str | None:
    """The team of an anomaly: its workload's team, ``unallocated`` when it has no workload."""
    wl = anomaly.get("workload")
    if wl is None:
        return unallocated
    team = wl.get("team") if isinstance(wl, Mapping) else None
    return None if team is None else str(team)


def unallocated_team(settings: Any) -> str:
    """``teams.unallocated`` of loaded :class:`spendwatch.config.Settings` (None: the default)."""
    if settings is None:
        return UNALLOCATED_TEAM
    return str(settings.build(TeamsConfig, "teams").unallocated)
