"""One anomaly's duration reads the same in the demo's table, the Slack alert and `spendwatch anomalies`."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from alerting.render import blocks_to_text, change_text, render_single
from spendwatch.cli.anomalies import print_table
from spendwatch.cli.demo import _print_anomalies
from spendwatch.format import anomaly_duration, duration

T0 = 1_774_384_000.0


def _anomaly(state: str, lasted_s: float) -> dict[str, Any]:
    end = T0 + lasted_s
    return {"type": "anomaly", "id": "idle_gpu-abc", "kind": "idle_gpu", "state": state, "severity": "warning",
            "workload": {"id": "ml/train", "team": "vision", "owner": "ana@corp.example"}, "resource": "GPU-1",
            "started_at": T0, "detected_at": T0 + 600, "resolved_at": end if state == "resolved" else None,
            "waste_usd": 12.5, "projected_daily_usd": 70.8, "summary": "GPU idle", "evidence": {}, "ts": end}


def _three_renderings(a: dict[str, Any]) -> tuple[str, str, str]:
    out: list[str] = []
    _print_anomalies(out.append, [dict(a)], "Anomalies", a["ts"])
    demo = re.search(r"\d\d-\d\d \d\d:\d\d \(([^()]+)\)", "".join(out))
    _text, blocks = render_single(a, lambda owner: owner or "-")
    slack = re.search(r"(?:after|for) (.+?)(?:,| and counting)", blocks_to_text(blocks))
    buf = io.StringIO()
    print_table([a], buf, now=a["ts"])
    row = buf.getvalue().splitlines()[1]
    history = re.search(r"\d\d:\d\d\s+(.+?)\s+\$", row)
    assert demo and slack and history, (out, blocks_to_text(blocks), row)
    return demo.group(1), slack.group(1), history.group(1)


@pytest.mark.parametrize(("state", "lasted_s", "expected"), [
    ("resolved", 42 * 60, "42 min"), ("resolved", 3 * 3600 + 12 * 60, "3.2 h"), ("open", 3 * 3600 + 12 * 60, "3.2 h"),
    ("resolved", 2.5 * 86400, "2.5 d"), ("open", 59.8 * 60, "1.0 h"),
])
def test_one_anomaly_shows_one_duration_everywhere(state: str, lasted_s: float, expected: str) -> None:
    a = _anomaly(state, lasted_s)
    assert _three_renderings(a) == (expected, expected, expected)
    assert anomaly_duration(a) == expected


def test_the_resolution_reply_uses_it_too() -> None:
    old, new = _anomaly("open", 3600), _anomaly("resolved", 3 * 3600 + 12 * 60)
    assert "after 3.2 h;" in change_text(old, new, in_group=False)


def test_duration_units() -> None:
    assert [duration(s) for s in (0, 30, 59 * 60, 3600, 86400 - 60, 86400, 252 * 86400)] == \
        ["0 min", "0 min", "59 min", "1.0 h", "1.0 d", "1.0 d", "252.0 d"]
