"""`spendwatch replay --truth FILE` scores a run against `spendwatch simulate`'s truth, as the demo does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collectors.simulate.truth import WASTE_INJECTIONS
from spendwatch.cli import main


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "--hours", "3", "--gpus", "8", "--seed", "3", "--out", str(d / "ev.jsonl"),
                 "--truth", str(d / "truth.json")]) == 0
    return d / "ev.jsonl", d / "truth.json"


def test_truth_table_and_json(simulated: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, truth = simulated
    incidents = [t for t in json.loads(truth.read_text())["truth"] if t["kind"] not in WASTE_INJECTIONS]
    capsys.readouterr()
    assert main(["replay", str(events), "--truth", str(truth), "--out", str(tmp_path / "a.jsonl")]) == 0
    table = capsys.readouterr().out
    m = re.search(r"Injected problems caught: (\d+) of (\d+)", table)
    assert m, table
    assert int(m.group(2)) == len(incidents) > 0
    caught = int(m.group(1))
    assert caught > 0
    assert len(re.findall(r"^  ok ", table, re.M)) == caught
    assert main(["replay", str(events), "--truth", str(truth), "--json", "--out", str(tmp_path / "b.jsonl")]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    score = summary["truth_score"]
    assert (score["format"], score["caught"], score["injected"]) == ("simulate", caught, len(incidents))
    ids = {json.loads(line)["id"] for line in (tmp_path / "b.jsonl").read_text().splitlines()}
    assert all(p["anomaly_id"] in ids for p in score["problems"] if p["caught"])


def test_bad_truth_file_is_a_clear_error(simulated: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    events, _truth = simulated
    bad = tmp_path / "t.json"
    bad.write_text('{"seed": 1}')
    assert main(["replay", str(events), "--truth", str(bad)]) == 2
    assert "expected a truth document with a 'truth' list" in capsys.readouterr().err
