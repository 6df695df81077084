"""Feedback through the worker: a "not a problem" published to ``spendwatch.feedback`` reaches the
Engine that holds that GPU's state (it is partitioned by the GPU's node, as its samples are), and
the detector learns from it there as it does in replay."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import Worker, anomalies, make_topics, produce

from tests.detectors.test_quality import T0, H, feedback, nightly_batch_and_a_straggler

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]


def _first_opens(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for a in events:
        if a["state"] == "open":
            first.setdefault(a["id"], a)
    return first


def test_not_a_problem_through_the_worker_stops_the_next_gaps_and_a_straggler_still_pages(
        kafka_bootstrap: str, unique: str, tmp_path: Path) -> None:
    events = nightly_batch_and_a_straggler()
    lines = [orjson.dumps(e) for e in events]
    cut = next(i for i, e in enumerate(events) if e["ts"] >= T0 + 22.5 * H)  # inside the first night's gap
    prefix, group = f"t{unique}.", f"g{unique}"
    make_topics(kafka_bootstrap, prefix, group)
    w = Worker(kafka_bootstrap, prefix, group, tmp_path)
    try:
        assert produce(kafka_bootstrap, prefix, lines[:cut]) == cut
        deadline, first_gap = time.monotonic() + 120, None
        while first_gap is None and time.monotonic() < deadline:
            assert w.proc.poll() is None, w.log()[-3000:]
            first_gap = next((a for a in anomalies(kafka_bootstrap, prefix, idle_s=1.0)
                              if a["state"] == "open" and a["resource"] == "GPU-nightly"), None)
        assert first_gap is not None, w.log()[-3000:]
        # the owner clicks "Not a problem" (the API publishes it like this), then the stream goes on. The rest
        # of the stream is produced once the verdict has been applied: produced together, a loaded machine can
        # fetch the GPU's next busy samples more than the lead bound's hold (2 s) before the verdict, and the
        # anomaly then ends as "busy again" first (a race of the test's two producers, not of the product)
        verdict = feedback(first_gap, first_gap["detected_at"] + 60)
        assert produce(kafka_bootstrap, prefix, [orjson.dumps(verdict)]) == 1
        deadline, applied = time.monotonic() + 120, False
        while not applied and time.monotonic() < deadline:
            assert w.proc.poll() is None, w.log()[-3000:]
            applied = any(a["id"] == first_gap["id"] and a["state"] == "resolved"
                          for a in anomalies(kafka_bootstrap, prefix, idle_s=1.0))
        assert applied, w.log()[-3000:]
        assert produce(kafka_bootstrap, prefix, lines[cut:]) == len(lines) - cut
        deadline, got = time.monotonic() + 150, []
        while time.monotonic() < deadline:
            got = anomalies(kafka_bootstrap, prefix, idle_s=1.0)
            if any(a["resource"] == "GPU-r0" for a in got):
                break
            time.sleep(1.0)
        time.sleep(3.0)  # the rest of the stream: nothing more may open for GPU-nightly
        got = anomalies(kafka_bootstrap, prefix, idle_s=2.0)
    finally:
        w.terminate()
    opens = _first_opens(got)
    nightly = [a for a in opens.values() if a["resource"] == "GPU-nightly"]
    assert [a["id"] for a in nightly] == [first_gap["id"]], w.log()[-3000:]  # the next nights' gaps stay quiet
    ends = [a for a in got if a["id"] == first_gap["id"] and a["state"] == "resolved"]
    assert ends and ends[0]["evidence"]["resolution"] == "marked not a problem by U0ANA"
    assert [a["resource"] for a in opens.values() if a["resource"].startswith("GPU-r")] == ["GPU-r0"]
    assert [a for a in opens.values() if a["resource"] == "GPU-r0"][0]["started_at"] >= T0 + 50 * H - 120
