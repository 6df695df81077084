"""The simulator's structural waste is reported, all of it, and nothing else is (issue 17).

A few seeds here (each is a day of a 32-GPU fleet with two weeks of billing); all ten with
``python -m collectors.simulate.waste_eval --seeds 1-10`` (and ``--spread-days 3.3`` to move
each seed's day through the month and the day).
"""

from __future__ import annotations

import pytest

from collectors.simulate import DEFAULT_START
from collectors.simulate.truth import WASTE_INJECTIONS
from collectors.simulate.waste_eval import main, run_seed


@pytest.mark.parametrize(("seed", "start"), [(1, None), (4, DEFAULT_START + 7 * 86400 + 13 * 3600),
                                             (7, DEFAULT_START + 9 * 86400 + 22 * 3600)])
def test_every_injected_waste_is_reported_and_nothing_else(seed: int, start: float | None) -> None:
    sim, sc = run_seed(seed, start=start)
    assert not sc.missed, [(t["kind"], t["resource"]) for t in sc.missed]
    assert not sc.false, [(a["kind"], a["resource"], a["summary"]) for a in sc.false]
    assert not sc.false_anomalies, [(a["kind"], a["resource"], a["summary"]) for a in sc.false_anomalies]
    required = {t["kind"] for t in sim.truth if t["kind"] in WASTE_INJECTIONS and not t.get("optional")}
    assert required == set(WASTE_INJECTIONS)  # every injection has required truth in a 32-GPU day
    assert {t["kind"] for t in sc.caught} == required
    # each kind the detectors have is there (budget_forecast: the run's own budgets)
    assert set(sc.by_kind) == {"underused_gpu", "underused_endpoint", "batch_on_realtime", "redundant_training",
                               "unit_cost_rise", "budget_forecast", "spend_growth"}, sc.by_kind
    assert sim.budgets["teams"] and sim.budgets["workloads"]


def test_the_seed_command_reports_recall_and_false_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--seeds", "2", "--hours", "24", "--gpus", "24"]) == 0
    out = capsys.readouterr().out
    assert "recall" in out and "false insights 0" in out
