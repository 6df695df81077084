"""The worker tests' stream: the public scorecard (or a simulated fleet of its shape) and replay's output."""

from __future__ import annotations

import pytest
from kafkatools import Stream, scorecard, triples


@pytest.fixture(scope="session")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    s = scorecard(tmp_path_factory.mktemp("scorecard"))
    assert len(triples(s.expected)) >= 10, "the scorecard stream must give anomalies to compare"
    assert s.bad > 0, "the stream must hold malformed lines for the dead-letter checks"
    return s
