"""A realistic scenario generator and scorer, independent of the public scorecard.

``generate(seed, ...)`` builds one stream of contract events (GPU samples of a mixed fleet, two to three weeks of
billing rows, training runs, model observations, ~0.2 % bad lines) and its truth: the must-catch problems
(``truth``) and the benign phenomena by resource and workload (``benign``). ``score_events`` scores anomaly events
against it with the public scorecard's matching rules. See docs/realistic-scenarios.md and the module docstrings
(fleet, billing, training, observations) for the sources of each distribution.
"""

from collectors.simulate.realistic.score import score_dir, score_events
from collectors.simulate.realistic.stream import Generated, generate, write

__all__ = ["Generated", "generate", "score_dir", "score_events", "write"]
