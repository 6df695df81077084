"""Validation of the four input event types (shared/CONTRACT.md), unit and property tests."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.errors import BadEvent
from spendwatch.events import decode, validate
from streams.replay import ReplayStats, replay_lines
from tests.factories import H100, billing_delta, gpu_sample, model_observation, training_run

WL = {"id": "ml/train-a", "kind": "training", "owner": "a@corp.example", "team": "ml", "labels": {"cc": "42"}}


def gpu() -> dict[str, Any]:
    return gpu_sample(1000.0, mig_uuid=None, gpu_model=H100, util_gpu_pct=50.0, sm_active_pct=40.0,
                      mem_used_bytes=1024, mem_total_bytes=4096, power_w=300.0,
                      processes=[{"pid": 1, "used_mem_bytes": 1024}], workload=WL, price_per_hour_usd=3.9)


def billing() -> dict[str, Any]:
    return billing_delta(1000.0, period_start=0.0, period_end=3600.0, cost_usd=12.5, workload=WL, source="focus",
                         service="Amazon SageMaker", resource_id="endpoint/x", sku="ml.g5", model="m",
                         usage_quantity=3.0, usage_unit="Hrs")


def run() -> dict[str, Any]:
    return training_run(1000.0, workload=WL, started_at=10.0, ended_at=900.0, gpu_hours=2.0, cost_usd=6.0,
                        metric={"name": "auc", "value": 0.9, "higher_is_better": True}, data_version="d1",
                        code_version="c1", trigger="schedule")


def obs() -> dict[str, Any]:
    return model_observation(1000.0, workload=WL, values={"f1": [1.0, 2, 3.5], "f2": []})


MAKERS: dict[str, Callable[[], dict[str, Any]]] = {"gpu_sample": gpu, "billing_delta": billing,
                                                   "training_run": run, "model_observation": obs}


@pytest.mark.parametrize("etype", sorted(MAKERS))
def test_valid_events_pass_and_get_default_kind(etype: str) -> None:
    ev = MAKERS[etype]()
    del ev["workload"]["kind"]
    out = decode(orjson.dumps(ev))
    assert out["type"] == etype
    assert out["workload"]["kind"] == "unknown"


def test_gpu_sample_optional_fields_may_be_null_or_absent() -> None:
    ev = gpu()
    for k in ("sm_active_pct", "power_w", "price_per_hour_usd", "gpu_model"):
        ev[k] = None
    del ev["processes"]
    ev["workload"] = None  # null workload: nothing allocated
    assert validate(ev)["workload"] is None


def test_integral_float_bytes_become_int_and_unknown_fields_are_ignored() -> None:
    ev = gpu()
    ev["mem_used_bytes"] = 2048.0
    ev["some_future_field"] = {"anything": [1, 2]}
    assert type(validate(ev)["mem_used_bytes"]) is int


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(ev: dict[str, Any]) -> None:
        *head, last = path.split(".")
        d = ev
        for k in head:
            d = d[k]
        d[last] = value
    return f


def _del(path: str) -> Callable[[dict[str, Any]], None]:
    def f(ev: dict[str, Any]) -> None:
        *head, last = path.split(".")
        d = ev
        for k in head:
            d = d[k]
        del d[last]
    return f


LONG = "x" * 513
CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    # (event type, case name, mutation, text the reason must contain: the field)
    ("gpu_sample", "missing node", _del("node"), "node"),
    ("gpu_sample", "missing gpu_uuid", _del("gpu_uuid"), "gpu_uuid"),
    ("gpu_sample", "missing interval", _del("interval_s"), "interval_s"),
    ("gpu_sample", "zero interval", _set("interval_s", 0), "interval_s"),
    ("gpu_sample", "missing util", _del("util_gpu_pct"), "util_gpu_pct"),
    ("gpu_sample", "util as text", _set("util_gpu_pct", "50"), "util_gpu_pct"),
    ("gpu_sample", "util bool", _set("util_gpu_pct", True), "util_gpu_pct"),
    ("gpu_sample", "util > 100", _set("util_gpu_pct", 100.5), "util_gpu_pct"),
    ("gpu_sample", "util < 0", _set("util_gpu_pct", -0.1), "util_gpu_pct"),
    ("gpu_sample", "sm > 100", _set("sm_active_pct", 130), "sm_active_pct"),
    ("gpu_sample", "util inf", _set("util_gpu_pct", math.inf), "util_gpu_pct"),
    ("gpu_sample", "util nan", _set("util_gpu_pct", math.nan), "util_gpu_pct"),
    ("gpu_sample", "negative mem", _set("mem_used_bytes", -1), "mem_used_bytes"),
    ("gpu_sample", "fractional mem", _set("mem_total_bytes", 10.5), "mem_total_bytes"),
    ("gpu_sample", "missing mem total", _del("mem_total_bytes"), "mem_total_bytes"),
    ("gpu_sample", "negative power", _set("power_w", -3.0), "power_w"),
    ("gpu_sample", "negative price", _set("price_per_hour_usd", -1.0), "price_per_hour_usd"),
    ("gpu_sample", "processes not a list", _set("processes", {"pid": 1}), "processes"),
    ("gpu_sample", "process pid text", _set("processes", [{"pid": "1"}]), "processes[0].pid"),
    ("gpu_sample", "process negative bytes", _set("processes", [{"pid": 1, "used_mem_bytes": -5}]),
     "processes[0].used_mem_bytes"),
    ("gpu_sample", "missing workload", _del("workload"), "workload"),
    ("gpu_sample", "workload text", _set("workload", "ml/train"), "workload"),
    ("gpu_sample", "long node", _set("node", LONG), "node"),
    ("gpu_sample", "long gpu_uuid", _set("gpu_uuid", LONG), "gpu_uuid"),
    ("gpu_sample", "long mig_uuid", _set("mig_uuid", LONG), "mig_uuid"),
    ("gpu_sample", "long unknown *_id", _set("pod_id", LONG), "pod_id"),
    ("gpu_sample", "empty node", _set("node", ""), "node"),
    ("billing_delta", "missing cost", _del("cost_usd"), "cost_usd"),
    ("billing_delta", "negative cost", _set("cost_usd", -0.01), "cost_usd"),
    ("billing_delta", "cost inf", _set("cost_usd", math.inf), "cost_usd"),
    ("billing_delta", "missing period_start", _del("period_start"), "period_start"),
    ("billing_delta", "end before start", _set("period_end", -1.0), "period_end"),
    ("billing_delta", "null workload", _set("workload", None), "workload"),
    ("billing_delta", "negative quantity", _set("usage_quantity", -2), "usage_quantity"),
    ("billing_delta", "long resource_id", _set("resource_id", LONG), "resource_id"),
    ("billing_delta", "service number", _set("service", 5), "service"),
    ("billing_delta", "unknown charge category", _set("charge_category", "Usage"), "charge_category"),
    ("billing_delta", "adjustment text", _set("adjustment_usd", "-1.5"), "adjustment_usd"),
    ("billing_delta", "adjustment nan", _set("adjustment_usd", math.nan), "adjustment_usd"),
    ("billing_delta", "adjustment with a cost", _set("adjustment_usd", -1.0), "cost_usd"),
    ("billing_delta", "adjustment reason number", _set("adjustment_reason", 3), "adjustment_reason"),
    ("training_run", "missing run_id", _del("run_id"), "run_id"),
    ("training_run", "missing model_id", _del("model_id"), "model_id"),
    ("training_run", "long model_id", _set("model_id", LONG), "model_id"),
    ("training_run", "bad status", _set("status", "exploded"), "status"),
    ("training_run", "missing status", _del("status"), "status"),
    ("training_run", "negative gpu_hours", _set("gpu_hours", -1), "gpu_hours"),
    ("training_run", "negative cost", _set("cost_usd", -1), "cost_usd"),
    ("training_run", "metric text", _set("metric", "0.9"), "metric"),
    ("training_run", "metric nan", _set("metric.value", math.nan), "metric.value"),
    ("training_run", "metric no name", _del("metric.name"), "metric.name"),
    ("training_run", "metric hib text", _set("metric.higher_is_better", "yes"), "metric.higher_is_better"),
    ("model_observation", "missing values", _del("values"), "values"),
    ("model_observation", "values list", _set("values", [1, 2]), "values"),
    ("model_observation", "values text", _set("values.f1", "1;2"), "values.f1"),
    ("model_observation", "values inf", _set("values.f1", [1.0, math.inf]), "values.f1[1]"),
    ("model_observation", "values string item", _set("values.f1", [1.0, "2"]), "values.f1[1]"),
    ("model_observation", "missing model_id", _del("model_id"), "model_id"),
    # the workload object, checked the same in every type
    ("training_run", "workload id missing", _del("workload.id"), "workload.id"),
    ("training_run", "workload id long", _set("workload.id", LONG), "workload.id"),
    ("billing_delta", "owner long", _set("workload.owner", LONG), "workload.owner"),
    ("billing_delta", "team long", _set("workload.team", LONG), "workload.team"),
    ("billing_delta", "team number", _set("workload.team", 7), "workload.team"),
    ("gpu_sample", "labels list", _set("workload.labels", ["a"]), "workload.labels"),
    ("gpu_sample", "label value number", _set("workload.labels", {"cc": 42}), "workload.labels.cc"),
    ("gpu_sample", "kind number", _set("workload.kind", 3), "workload.kind"),
    # envelope
    ("gpu_sample", "missing ts", _del("ts"), "ts"),
    ("billing_delta", "ts as text", _set("ts", "2026-03-24T00:00:00Z"), "ts"),
    ("training_run", "negative ts", _set("ts", -5), "ts"),
    ("model_observation", "missing type", _del("type"), "type"),
    ("model_observation", "unknown type", _set("type", "gpu_xid_event"), "type"),
]


@pytest.mark.parametrize(("etype", "case", "mutate", "field"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_invalid_events_are_rejected_naming_the_field(etype: str, case: str,
                                                      mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    ev = MAKERS[etype]()
    mutate(ev)
    with pytest.raises(BadEvent) as err:
        validate(ev)
    assert err.value.reason.startswith(field + ":") or f"{field}:" in err.value.reason, err.value.reason


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"type": "gpu_sample",}', b"\xff\xfe", b"NaN"])
def test_undecodable_values_are_bad(raw: bytes) -> None:
    with pytest.raises(BadEvent, match="not valid JSON"):
        decode(raw)


@pytest.mark.parametrize("raw", [b"42", b"null", b'"gpu_sample"', b"[1, 2]", b"true"])
def test_non_object_json_is_bad(raw: bytes) -> None:
    with pytest.raises(BadEvent, match="not a JSON object"):
        decode(raw)


def test_nan_literal_inside_an_object_is_bad() -> None:
    raw = json.dumps(gpu()).replace('"util_gpu_pct": 50.0', '"util_gpu_pct": NaN').encode()
    with pytest.raises(BadEvent):
        decode(raw)


def test_identifier_of_exactly_512_characters_is_fine() -> None:
    ev = gpu()
    ev["node"] = "n" * 512
    assert validate(ev)["node"] == "n" * 512


# ------------------------------------------------------------------------ properties
def _engine() -> Engine:
    return Engine()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_bytes_never_crash_replay(lines: list[bytes]) -> None:
    stats = ReplayStats()
    out = list(replay_lines(lines, _engine(), stats))
    assert stats.events + stats.bad <= len(lines)
    assert all(a["type"] == "anomaly" for a in out)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=6),
                    max_leaves=20),
       st.sampled_from(sorted(MAKERS)))
def test_any_json_value_or_field_soup_never_crashes(value: Any, etype: str) -> None:
    for candidate in (value, {"type": etype, "ts": 5.0, "workload": value, "values": value, "node": value}):
        try:
            validate(candidate)
        except BadEvent as exc:
            assert exc.reason


def test_cli_survives_a_file_of_garbage(tmp_path: Path) -> None:
    r = random.Random(7)
    good = simulate(SimConfig(hours=0.5, gpus=2, seed=2, billing_days=0)).lines[:200]
    lines = [bytes(r.getrandbits(8) for _ in range(r.randint(0, 200))).replace(b"\n", b" ") for _ in range(300)]
    mixed = good + lines
    r.shuffle(mixed)
    f = tmp_path / "garbage.jsonl"
    f.write_bytes(b"\n".join(mixed) + b"\n")
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(f), "--max-bad-report", "5"],
                       capture_output=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert p.returncode == 0, p.stderr[-2000:]
    assert b"bad input" in p.stderr and b"more bad lines not shown" in p.stderr


# A small stream with every problem injected: the base for the mutation property.
_STREAM = simulate(SimConfig(hours=1.5, gpus=8, seed=5, billing_days=1)).lines


def _invalidate(ev: dict[str, Any], how: int, r: random.Random) -> bytes | None:
    """One mutation that makes a valid event invalid, or None when it does not apply to it."""
    t = ev["type"]
    ev = copy.deepcopy(ev)
    if how == 0:
        line = orjson.dumps(ev)
        return line[:r.randint(1, len(line) - 1)]  # truncated
    if how == 1:
        return orjson.dumps([ev])  # not an object
    if how == 2:
        ev["ts"] = "yesterday"
        return orjson.dumps(ev)
    if how == 3:
        del ev["workload"]
        return orjson.dumps(ev)
    if how == 4:
        ev["type"] = t + "_v2"
        return orjson.dumps(ev)
    if how == 5:
        field = {"gpu_sample": "util_gpu_pct", "billing_delta": "cost_usd", "training_run": "gpu_hours"}.get(t)
        if field is None:
            return None
        ev[field] = -1.0
        return orjson.dumps(ev)
    if how == 6:
        key = {"gpu_sample": "gpu_uuid", "billing_delta": "resource_id", "training_run": "run_id",
               "model_observation": "model_id"}[t]
        ev[key] = "k" * 600
        return orjson.dumps(ev)
    if how == 7:
        return json.dumps(ev).replace('"ts": ', '"ts": NaN, "old_ts": ', 1).encode()
    return None


def _run(lines: list[bytes]) -> tuple[list[bytes], ReplayStats]:
    stats = ReplayStats()
    return [orjson.dumps(a) for a in replay_lines(lines, _engine(), stats)], stats


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(_STREAM) - 1), st.integers(min_value=0, max_value=7),
       st.randoms(use_true_random=False))
def test_an_invalid_line_is_counted_and_changes_nothing(index: int, how: int, r: random.Random) -> None:
    ev = orjson.loads(_STREAM[index])
    bad = _invalidate(ev, how, r)
    assume(bad is not None)
    assert bad is not None
    mutated = [*_STREAM[:index], bad, *_STREAM[index + 1:]]
    deleted = [*_STREAM[:index], *_STREAM[index + 1:]]
    out_m, stats_m = _run(mutated)
    out_d, stats_d = _run(deleted)
    assert stats_m.bad == 1 and stats_d.bad == 0
    assert stats_m.events == stats_d.events
    assert out_m == out_d


_TRICKY = st.sampled_from([None, True, False, 0, -1, 5, 100, 101, 0.0, -0.0, 5.5, 100.0, 100.5, 2.0 ** 70,
                           math.nan, math.inf, -math.inf, "", "x", "x" * 513, [], {}, [{"pid": 1}],
                           [{"pid": 1, "used_mem_bytes": 2.0}], {"id": "w"}, {"id": "w", "kind": "batch"},
                           {"id": "w", "kind": "batch", "labels": {"a": 1}}])
_GPU_FIELDS = sorted(set(gpu()) - {"type", "ts"}) + ["mig_profile", "pod_id", "labels"]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_GPU_FIELDS), _TRICKY, max_size=4),
       st.lists(st.sampled_from(_GPU_FIELDS), max_size=2))
def test_gpu_sample_fast_path_accepts_only_what_the_checked_path_accepts(
        changes: dict[str, Any], removed: list[str]) -> None:
    from spendwatch.events import _gpu_sample_checked, _gpu_sample_ok

    ev = gpu()
    ev.update(copy.deepcopy(changes))
    for k in removed:
        ev.pop(k, None)
    checked = copy.deepcopy(ev)
    try:
        _gpu_sample_checked(checked)
        ok = True
    except BadEvent:
        ok = False
    if _gpu_sample_ok(ev):
        assert ok, f"fast path accepted what the checked path rejects: {ev}"
        assert checked == ev  # and it needed no normalisation


def test_billing_charge_categories_and_signed_adjustments() -> None:
    """The optional fields: a charge category on any delta, a signed adjustment with cost_usd 0."""
    for cat in ("usage", "purchase", "tax", "credit", "adjustment", "refund"):
        ev = billing()
        ev["charge_category"] = cat
        assert validate(ev)["charge_category"] == cat
    credit = billing()
    credit.update(cost_usd=0, adjustment_usd=-3.0, adjustment_reason="charge", charge_category="credit")
    assert validate(credit)["adjustment_usd"] == -3.0
    up = billing()
    up.update(cost_usd=0.0, adjustment_usd=0.6, adjustment_reason="restatement")
    assert validate(up)["adjustment_usd"] == 0.6
    old_form = billing()  # events without the new fields stay valid
    assert "charge_category" not in validate(old_form) and validate(old_form)["cost_usd"] == 12.5


# ---------------------------------------------------------------- bounds the contract leaves open
def _labels(n: int) -> dict[str, str]:
    return {f"l{i}": "v" for i in range(n)}


BOUNDS: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("gpu_sample", "257 labels", _set("workload.labels", _labels(257)), "workload.labels"),
    ("gpu_sample", "1025 processes", _set("processes", [{"pid": i} for i in range(1025)]), "processes"),
    ("gpu_sample", "pid beyond 64 bits", _set("processes", [{"pid": 2 ** 64}]), "processes[0].pid"),
    ("gpu_sample", "bytes beyond 64 bits", _set("mem_total_bytes", 2 ** 64), "mem_total_bytes"),
    ("gpu_sample", "float bytes beyond 64 bits", _set("mem_total_bytes", 1e300), "mem_total_bytes"),
    ("billing_delta", "cost beyond 64 bits", _set("cost_usd", 10 ** 400), "cost_usd"),
    ("model_observation", "1025 features", _set("values", {f"f{i}": [1.0] for i in range(1025)}), "values"),
    ("model_observation", "100001 values", _set("values.f1", [0.5] * 100_001), "values.f1"),
    ("model_observation", "value beyond 64 bits", _set("values.f1", [1, -(2 ** 64)]), "values.f1[1]"),
    ("training_run", "ts in milliseconds", _set("ts", 1.7e12), "ts"),
    ("training_run", "ts 1e11", _set("ts", 1e11), "ts"),
    ("training_run", "status array", _set("status", ["started"]), "status"),
    ("training_run", "status object", _set("status", {"started": True}), "status"),
    ("billing_delta", "charge category array", _set("charge_category", ["usage"]), "charge_category"),
    ("billing_delta", "charge category object", _set("charge_category", {}), "charge_category"),
]


@pytest.mark.parametrize(("etype", "case", "mutate", "field"), BOUNDS, ids=[f"{c[0]}:{c[1]}" for c in BOUNDS])
def test_bounds_are_bad_input_naming_the_field(etype: str, case: str, mutate: Callable[[dict[str, Any]], None],
                                               field: str) -> None:
    ev = MAKERS[etype]()
    mutate(ev)
    with pytest.raises(BadEvent) as err:
        validate(copy.deepcopy(ev))
    assert err.value.reason.startswith(field + ":"), err.value.reason
    raw = json.dumps(ev).encode()
    if len(raw) <= 1 << 20 and "64 bits" not in case:  # JSON gives a float for an integer past 64 bits
        with pytest.raises(BadEvent) as err2:
            decode(raw)
        assert err2.value.reason.startswith(field + ":"), err2.value.reason  # JSON gives floats past 64 bits


def test_exactly_at_the_bounds_is_fine() -> None:
    ev = gpu()
    ev["workload"]["labels"] = _labels(256)
    ev["processes"] = [{"pid": i, "used_mem_bytes": 1} for i in range(1024)]
    ev["mem_total_bytes"] = 2 ** 64 - 1
    ev["ts"] = 4102444800
    assert decode(orjson.dumps(ev))["mem_total_bytes"] == 2 ** 64 - 1
    o = obs()
    o["values"] = {f"f{i}": [1.0] * 90 for i in range(1024)}
    assert len(decode(orjson.dumps(o))["values"]) == 1024


def test_a_value_over_1_mib_is_bad_input_before_it_is_parsed() -> None:
    ev = gpu()
    ev["note"] = "x" * (1 << 20)
    with pytest.raises(BadEvent, match=r"^value is longer than 1,048,576 bytes \(1 MiB\)$"):
        decode(orjson.dumps(ev))
    with pytest.raises(BadEvent, match="longer than 1,048,576"):
        decode(orjson.dumps(ev).decode())


def test_decode_keeps_only_the_contract_fields_validate_keeps_everything() -> None:
    ev = gpu()
    ev.update(vendor={"deep": [1, 2]}, mig_profile="3g.40gb", util_source="gpm", sm_occupancy_pct=12.5)
    ev["workload"]["extra"] = "x"
    ev["processes"][0]["cmdline"] = "python train.py"
    r = run()
    r["metric"]["split"] = "test"
    r["notes"] = "n"
    for raw in (orjson.dumps(ev), json.dumps(ev, indent=1).encode()):
        out = decode(raw)
        assert "vendor" not in out and "extra" not in out["workload"]
        assert out["processes"] == [{"pid": 1, "used_mem_bytes": 1024}]
        assert out["mig_profile"] == "3g.40gb" and out["util_source"] == "gpm" and out["sm_occupancy_pct"] == 12.5
    assert decode(orjson.dumps(r))["metric"] == {"name": "auc", "value": 0.9, "higher_is_better": True}
    assert "notes" not in decode(orjson.dumps(r))
    ev["mig_profile"] = {"not": "text"}  # a collector field of the wrong type: dropped, never a reason
    assert "mig_profile" not in decode(orjson.dumps(ev))
    kept = validate(copy.deepcopy(ev))  # producers validate what they publish: unknown fields stay
    assert kept["vendor"] == {"deep": [1, 2]} and kept["workload"]["extra"] == "x"


# --------------------------------------------------- the typed path against the checked path
def _typed_checked(raw: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | BadEvent]:
    from spendwatch.events import _decode_checked, _decode_typed

    typed = _decode_typed(raw)
    try:
        checked: dict[str, Any] | BadEvent = _decode_checked(raw)
    except BadEvent as exc:
        checked = exc
    return typed, checked


def _exact(ev: dict[str, Any]) -> bytes:
    """Type-exact form of an event: 1 and 1.0 differ, key order does not."""
    return orjson.dumps(ev, option=orjson.OPT_SORT_KEYS)


def test_the_typed_path_takes_feedback_as_it_takes_the_input_types() -> None:
    typed, checked = _typed_checked(orjson.dumps(feedback_plain()))
    assert typed is not None and not isinstance(checked, BadEvent) and _exact(typed) == _exact(checked)
    no_evidence = feedback()
    del no_evidence["evidence"]
    typed, checked = _typed_checked(orjson.dumps(no_evidence))
    assert typed is not None and not isinstance(checked, BadEvent) and _exact(typed) == _exact(checked)
    # free-form evidence goes the checked way: orjson's numbers (a float past 64 bits), its depth limit
    typed, checked = _typed_checked(orjson.dumps(feedback())[:-1] + b', "x": 1}')
    assert typed is None and not isinstance(checked, BadEvent) and checked["evidence"]["idle_hours"] == 2.5
    big = orjson.dumps(feedback_plain())[:-1] + b', "evidence": {"n": -9223372036854775809}}'
    assert decode(big)["evidence"] == {"n": -9.223372036854776e18}
    snoozed = feedback()
    del snoozed["until"]
    typed, checked = _typed_checked(orjson.dumps(snoozed))
    assert typed is None and isinstance(checked, BadEvent) and checked.reason.startswith("until:")


def test_the_typed_path_takes_the_whole_simulated_stream() -> None:
    """The fast path is the common path: every valid line of a simulated fleet goes through it."""
    for raw in _STREAM:
        typed, checked = _typed_checked(raw)
        if isinstance(checked, BadEvent):
            assert typed is None
            continue
        assert typed is not None, raw[:300]
        assert _exact(typed) == _exact(checked)


def billing_adjustment() -> dict[str, Any]:
    ev = billing()
    ev.update(cost_usd=0, adjustment_usd=-3.0, adjustment_reason="restatement", charge_category="credit")
    return ev


def gpu_mig() -> dict[str, Any]:
    ev = gpu()
    ev.update(mig_uuid="MIG-1", mig_profile="1g.10gb", util_source="gpm", sm_occupancy_pct=3, source="dcgm")
    del ev["workload"]["kind"]
    return ev


def feedback() -> dict[str, Any]:
    return {"type": "feedback", "ts": 1000.0, "anomaly_id": "idle_gpu-abc", "kind": "idle_gpu", "resource": "GPU-1",
            "workload": copy.deepcopy(WL), "key": "n1/GPU-1", "verdict": "snoozed", "by": "ana@corp.example",
            "reason": "known batch window", "until": 5000.0, "evidence": {"node": "n1", "idle_hours": 2.5}}


def feedback_plain() -> dict[str, Any]:
    return {"type": "feedback", "ts": 1000.0, "anomaly_id": "cost_spike-x", "kind": "cost_spike", "key": "ml/a",
            "verdict": "not_a_problem", "by": "U123"}


_BASES: dict[str, Callable[[], dict[str, Any]]] = {**MAKERS, "billing_adjustment": billing_adjustment,
                                                   "gpu_mig": gpu_mig, "feedback": feedback,
                                                   "feedback_plain": feedback_plain}


def _paths(ev: dict[str, Any]) -> list[str]:
    """Every field of ``ev`` as a dotted path (list items by index), the containers too."""
    out = []
    for k, v in ev.items():
        out.append(k)
        if isinstance(v, dict):
            out += [f"{k}.{p}" for p in _paths(v)]
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out += [f"{k}.0.{p}" for p in _paths(v[0])]
    return out


_UNKNOWN = ["pod_id", "node", "owner", "team", "id", "gpu_uuid", "vendor", "mig_profile", "labels",
            "workload.extra", "workload.labels.k", "metric.extra", "processes.0.name", "values.f9"]
_EDGE = st.sampled_from([
    None, True, False, 0, -0.0, 1, -1, 0.5, 100, 100.0, 100.0000001, 101, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1,
    2 ** 63, 2 ** 64 - 1, 2 ** 64, -(2 ** 63), -(2 ** 63) - 1, 10 ** 30, 1e308, -1e308, 1.7e308, 5e-324,
    4102444800, 4102444800.5, 1e11, "", "x", "\u0000", "a\u0000b", "\u00e9" * 512, "\u00e9" * 513, "x" * 4096,
    "x" * 4097, "gpu_sample", "started", "usage", [], [1], [1.5, "2"], [{"pid": 1}], {}, {"id": "w"},
    {"id": "w", "kind": None}, {"id": "w", "x": 1}, {"name": "m", "value": 1, "higher_is_better": False},
    {"f": [1, 2.5]}, {"a": "b"}])
_JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                        | st.text(max_size=8) | _EDGE,
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                        max_leaves=8)


def _put(ev: dict[str, Any], path: str, value: Any) -> None:
    *head, last = path.split(".")
    d: Any = ev
    for k in head:
        if isinstance(d, list):
            if not d or not k.isdigit():
                return
            d = d[0]
        elif isinstance(d, dict):
            if not isinstance(d.get(k), dict | list):
                d[k] = {}
            d = d[k]
        else:
            return
    if isinstance(d, dict):
        d[last] = value
    elif isinstance(d, list) and d and last.isdigit():
        d[0] = value


def _remove(ev: dict[str, Any], path: str) -> None:
    *head, last = path.split(".")
    d: Any = ev
    for k in head:
        d = (d[0] if d else None) if isinstance(d, list) else d.get(k) if isinstance(d, dict) else None
        if d is None:
            return
    if isinstance(d, dict):
        d.pop(last, None)


@st.composite
def _mutants(draw: st.DrawFn) -> bytes:
    """A valid event of some type with a few fields changed, added or removed, as JSON text."""
    base = draw(st.sampled_from(sorted(_BASES)))
    ev = _BASES[base]()
    paths = _paths(ev) + _UNKNOWN
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        _put(ev, path, draw(_JSONISH))
    for path in draw(st.lists(st.sampled_from(paths), max_size=1)):
        _remove(ev, path)
    text = json.dumps(ev, ensure_ascii=draw(st.booleans()))
    dup = draw(st.sampled_from([None, *sorted(_paths(ev)), "type", "ts"]))
    if dup is not None and "." not in dup:  # a duplicated key, before or after the original
        pair = f"{json.dumps(dup)}: {json.dumps(draw(_JSONISH))}"
        text = ("{" + pair + ", " + text[1:]) if draw(st.booleans()) else (text[:-1] + ", " + pair + "}")
    return text.encode()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutants())
def test_typed_path_accepts_only_what_the_checked_path_accepts_and_gives_the_same_event(raw: bytes) -> None:
    typed, checked = _typed_checked(raw)
    if typed is not None:
        assert not isinstance(checked, BadEvent), f"typed path accepted what the checked path rejects " \
                                                  f"({checked.reason}): {raw[:500]!r}"
        assert _exact(typed) == _exact(checked), raw[:500]
    assert decode(raw) == checked if not isinstance(checked, BadEvent) else True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutants(), st.integers(min_value=0), st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\x01",
                                                              b"\n", b'"', b"\\", b"}", b"NaN", b"1e999"]))
def test_byte_level_damage_is_refused_by_both_paths_alike(raw: bytes, where: int, junk: bytes) -> None:
    i = where % (len(raw) + 1)
    damaged = raw[:i] + junk + raw[i:]
    typed, checked = _typed_checked(damaged)
    if typed is not None:
        assert not isinstance(checked, BadEvent), damaged[:500]
        assert _exact(typed) == _exact(checked)


# -------------------------------------------------- never anything but BadEvent, in any field
def _nest(depth: int) -> Any:
    v: Any = 1
    for i in range(depth):
        v = {"a": v} if i % 2 else [v]
    return v


_ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
                         | _EDGE | st.integers(min_value=0, max_value=900).map(_nest)
                         | st.sampled_from(["x" * 200_000, 10 ** 400, -(10 ** 400), [0.0] * 20_000]),
                         lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                         max_leaves=12)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_BASES)), st.data())
def test_validation_raises_only_bad_event_for_any_value_in_any_field(base: str, data: st.DataObject) -> None:
    ev = _BASES[base]()
    path = data.draw(st.sampled_from(_paths(ev) + _UNKNOWN))
    value = data.draw(_ANY_JSON)
    _put(ev, path, value)
    for candidate in (copy.deepcopy(ev), value):
        try:
            validate(candidate)
        except BadEvent as exc:
            assert exc.reason
    try:
        text = json.dumps(ev).encode()  # NaN and Infinity become JSON's invalid literals
    except (ValueError, RecursionError):
        return
    try:
        out = decode(text)
    except BadEvent as exc:
        assert exc.reason
    else:
        assert out["type"] == ev["type"]
        orjson.dumps(out)  # what a detector gets serialises (no NaN, no int beyond 64 bits)


@pytest.mark.parametrize(("evidence", "reason"), [
    (_nest(40), "evidence: nested more than 32 levels deep"),
    ({"blob": "x" * 70_000}, "evidence: 70,023 bytes as JSON, more than 65,536"),
    ({"n": 2 ** 70}, "evidence: cannot be written as JSON"),
])
def test_feedback_evidence_stays_publishable(evidence: Any, reason: str) -> None:
    """Free-form evidence that orjson could not write again (too deep, an integer past 64 bits) or that is
    huge is bad input: a feedback event is republished and stored as JSON."""
    ev = feedback()
    ev["evidence"] = {"wrapped": evidence}
    with pytest.raises(BadEvent) as err:
        validate(ev)
    assert err.value.reason.startswith(reason), err.value.reason
    ok = feedback()
    ok["evidence"] = {"deep": _nest(30)}
    assert orjson.dumps(decode(orjson.dumps(ok)))
