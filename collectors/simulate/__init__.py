"""The fleet simulator: a realistic contract event stream with optional injected problems.

``simulate(SimConfig(hours=6, gpus=16, seed=3))`` gives a :class:`Simulation`: the stream
sorted by ``ts`` and the truth (what was injected). The method and its parts:
:mod:`collectors.simulate.builder`; ``docs/simulator.md``.
"""

from collectors.simulate.builder import Simulation, simulate
from collectors.simulate.config import DAY, DEFAULT_START, HOUR, MIN, SimConfig
from collectors.simulate.truth import EXPECTED_KINDS, INJECTIONS, parse_inject

__all__ = ["DAY", "DEFAULT_START", "EXPECTED_KINDS", "HOUR", "INJECTIONS", "MIN", "SimConfig", "Simulation",
           "parse_inject", "simulate"]
