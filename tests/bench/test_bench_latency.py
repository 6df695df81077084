"""The live latency benchmark's stream: its idle GPUs must open inside the measured window, on the
live sample that ends their dwell (else the benchmark measures nothing, or something else)."""

from __future__ import annotations

import orjson

from bench.bench_latency import _live_sample, live_backlog
from detectors.engine import Engine


def test_the_live_streams_victims_open_on_live_samples_spread_over_the_window() -> None:
    t_live, seconds, victims = 1_800_000_000.0, 30, 4
    engine = Engine()
    out = []
    for line in live_backlog(t_live, victims, seconds):
        out += engine.process(orjson.loads(line))
    assert out == []  # nothing opens before the window
    for sec in range(seconds):
        for i in range(victims + 2):  # the victims, still idle, and two busy GPUs beside them
            ts = t_live + sec + i / 10
            util = 0.0 if i < victims else 70.0
            out += engine.process(orjson.loads(_live_sample(ts, i, util, 1.0, i < victims)))
    opened = [a for a in out if a["state"] == "open"]
    assert sorted(a["resource"] for a in opened) == [f"GPU-v{i:07d}" for i in range(victims)]
    at = sorted(a["ts"] - t_live for a in opened)
    assert at[0] >= 3 and at[-1] <= seconds - 3 and at[-1] - at[0] >= seconds / 2
