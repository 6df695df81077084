"""The realistic scenario generator and its scorer (collectors/simulate/realistic).

Streams are generated at a small scale (two days of telemetry, coarser GPU sampling, fewer billing workloads)
so the module runs in seconds; every phenomenon is still present at that scale.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from collectors.simulate.realistic import generate, score_events, write
from collectors.simulate.realistic.__main__ import main
from collectors.simulate.realistic.common import FAMILY, Book, Window
from collectors.simulate.realistic.fleet import CORE_GPUS, FleetBuilder
from spendwatch.errors import BadEvent
from spendwatch.events import decode

SMALL: dict[str, Any] = {"days": 2.0, "scale": 0.25}
SEEDS = (1, 2, 3)

REQUIRED_TRUTH = {
    "idle": {"hung_job", "job_done_allocated", "straggler", "batch_long_gap", "endpoint_no_traffic",
             "endpoint_drained", "new_node", "busy_wait", "unallocated", "notebook_abandoned"},
    "cost": {"spike", "level_shift", "price_change", "late_spike"},
    "loop": {"crash_loop", "no_gain_loop"},
    "drift": {"mean_shift", "variance_change", "sentinel_share", "categorical_mix"},
    "nodrift": {"retrain_without_drift"},
}
REQUIRED_BENIGN = {
    # fleet
    "batch_queue_gaps", "training_checkpoint_pauses", "eval_pauses", "time_sliced", "notebook_blip", "exporter_gaps",
    "monitoring_sidecar", "price_null_samples", "endpoint_daily_cycle", "pool_scheduling_gaps",
    # billing
    "noiseless_daily_sine", "square_wave", "hourly_cron_burst", "business_hours_weekly", "weekly_rollup",
    "heavy_tailed", "slow_growth", "workload_stops", "newcomer", "late_rows", "duplicate_rows",
    # training runs
    "hparam_sweep", "long_finetune_progress", "nightly_retrain_improving", "single_failure_retry",
    # observations
    "daily_cycle", "heavy_tails", "stable_model",
}
KIND_OF = {"idle": "idle_gpu", "cost": "cost_spike", "loop": "retrain_loop", "drift": "retrain_needed",
           "nodrift": "retrain_without_drift"}


@pytest.fixture(scope="module")
def streams() -> dict[int, Any]:
    return {s: generate(s, **SMALL) for s in SEEDS}


def events_of(gen: Any) -> list[dict[str, Any]]:
    bad = set(gen.truth["bad_line_numbers"])
    return [json.loads(line) for i, line in enumerate(gen.lines, 1) if i not in bad]


def activity(ev: dict[str, Any]) -> float:
    sm = ev.get("sm_active_pct")
    return float(sm if sm is not None else ev["util_gpu_pct"])


def perfect_anomalies(truth: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One open (and a resolve) per truth, detected a minute after it starts."""
    out = []
    for k, t in enumerate(truth):
        a = {"id": f"perfect-{k}", "kind": KIND_OF[t["family"]], "state": "open",
             "resource": t["resource"] if t["resource"] is not None else t["workload"],
             "workload": {"id": t["workload"]} if t["workload"] else None,
             "started_at": t["start"], "detected_at": t["start"] + 60, "waste_usd": 0.0}
        out += [a, dict(a, state="resolved", resolved_at=t["end"])]
    return out


# ---------------------------------------------------------------------------------------------- the stream


def test_deterministic_per_seed(streams: dict[int, Any]) -> None:
    again = generate(1, **SMALL)
    assert again.lines == streams[1].lines
    assert again.truth == streams[1].truth
    assert streams[2].lines[:500] != streams[1].lines[:500]
    assert [t["start"] for t in streams[2].truth["truth"]] != [t["start"] for t in streams[1].truth["truth"]]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_line_is_a_contract_event_except_the_bad_ones(streams: dict[int, Any], seed: int) -> None:
    gen = streams[seed]
    bad = set(gen.truth["bad_line_numbers"])
    assert len(bad) == gen.truth["bad_lines"] > 0
    assert 0.001 <= len(bad) / len(gen.lines) <= 0.004
    rejected, valid = 0, 0
    for i, line in enumerate(gen.lines, 1):
        if i in bad:
            with pytest.raises(BadEvent):
                decode(line)
            rejected += 1
        else:
            decode(line)   # raises on any invalid event
            valid += 1
    assert rejected == len(bad)
    assert valid == gen.truth["events"]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_phenomenon_is_present(streams: dict[int, Any], seed: int) -> None:
    t = streams[seed].truth
    for family, scenarios in REQUIRED_TRUTH.items():
        have = {x["scenario"] for x in t["truth"] if x["family"] == family}
        assert scenarios <= have, f"seed {seed} {family}: missing {scenarios - have}"
    benign = {b["phenomenon"] for b in t["benign"]}
    assert benign >= REQUIRED_BENIGN, f"seed {seed}: missing {REQUIRED_BENIGN - benign}"
    truth = t["truth"]
    hung = {x["variant"] for x in truth if x["scenario"] == "hung_job"}
    assert hung == {"short", "medium", "long"}
    spikes = sorted(x["magnitude"] for x in truth if x["scenario"] == "spike")
    assert len(spikes) >= 4 and spikes[0] >= 3 and spikes[-1] <= 10 and spikes[-1] / spikes[0] > 1.2
    assert {x["period_s"] for x in truth if x["family"] == "cost"} >= {300, 900, 3600, 86400}
    cadences = sorted(x["magnitude"] for x in truth if x["scenario"] == "no_gain_loop")
    assert cadences[0] <= 75 and cadences[-1] >= 90
    crash = [x["magnitude"] for x in truth if x["scenario"] == "crash_loop"]
    assert crash and all(10 <= c <= 40 for c in crash)
    queues = [b for b in t["benign"] if b["phenomenon"] == "batch_queue_gaps"]
    assert len({b["gap_median_min"] for b in queues}) >= 3 and min(b["gap_max_min"] for b in queues) >= 15
    for x in truth:
        assert x["start"] < x["end"], x


def test_stream_sorted_and_shaped(streams: dict[int, Any]) -> None:
    gen = streams[1]
    evs = events_of(gen)
    ts = [e["ts"] for e in evs]
    assert ts == sorted(ts)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        by_type[e["type"]].append(e)
    assert set(by_type) == {"gpu_sample", "billing_delta", "training_run", "model_observation"}
    w = gen.truth["window"]
    bills = by_type["billing_delta"]
    assert {e["period_end"] - e["period_start"] for e in bills} == {300.0, 900.0, 3600.0, 86400.0}
    assert min(e["period_start"] for e in bills) - w["bill_start"] < 86400
    lags = [e["ts"] - e["period_end"] for e in bills]
    assert min(lags) > 0 and max(lags) > 2 * 3600 and statistics.median(lags) < 3600
    token_rows = [e for e in bills if e.get("usage_unit") == "tokens"]
    assert {e["sku"] for e in token_rows} == {"input-tokens", "output-tokens"}
    obs_span = max(e["ts"] for e in by_type["model_observation"]) - min(e["ts"] for e in by_type["model_observation"])
    assert obs_span >= 2.9 * 86400
    migs = {e["mig_uuid"] for e in by_type["gpu_sample"] if e["mig_uuid"]}
    assert len(migs) == 5
    assert any(e["price_per_hour_usd"] is None for e in by_type["gpu_sample"])
    assert any(e["sm_active_pct"] is None for e in by_type["gpu_sample"])


def test_default_fleet_samples_every_15_to_60_s() -> None:
    win = Window.make(4, 3.0)
    fb = FleetBuilder(4, win, CORE_GPUS, 1.0, Book())
    devices = fb.build()
    assert {n.interval for n in fb.nodes} <= {15.0, 20.0, 30.0, 60.0}
    per_node: dict[str, set[str]] = defaultdict(set)
    for d in devices:
        per_node[d.node.name].add(d.gpu_uuid)
    assert sorted(len(v) for v in per_node.values()) == [4, 8, 8, 8, 8, 8, 8]
    assert len({d.gpu_uuid for d in devices}) == CORE_GPUS


def test_disorder_reorders_only_billing_rows(streams: dict[int, Any]) -> None:
    ordered = streams[1]
    shuffled = generate(1, disorder=True, **SMALL)
    assert sorted(shuffled.lines) == sorted(ordered.lines)
    assert shuffled.truth["truth"] == ordered.truth["truth"]
    evs = events_of(shuffled)
    others = [e["ts"] for e in evs if e["type"] != "billing_delta"]
    assert others == sorted(others)
    bills = [e["ts"] for e in evs if e["type"] == "billing_delta"]
    assert bills != sorted(bills)
    latest = 0.0   # a billing row appears in the file at most a few hours after its ts
    worst = 0.0
    for e in evs:
        if e["type"] == "billing_delta":
            worst = max(worst, latest - e["ts"])
        else:
            latest = max(latest, e["ts"])
    assert 600 < worst <= 4 * 3600 + 60


# ----------------------------------------------------------------------- the truth matches the stream


def test_idle_truths_are_idle_and_peers_busy(streams: dict[int, Any]) -> None:
    gen = streams[2]
    samples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events_of(gen):
        if e["type"] == "gpu_sample":
            samples[e["mig_uuid"] or e["gpu_uuid"]].append(e)
    idle = [t for t in gen.truth["truth"] if t["family"] == "idle"]
    for t in idle:
        inside = [s for s in samples[t["resource"]] if t["start"] + s["interval_s"] + 2 < s["ts"] <= t["end"]]
        assert inside, t
        busy = [s for s in inside if activity(s) >= 2]
        if t["scenario"] == "notebook_abandoned":   # one short burst of activity in the middle
            assert 0 < len(busy) * inside[0]["interval_s"] <= 8 * 60
        else:
            assert not busy, (t["scenario"], len(busy), len(inside))
    st = next(t for t in idle if t["scenario"] == "straggler")
    peers = {s["gpu_uuid"] for v in samples.values() for s in v
             if s["workload"] and s["workload"]["id"] == st["workload"]} - {st["resource"]}
    assert len(peers) == 3
    for p in peers:
        acts = [activity(s) for s in samples[p] if st["start"] < s["ts"] <= st["end"] - 600]
        assert statistics.median(acts) > 20
    gap = next(t for t in idle if t["scenario"] == "batch_long_gap")
    quiet, start = [], None   # the same GPU's other idle gaps, from its samples
    for s in samples[gap["resource"]]:
        if activity(s) < 2:
            start = s["ts"] - s["interval_s"] if start is None else start
        elif start is not None:
            if not gap["start"] - 300 <= start <= gap["end"]:
                quiet.append(s["ts"] - s["interval_s"] - start)
            start = None
    assert len(quiet) >= 5
    assert gap["end"] - gap["start"] >= 4 * statistics.median(quiet)
    assert statistics.median(quiet) >= 10 * 60


def test_cost_truths_are_excess_spend(streams: dict[int, Any]) -> None:
    gen = streams[3]
    spend: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    tokens: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for e in events_of(gen):
        if e["type"] == "billing_delta":
            spend[e["workload"]["id"]][e["period_start"]] += e["cost_usd"]
            tokens[e["workload"]["id"]][e["period_start"]] += e.get("usage_quantity") or 0.0
    for t in gen.truth["truth"]:
        if t["family"] != "cost":
            continue
        per = spend[t["workload"]]
        span = t["start"] + t["periods"] * t["period_s"]
        inside = [v for p, v in per.items() if t["start"] <= p < span]
        week_before = [v for p, v in per.items() if t["start"] - 7 * 86400 <= p < t["start"]]
        ratio = statistics.median(inside) / statistics.median(week_before)
        assert ratio > 0.6 * t["magnitude"], (t["scenario"], ratio, t["magnitude"])
        if t["scenario"] == "price_change":   # same tokens, pricier model
            tk = tokens[t["workload"]]
            tok_ratio = statistics.median([v for p, v in tk.items() if t["start"] <= p < span]) / \
                statistics.median([v for p, v in tk.items() if t["start"] - 7 * 86400 <= p < t["start"]])
            assert 0.6 < tok_ratio < 1.6


# ---------------------------------------------------------------------------------------------- the scorer


def test_perfect_detections_score_one(streams: dict[int, Any]) -> None:
    doc = streams[1].truth
    res = score_events(doc, perfect_anomalies(doc["truth"]))
    for fam, row in res["families"].items():
        n = sum(1 for t in doc["truth"] if t["family"] == fam)
        assert (row["tp"], row["fn"], row["fp"], row["dup"]) == (n, 0, 0, 0), fam
        assert row["precision"] == 1.0 and row["recall"] == 1.0
        assert row["median_open_min"] == 1.0
    assert res["fp_idle_per_1000_gpu_h"] == 0 and res["fp_cost_per_100_workload_weeks"] == 0
    assert not res["fps"] and not res["missed"]


def test_extra_duplicate_and_other_kinds(streams: dict[int, Any]) -> None:
    doc = streams[1].truth
    anomalies = perfect_anomalies(doc["truth"])
    queue = next(b for b in doc["benign"] if b["phenomenon"] == "batch_queue_gaps"
                 and not any(t["resource"] == b["resource"] for t in doc["truth"]))
    w = doc["window"]
    anomalies.append({"id": "extra-1", "kind": "gpu_memory_hoarding", "state": "open", "resource": queue["resource"],
                      "workload": {"id": queue["workload"]}, "detected_at": w["gpu_start"] + 7200})
    first_idle = next(t for t in doc["truth"] if t["family"] == "idle")
    anomalies.append({"id": "second-id", "kind": "idle_gpu", "state": "open", "resource": first_idle["resource"],
                      "workload": None, "detected_at": first_idle["start"] + 600})
    anomalies.append({"id": "report-1", "kind": "underused_gpu", "state": "open", "resource": queue["resource"],
                      "workload": None, "detected_at": w["gpu_start"] + 9000})
    late = next(t for t in doc["truth"] if t["family"] == "cost" and t["scenario"] == "spike")
    anomalies.append({"id": "too-early", "kind": "cost_spike", "state": "open", "resource": late["workload"],
                      "workload": {"id": late["workload"]}, "detected_at": late["start"] - 61})
    res = score_events(doc, anomalies)
    idle = res["families"]["idle"]
    assert idle["fp"] == 1 and idle["dup"] == 1 and idle["fn"] == 0
    assert idle["precision"] == pytest.approx(idle["tp"] / (idle["tp"] + 1))
    assert res["families"]["cost"]["fp"] == 1 and res["families"]["cost"]["recall"] == 1.0
    assert res["other_kinds"] == {"underused_gpu": 1}
    fp = next(a for a in res["fps"] if a["id"] == "extra-1")
    assert "batch_queue_gaps" in fp["phenomena"]
    assert res["fp_idle_per_1000_gpu_h"] == pytest.approx(1000 / doc["gpu_hours"])
    assert set(FAMILY.values()) == set(res["families"])


def test_window_grace_for_short_truths() -> None:
    doc = {"truth": [{"family": "idle", "scenario": "x", "resource": "GPU-a", "workload": None, "start": 1000.0,
                      "end": 1600.0, "magnitude": 0.2}], "benign": [], "gpu_hours": 10.0,
           "billing_workload_weeks": 1.0}

    def at(det: float) -> dict[str, Any]:
        return score_events(doc, [{"id": "a", "kind": "idle_gpu", "state": "open", "resource": "GPU-a",
                                   "detected_at": det}])["families"]["idle"]
    assert at(1000 + 44 * 60)["tp"] == 1          # within 45 min of a 10-minute truth
    assert at(1000 + 46 * 60)["fp"] == 1
    assert at(940)["tp"] == 1 and at(938)["fp"] == 1


def test_cli_score_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], streams: dict[int, Any]) -> None:
    out = tmp_path / "s2"
    write(str(out), streams[2])
    truth = json.loads((out / "truth.json").read_text())
    anomalies = tmp_path / "a.jsonl"
    anomalies.write_text("\n".join(json.dumps(a) for a in perfect_anomalies(truth["truth"])) + "\nnot json\n")
    capsys.readouterr()
    assert main(["score", str(out), str(anomalies)]) == 0
    text = capsys.readouterr().out
    assert "idle" in text and "1.00" in text and "unparsable anomaly lines: 1" in text
    # run: a stand-in detector command that answers with the truth it finds beside the events
    script = tmp_path / "oracle.py"
    script.write_text(
        "import json, os, sys\n"
        "events, out = sys.argv[1], sys.argv[sys.argv.index('--out') + 1]\n"
        "truth = json.load(open(os.path.join(os.path.dirname(events), 'truth.json')))['truth']\n"
        "kinds = {'idle': 'idle_gpu', 'cost': 'cost_spike', 'loop': 'retrain_loop', 'drift': 'retrain_needed',\n"
        "         'nodrift': 'retrain_without_drift'}\n"
        "with open(out, 'w') as f:\n"
        "    for k, t in enumerate(truth[1:]):\n"
        "        f.write(json.dumps({'id': str(k), 'kind': kinds[t['family']], 'state': 'open',\n"
        "                            'resource': t['resource'] or t['workload'], 'workload': {'id': t['workload']},\n"
        "                            'detected_at': t['start'] + 120}) + '\\n')\n")
    capsys.readouterr()
    rc = main(["run", "--seeds", "2", "--cmd", f"{sys.executable} {script}", "--days", "2", "--scale", "0.25",
               "--keep", str(tmp_path / "runs"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    fams = doc["summary"]["families"]
    first = truth["truth"][0]["family"]
    assert fams[first]["fn"] == 1 and sum(f["fp"] for f in fams.values()) == 0
    assert sum(f["tp"] for f in fams.values()) == len(truth["truth"]) - 1
    assert os.path.exists(tmp_path / "runs" / "seed-2" / "anomalies.jsonl")


def test_cli_gen_refuses_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gen", str(tmp_path / "x"), "--days", "1"]) == 2
    assert "--days must be at least 2" in capsys.readouterr().err
    assert main(["gen", str(tmp_path / "x"), "--scale", "0"]) == 2
    assert not (tmp_path / "x").exists()


def test_write_files(tmp_path: Path, streams: dict[int, Any]) -> None:
    ev, tr = write(str(tmp_path), streams[3])
    assert Path(ev).read_text().count("\n") == len(streams[3].lines)
    assert json.loads(Path(tr).read_text())["seed"] == 3
