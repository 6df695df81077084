"""Bad input never stops the worker: every kind goes to the dead-letter topic with its reason and origin.

Runs the worker in-process through ``streams.runner.run_worker_until_idle`` (the entry point
``spendwatch demo --kafka`` uses), so this also covers that API.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from kafkatools import kcfg, read_topic

from spendwatch.config import Settings
from streams.runner import run_worker_until_idle
from tests.factories import A100, billing_delta, gpu_sample, workload

pytestmark = pytest.mark.timeout(90)

GPU = "spendwatch.gpu.samples"
BILL = "spendwatch.billing.deltas"
TRAIN = "spendwatch.training.runs"
OBS = "spendwatch.model.observations"
T0 = 1_774_000_000.0


def gpu(ts: float, **over: Any) -> dict[str, Any]:
    return gpu_sample(ts, **{"gpu_model": A100, "mem_used_bytes": 1 << 30, "price_per_hour_usd": 3.0,
                             "workload": workload("ml/notebook-a", kind="notebook", team="ml"), **over})


def billing(ts: float, **over: Any) -> dict[str, Any]:
    return billing_delta(ts, **{"cost_usd": 5.0, "workload": workload("ml/trainer"), **over})


def _j(obj: Any) -> bytes:
    return orjson.dumps(obj)


# (topic, value, the start of the reason we expect)
BAD: list[tuple[str, bytes | None, str]] = [
    (GPU, b"this is not JSON at all", "not valid JSON"),
    (GPU, b"\xff\xfe\x00\x81 binary garbage", "not valid JSON"),
    (GPU, b"", "not valid JSON"),
    (GPU, None, "empty value"),
    (GPU, b'{"type": "gpu_sample", "ts": 1774000000, "util_gpu_pct": NaN}', "not valid JSON"),
    (GPU, b"[1, 2, 3]", "not a JSON object"),
    (GPU, b'"gpu_sample"', "not a JSON object"),
    (GPU, _j({"ts": T0}), "type"),
    (GPU, _j({"type": "gpu_xid_event", "ts": T0, "node": "n1"}), "type"),
    (GPU, _j({k: v for k, v in gpu(T0).items() if k != "workload"}), "workload"),
    (GPU, _j(gpu(T0, interval_s="15s")), "interval_s"),
    (GPU, _j({**gpu(T0), "ts": "2026-03-25T02:02:16Z"}), "ts"),
    (GPU, _j(gpu(T0, util_gpu_pct=130.0)), "util_gpu_pct"),
    (GPU, _j(gpu(T0, mem_used_bytes=-5)), "mem_used_bytes"),
    (GPU, _j(gpu(T0, node="n" * 513)), "node"),
    (GPU, _j(gpu(T0, workload="w" * 100_000)), "workload"),
    (BILL, _j(billing(T0, cost_usd=-3.5)), "cost_usd"),
    (BILL, _j(billing(T0, workload=None)), "workload"),
    (TRAIN, _j({"type": "training_run", "ts": T0, "run_id": "r1", "model_id": "m1", "workload": {"id": "ml/t"},
                "status": "exploded"}), "status"),
    (OBS, _j({"type": "model_observation", "ts": T0, "model_id": "m1", "workload": {"id": "ml/s"},
              "values": {"f": [1.0, "x"]}}), "values"),
]


def _produce(bootstrap: str, prefix: str, records: list[tuple[str, bytes, bytes | None]]) -> None:
    async def go() -> None:
        from aiokafka import AIOKafkaProducer

        p = AIOKafkaProducer(**kcfg(bootstrap, prefix).aiokafka_kwargs(), max_request_size=4 << 20)
        await p.start()
        try:
            for topic, key, value in records:
                await p.send_and_wait(prefix + topic, value, key=key)  # one at a time: order is the test
        finally:
            await p.stop()

    asyncio.run(go())


def test_every_kind_of_bad_input_is_dead_lettered_and_processing_goes_on(kafka_bootstrap: str, unique: str) -> None:
    prefix = f"t{unique}."
    key = b"n1/GPU-1"
    good = [gpu(T0 + 15 * i) for i in range(200)]  # 50 idle minutes on one GPU: an idle anomaly
    records: list[tuple[str, bytes, bytes | None]] = []
    bad_iter = iter(BAD)
    for i, ev in enumerate(good):
        records.append((GPU, key, _j(ev)))
        if i % 9 == 0:  # poison between the good events of the same key, same partition
            b = next(bad_iter, None)
            if b is not None:
                records.append((b[0], key, b[1]))
    for b in bad_iter:
        records.append((b[0], key, b[1]))
    records += [(BILL, b"ml/trainer", _j(billing(T0 + 3600 * h))) for h in range(1, 4)]
    _produce(kafka_bootstrap, prefix, records)

    result = run_worker_until_idle(Settings(), kafka_bootstrap, idle_s=2.0, group_id=f"g{unique}",
                                   topic_prefix=prefix, session_timeout_s=3.0, heartbeat_interval_s=0.5)

    assert result.exit_code == 0
    assert result.bad == len(BAD)
    assert result.events == len(good) + 3
    dead = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.deadletter")]
    assert len(dead) == len(BAD)
    originals = {(r.topic, r.partition, r.offset): r.value for t in (GPU, BILL, TRAIN, OBS)
                 for r in read_topic(kafka_bootstrap, prefix + t, idle_s=0.5)}
    by_value: dict[bytes | None, str] = {}
    for d in dead:
        raw = originals[(d["topic"], d["partition"], d["offset"])]  # origin is exact
        if d.get("raw_b64") is not None:
            assert base64.b64decode(d["raw_b64"]) == raw
        else:
            assert (d["raw"].encode() if d["raw"] is not None else None) == raw
        assert d["key"] == "n1/GPU-1"
        by_value[raw] = d["reason"]
    for _topic, value, reason in BAD:
        assert by_value[value].startswith(reason), (value[:60] if value else value, by_value[value])
    found = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.anomalies")]
    assert any(a["kind"] in ("idle_gpu", "gpu_memory_hoarding") and a["resource"] == "GPU-1" for a in found)
