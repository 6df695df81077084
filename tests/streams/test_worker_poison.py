"""The poison records of a reliability trial (issue 14) through a real worker on Apache Kafka.

``tests/test_poison.py`` runs these records through ``spendwatch replay``; here the same kinds of
record sit in one simulated stream produced to the contract topics, and one worker reads it to
the end (``--exit-when-idle``). Each used to stop the product: an array or object ``status``
raised ``TypeError`` in validation (the worker exited 1 on every restart, the record never
committed), absurd money and quantities overflowed the detectors, a sample dated far ahead moved
the watermark and resolved open problems early, a deep or huge unknown field made every snapshot
fail. Now the worker keeps running, dead-letters every poison record once with a reason that
names the field, commits past everything, and publishes what ``replay`` makes of the same lines.
"""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import Worker, assert_same_problems, committed_everything, kcfg, make_topics, produce, read_topic

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.contract import FEEDBACK
from streams.replay import ReplayStats, replay_lines
from streams.topics import WORKER_INPUTS
from tests.test_poison import with_huge_unknown_fields

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(150)]

AT = 5500  # a line in the middle of the stream: idle GPUs, hoarding and drift are open there
YEAR = 365 * 86400.0


def _first(lines: list[bytes], etype: str, at: int = 0) -> dict[str, Any]:
    for raw in lines[at:]:
        ev: dict[str, Any] = orjson.loads(raw)
        if ev["type"] == etype:
            return ev
    raise AssertionError(f"no {etype} after line {at}")


def _hostile_but_valid(base: list[bytes]) -> list[bytes]:
    """The stream with valid but hostile values that must not hurt: NUL in every workload's id,
    owner and team (GPU samples and billing rows), and, on the last sample of every GPU before
    ``AT``, a 0.9 MB or a 600-deep unknown field, a 100 kB unknown workload field and 10 kB
    unknown process fields (detector state kept them: snapshots failed or passed 16 MiB)."""
    lines = []
    for raw in base:
        ev = orjson.loads(raw)
        w = ev.get("workload")
        if ev["type"] in ("gpu_sample", "billing_delta") and w:
            w["owner"] = w.get("owner", "o") + "\u0000evil"
            w["team"] = "te\u0000am"
            w["id"] = w["id"] + "\u0000"
            raw = orjson.dumps(ev)
        lines.append(raw.rstrip(b"\n"))
    return with_huge_unknown_fields(lines, AT)


def _poison(lines: list[bytes]) -> list[tuple[bytes, str]]:
    """Each poison record and the field its reason must name."""
    out: list[tuple[bytes, str]] = []
    for status in (["succeeded"], {"state": "failed"}, [], {}):  # TypeError: unhashable, in validation
        run = _first(lines, "training_run")
        run["status"] = status
        out.append((orjson.dumps(run), "status"))
    row = _first(lines, "billing_delta")
    row["charge_category"] = ["usage"]
    out.append((orjson.dumps(row), "charge_category"))
    gpu = _first(lines, "gpu_sample", AT)
    out.append((orjson.dumps({**gpu, "price_per_hour_usd": 1.7e308}), "price_per_hour_usd"))  # inf a day
    for i in range(5):  # spurious cost spikes; a real one lost
        out.append((orjson.dumps({**row, "charge_category": "usage", "cost_usd": 1.7e308,
                                  "resource_id": f"absurd-{i}"}), "cost_usd"))
    llm = [ev for ev in map(orjson.loads, lines) if ev["type"] == "billing_delta" and ev.get("model")][:3]
    assert llm
    for ev in llm:  # tokens summed to infinity; cost per token raised OverflowError
        out.append((orjson.dumps({**ev, "usage_quantity": 1.7e308}), "usage_quantity"))
    later = _first(lines, "gpu_sample", AT + 50)  # another GPU sample: far ahead of the stream's time
    out.append((orjson.dumps({**later, "ts": later["ts"] + YEAR}), "ts"))
    out.append((orjson.dumps({**later, "ts": 1e11}), "ts"))
    w = copy.deepcopy(gpu["workload"])
    w["labels"] = {f"k{i}": "v" for i in range(300)}
    out.append((orjson.dumps({**gpu, "workload": w}), "workload.labels"))
    out.append((orjson.dumps({**gpu, "processes": [{"pid": i, "used_mem_bytes": 1} for i in range(1100)]}),
                "processes"))
    obs = _first(lines, "model_observation")
    out.append((orjson.dumps({**obs, "values": {f"f{i}": [1.0] for i in range(1100)}}), "values"))
    verdict = {"type": FEEDBACK, "ts": gpu["ts"], "anomaly_id": "a" * 32, "kind": "idle_gpu",
               "resource": gpu["gpu_uuid"], "workload": gpu["workload"],
               "key": f"{gpu['node']}/{gpu.get('mig_uuid') or gpu['gpu_uuid']}",
               "verdict": "not_a_problem", "by": "U0ANA", "evidence": {}}
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"d": deep}
    out.append((orjson.dumps({**verdict, "evidence": deep}), "evidence"))
    return out


@pytest.fixture(scope="module")
def poisoned() -> tuple[list[bytes], list[tuple[bytes, str]]]:
    """Three hours of an 8-GPU fleet with every problem injected (about 10k lines), hostile values
    in it and the poison records inserted before line ``AT``."""
    lines = _hostile_but_valid(simulate(SimConfig(hours=3, gpus=8, seed=5, billing_days=1)).lines)
    poison = _poison(lines)
    lines[AT:AT] = [raw for raw, _field in poison]
    return lines, poison


def test_poison_records_are_dead_lettered_and_the_rest_gives_replays_output(
        kafka_bootstrap: str, unique: str, tmp_path: Path,
        poisoned: tuple[list[bytes], list[tuple[bytes, str]]]) -> None:
    lines, poison = poisoned
    reported: list[tuple[int, str]] = []
    expected = list(replay_lines(lines, Engine(), ReplayStats(), lambda n, reason, _raw: reported.append((n, reason))))
    # replay reports exactly the poison lines, each once, by the field (the premise of the comparison)
    assert sorted(n for n, _ in reported) == list(range(AT + 1, AT + 1 + len(poison))), reported
    for n, reason in reported:
        assert reason.startswith(poison[n - AT - 1][1] + ":"), (n, reason)
    expected = [a for a in expected if a["type"] == "anomaly"]
    assert len({a["id"] for a in expected}) >= 5  # hoarding, retrain loops: open problems to compare

    prefix, group = f"t{unique}.", f"g{unique}"
    make_topics(kafka_bootstrap, prefix, group)
    assert produce(kafka_bootstrap, prefix, lines) == len(lines)
    w = Worker(kafka_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "3")
    assert w.wait(120) == 0, w.log()[-3000:]  # never crashed

    # every poison record dead-lettered once, with its reason, and nothing else
    kafka = kcfg(kafka_bootstrap, prefix)
    originals = {(r.topic, r.partition, r.offset): r.value for t in WORKER_INPUTS
                 for r in read_topic(kafka_bootstrap, kafka.topic(t), idle_s=0.5)}
    dead = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.deadletter")]
    got = Counter(originals[(d["topic"], d["partition"], d["offset"])] for d in dead)  # origin is exact
    assert got == Counter(raw for raw, _field in poison), w.log()[-3000:]
    field_of = dict(poison)
    for d in dead:
        raw = originals[(d["topic"], d["partition"], d["offset"])]
        assert d["reason"].startswith(field_of[raw] + ":"), (raw[:80], d["reason"])
    # committed past everything: nothing left for the next owner (offsets 0..n-1 of every input topic)
    assert committed_everything(kafka_bootstrap, prefix, group) == (len(lines), len(lines))

    # the rest of the stream gives replay's anomalies: the same ids and as many events of each state
    found = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.anomalies")]
    assert_same_problems(found, expected)
    assert Counter((a["id"], a["state"]) for a in found) == Counter((a["id"], a["state"]) for a in expected)
    assert any(a["workload"] and "\u0000" in a["workload"]["team"] for a in found)  # NUL kept, as replay keeps it
