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


# --------------------------------------------------------------------------- the realistic generator's truth.json
@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest realistic stream with truth: two days (the least it takes) at a tenth of the volume."""
    from collectors.simulate.realistic.__main__ import main as realistic_main

    d = tmp_path_factory.mktemp("realistic")
    assert realistic_main(["gen", str(d), "--seed", "1", "--days", "2", "--scale", "0.1"]) == 0
    return d


def test_realistic_truth_scores_per_family_as_its_own_scorer(realistic: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`replay --truth truth.json` gives what `python -m collectors.simulate.realistic score` gives for the
    same anomalies; a truth added (not there to find) is a miss, a truth taken out makes its anomaly false."""
    from collectors.simulate.realistic.common import FAMILIES
    from collectors.simulate.realistic.score import score_dir
    from streams.truth import read_truth, render
    from streams.truth import score as score_truth

    doc = json.loads((realistic / "truth.json").read_text())
    capsys.readouterr()
    out = tmp_path / "anomalies.jsonl"
    assert main(["replay", str(realistic / "events.jsonl"), "--truth", str(realistic / "truth.json"),
                 "--out", str(out), "--json"]) == 0
    score = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["truth_score"]
    assert score["format"] == "realistic" and score["seed"] == doc["seed"] == 1
    families = score["families"]
    assert set(families) == set(FAMILIES)
    for fam in FAMILIES:
        assert families[fam]["tp"] + families[fam]["fn"] == sum(t["family"] == fam for t in doc["truth"]) > 0
    assert sum(f["tp"] for f in families.values()) > 0
    alone = score_dir(str(realistic), str(out))  # the generator's scorer over the anomalies replay wrote
    assert {f: (r["tp"], r["fn"], r["fp"], r["dup"]) for f, r in families.items()} == \
           {f: (r["tp"], r["fn"], r["fp"], r["dup"]) for f, r in alone["families"].items()}
    assert score["anomaly_ids"] == alone["anomaly_ids"] and score["gpu_hours"] == alone["gpu_hours"] > 0

    # a phantom idle truth nothing can catch, and one caught cost truth (the only one on its workload) taken out
    missed = {(t["family"], t["workload"], t["start"]) for t in score["missed"]}
    cost_wids = [t["workload"] for t in doc["truth"] if t["family"] == "cost"]
    cost = next(i for i, t in enumerate(doc["truth"]) if t["family"] == "cost" and cost_wids.count(t["workload"]) == 1
                and ("cost", t["workload"], t["start"]) not in missed)
    phantom = {**doc["truth"][0], "family": "idle", "scenario": "hung_job", "resource": "GPU-phantom",
               "workload": None, "start": doc["truth"][0]["start"], "end": doc["truth"][0]["start"] + 3600}
    changed = {**doc, "truth": [t for i, t in enumerate(doc["truth"]) if i != cost] + [phantom]}
    edited = tmp_path / "truth.json"
    edited.write_text(json.dumps(changed))
    # what replay --truth does with the anomalies it replayed (the replay itself is as above)
    table = render(score_truth(read_truth(str(edited)), [json.loads(line) for line in out.read_text().splitlines()]))
    rows = {m.group(1): tuple(int(x) for x in m.groups()[1:])
            for m in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", table, re.M)}
    assert set(rows) == set(FAMILIES), table
    idle, cost_row = families["idle"], families["cost"]
    assert rows["idle"] == (idle["tp"], idle["fn"] + 1, idle["fp"], idle["dup"])
    # the anomalies of the truth taken out match no other truth: its first and its duplicates are false now
    tp, fn, fp, dup = rows["cost"]
    assert (tp, fn, fp + dup) == (cost_row["tp"] - 1, cost_row["fn"], cost_row["fp"] + cost_row["dup"] + 1)
    assert "fn: idle hung_job resource=GPU-phantom" in table
