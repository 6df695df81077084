"""Strict decoding and validation of the four input event types (shared/CONTRACT.md).

``decode(raw)`` turns one raw message value (bytes or str) into a validated event dict or
raises :class:`BadEvent` whose ``reason`` says what is wrong and in which field. Nothing else
escapes: the pipeline catches ``BadEvent``, dead-letters or reports the value, and goes on.

Validated events are the decoded dicts themselves (no copies on the hot path) with two
normalisations: ``workload`` always carries ``kind`` (default ``unknown``), and integral
byte counts given as floats become ints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import orjson

from spendwatch.contract import (
    BILLING_DELTA,
    FEEDBACK,
    FEEDBACK_VERDICTS,
    GPU_SAMPLE,
    INPUT_TYPES,
    MODEL_OBSERVATION,
    TRAINING_RUN,
)
from spendwatch.errors import BadEvent

__all__ = ["BILLING_DELTA", "FEEDBACK", "GPU_SAMPLE", "INPUT_TYPES", "MODEL_OBSERVATION", "TRAINING_RUN", "decode",
           "encode", "validate"]

MAX_ID_LEN = 512  # contract: identifiers longer than this are bad input
MAX_TEXT_LEN = 4096  # other free-text fields: generous, but bounded so a value cannot bloat state
WORKLOAD_KINDS = frozenset({"training", "inference", "notebook", "batch", "unknown"})
RUN_STATUSES = frozenset({"started", "succeeded", "failed", "cancelled"})

_isfinite = math.isfinite


def _num(ev: dict[str, Any], name: str, where: str = "") -> float:
    """A required finite JSON number (bool is not a number)."""
    v = ev.get(name, _MISSING)
    t = type(v)
    if t is float:
        if not _isfinite(v):
            raise BadEvent(f"{where}{name}: {v} is not a finite number")
        return v  # type: ignore[no-any-return]
    if t is int:
        return v  # type: ignore[no-any-return]
    if v is _MISSING:
        raise BadEvent(f"{where}{name}: required field is missing")
    raise BadEvent(f"{where}{name}: expected a number, got {_show(v)}")


def _opt_num(ev: dict[str, Any], name: str, where: str = "") -> float | None:
    v = ev.get(name)
    if v is None:
        return None
    return _num(ev, name, where)


def _nonneg(ev: dict[str, Any], name: str, where: str = "") -> float:
    v = _num(ev, name, where)
    if v < 0:
        raise BadEvent(f"{where}{name}: {v} is negative")
    return v


def _opt_nonneg(ev: dict[str, Any], name: str, where: str = "") -> float | None:
    if ev.get(name) is None:
        return None
    return _nonneg(ev, name, where)


def _pct(ev: dict[str, Any], name: str, where: str = "") -> float:
    v = _num(ev, name, where)
    if not 0.0 <= v <= 100.0:
        raise BadEvent(f"{where}{name}: {v} is outside 0-100")
    return v


def _bytes(ev: dict[str, Any], name: str, where: str = "", required: bool = True) -> int | None:
    v = ev.get(name, _MISSING)
    t = type(v)
    if t is int:
        if v < 0:
            raise BadEvent(f"{where}{name}: {v} is negative")
        return v  # type: ignore[return-value]
    if v is _MISSING or v is None:
        if required:
            raise BadEvent(f"{where}{name}: required field is missing" if v is _MISSING
                           else f"{where}{name}: must be an integer, got null")
        return None
    if t is float and _isfinite(v) and v == int(v):
        if v < 0:
            raise BadEvent(f"{where}{name}: {v} is negative")
        ev[name] = int(v)
        return int(v)
    raise BadEvent(f"{where}{name}: expected a non-negative integer byte count, got {_show(v)}")


def _ident(ev: dict[str, Any], name: str, where: str = "", required: bool = True) -> str | None:
    v = ev.get(name, _MISSING)
    if type(v) is str:
        if not v:
            raise BadEvent(f"{where}{name}: must not be empty")
        if len(v) > MAX_ID_LEN:
            raise BadEvent(f"{where}{name}: identifier is {len(v)} characters, more than {MAX_ID_LEN}")
        return v  # type: ignore[no-any-return]
    if v is _MISSING or v is None:
        if required:
            raise BadEvent(f"{where}{name}: required field is missing" if v is _MISSING
                           else f"{where}{name}: must be a string, got null")
        return None
    raise BadEvent(f"{where}{name}: expected a string, got {_show(v)}")


def _text(ev: dict[str, Any], name: str, where: str = "") -> str | None:
    v = ev.get(name)
    if v is None:
        return None
    if type(v) is not str:
        raise BadEvent(f"{where}{name}: expected a string, got {_show(v)}")
    if len(v) > MAX_TEXT_LEN:
        raise BadEvent(f"{where}{name}: {len(v)} characters, more than {MAX_TEXT_LEN}")
    return v  # type: ignore[no-any-return]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _show(v: Any) -> str:
    """A short description of a wrong value for an error message."""
    if isinstance(v, str):
        return f"string {v[:40]!r}{'...' if len(v) > 40 else ''} ({len(v)} chars)" if len(v) > 40 \
            else f"string {v!r}"
    if isinstance(v, bool):
        return f"boolean {str(v).lower()}"
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    if v is None:
        return "null"
    return f"{type(v).__name__} {v!r}"


def _workload(ev: dict[str, Any], required: bool) -> None:
    w = ev.get("workload", _MISSING)
    if w is _MISSING:
        raise BadEvent("workload: required field is missing")
    if w is None:
        if required:
            raise BadEvent("workload: must be an object, got null")
        return
    if type(w) is not dict:
        raise BadEvent(f"workload: expected an object, got {_show(w)}")
    _ident(w, "id", "workload.")
    kind = w.get("kind")
    if kind is None:
        w["kind"] = "unknown"
    elif type(kind) is not str or len(kind) > 64:
        raise BadEvent(f"workload.kind: expected one of {sorted(WORKLOAD_KINDS)}, got {_show(kind)}")
    _ident(w, "owner", "workload.", required=False)
    _ident(w, "team", "workload.", required=False)
    labels = w.get("labels")
    if labels is not None:
        if type(labels) is not dict:
            raise BadEvent(f"workload.labels: expected an object of strings, got {_show(labels)}")
        for k, lv in labels.items():
            if type(lv) is not str:
                raise BadEvent(f"workload.labels.{k[:60]}: expected a string, got {_show(lv)}")
            if len(lv) > MAX_TEXT_LEN or len(k) > MAX_ID_LEN:
                raise BadEvent(f"workload.labels.{k[:60]}: label too long")


def _check_extra_identifiers(ev: dict[str, Any], known: frozenset[str]) -> None:
    """Contract: any `id`/`*_id`/`*_uuid` field longer than 512 characters is bad, also unknown ones."""
    for k, v in ev.items():
        if k in known:
            continue
        if type(v) is str and len(v) > MAX_ID_LEN and (k == "id" or k.endswith(("_id", "_uuid"))
                                                         or k in ("node", "owner", "team")):
            raise BadEvent(f"{k[:60]}: identifier is {len(v)} characters, more than {MAX_ID_LEN}")


_GPU_KNOWN = frozenset({"type", "ts", "node", "gpu_uuid", "mig_uuid", "gpu_model", "interval_s", "util_gpu_pct",
                        "sm_active_pct", "mem_used_bytes", "mem_total_bytes", "power_w", "processes",
                        "workload", "price_per_hour_usd"})


_INF = math.inf


def _gpu_sample(ev: dict[str, Any]) -> None:
    if _gpu_sample_ok(ev):
        return
    _gpu_sample_checked(ev)


def _gpu_sample_ok(ev: dict[str, Any]) -> bool:
    """Fast path for the hot type: True when the sample is plainly valid as it stands.

    It accepts exactly a subset of what :func:`_gpu_sample_checked` accepts and needs no
    normalisation (byte counts already ints, workload kind already set); anything else, valid or
    not, goes the checked way, which normalises or raises with the precise reason. Comparisons
    like ``0 <= x <= 100`` are False for NaN, and ``x < inf`` rules out infinity.
    """
    g = ev.get
    node, gpu, mig, model = g("node"), g("gpu_uuid"), g("mig_uuid"), g("gpu_model")
    iv, util, sm = g("interval_s"), g("util_gpu_pct"), g("sm_active_pct")
    used, total, power, price = g("mem_used_bytes"), g("mem_total_bytes"), g("power_w"), g("price_per_hour_usd")
    # identifier checks inlined (type str, 1..MAX_ID_LEN chars): this runs for every sample
    if not (type(node) is str and 0 < len(node) <= MAX_ID_LEN and type(gpu) is str and 0 < len(gpu) <= MAX_ID_LEN
            and (mig is None or (type(mig) is str and 0 < len(mig) <= MAX_ID_LEN))
            and (model is None or (type(model) is str and len(model) <= MAX_TEXT_LEN))
            and (type(iv) is float or type(iv) is int) and 0 < iv < _INF
            and (type(util) is float or type(util) is int) and 0.0 <= util <= 100.0
            and (sm is None or ((type(sm) is float or type(sm) is int) and 0.0 <= sm <= 100.0))
            and type(used) is int and used >= 0 and type(total) is int and total >= 0
            and (power is None or ((type(power) is float or type(power) is int) and 0 <= power < _INF))
            and (price is None or ((type(price) is float or type(price) is int) and 0 <= price < _INF))):
        return False
    procs = g("processes")
    if procs is not None:
        if type(procs) is not list:
            return False
        for p in procs:
            if type(p) is not dict or type(p.get("pid")) is not int:
                return False
            ub = p.get("used_mem_bytes")
            if ub is not None and (type(ub) is not int or ub < 0):
                return False
    if "workload" not in ev:
        return False
    w = ev["workload"]
    if w is not None and not _workload_ok(w):
        return False
    return ev.keys() <= _GPU_KNOWN or _extra_ids_ok(ev, _GPU_KNOWN)


def _workload_ok(w: Any) -> bool:
    """Fast path of :func:`_workload`: a plainly valid workload object that already has a kind."""
    if type(w) is not dict:
        return False
    g = w.get
    wid, kind, owner, team, labels = g("id"), g("kind"), g("owner"), g("team"), g("labels")
    if not (type(wid) is str and 0 < len(wid) <= MAX_ID_LEN and type(kind) is str and len(kind) <= 64
            and (owner is None or (type(owner) is str and 0 < len(owner) <= MAX_ID_LEN))
            and (team is None or (type(team) is str and 0 < len(team) <= MAX_ID_LEN))):
        return False
    if labels is not None:
        if type(labels) is not dict:
            return False
        for k, lv in labels.items():
            if type(lv) is not str or len(lv) > MAX_TEXT_LEN or len(k) > MAX_ID_LEN:
                return False
    return True


def _extra_ids_ok(ev: dict[str, Any], known: frozenset[str]) -> bool:
    try:
        _check_extra_identifiers(ev, known)
    except BadEvent:
        return False
    return True


def _gpu_sample_checked(ev: dict[str, Any]) -> None:
    _ident(ev, "node")
    _ident(ev, "gpu_uuid")
    _ident(ev, "mig_uuid", required=False)
    _text(ev, "gpu_model")
    if _num(ev, "interval_s") <= 0:
        raise BadEvent(f"interval_s: {ev['interval_s']} must be greater than 0")
    _pct(ev, "util_gpu_pct")
    if ev.get("sm_active_pct") is not None:
        _pct(ev, "sm_active_pct")
    _bytes(ev, "mem_used_bytes")
    _bytes(ev, "mem_total_bytes")
    _opt_nonneg(ev, "power_w")
    procs = ev.get("processes")
    if procs is not None:
        if type(procs) is not list:
            raise BadEvent(f"processes: expected an array, got {_show(procs)}")
        for i, p in enumerate(procs):
            if type(p) is not dict:
                raise BadEvent(f"processes[{i}]: expected an object, got {_show(p)}")
            pid = p.get("pid")
            if type(pid) is not int:
                raise BadEvent(f"processes[{i}].pid: expected an integer, got {_show(pid)}")
            _bytes(p, "used_mem_bytes", f"processes[{i}].", required=False)
    _workload(ev, required=False)
    _opt_nonneg(ev, "price_per_hour_usd")
    _check_extra_identifiers(ev, _GPU_KNOWN)


_BILLING_KNOWN = frozenset({"type", "ts", "period_start", "period_end", "cost_usd", "workload", "source",
                            "service", "resource_id", "sku", "model", "usage_quantity", "usage_unit",
                            "charge_category", "adjustment_usd", "adjustment_reason"})
# optional billing_delta fields (docs/collectors.md): what kind of charge, and signed corrections that
# keep ``cost_usd >= 0``: an adjustment event carries ``cost_usd: 0`` and the signed ``adjustment_usd``
CHARGE_CATEGORIES = frozenset({"usage", "purchase", "tax", "credit", "adjustment", "refund"})


def _billing_delta(ev: dict[str, Any]) -> None:
    start = _num(ev, "period_start")
    end = _num(ev, "period_end")
    if end < start:
        raise BadEvent(f"period_end: {end} is before period_start {start}")
    _nonneg(ev, "cost_usd")
    _workload(ev, required=True)
    for name in ("source", "service", "sku", "model", "usage_unit"):
        _text(ev, name)
    _ident(ev, "resource_id", required=False)
    _opt_nonneg(ev, "usage_quantity")
    cat = ev.get("charge_category")
    if cat is not None and cat not in CHARGE_CATEGORIES:
        raise BadEvent(f"charge_category: expected one of {sorted(CHARGE_CATEGORIES)}, got {_show(cat)}")
    if ev.get("adjustment_usd") is not None:
        _num(ev, "adjustment_usd")
        if ev["cost_usd"] != 0:
            raise BadEvent(f"cost_usd: must be 0 when adjustment_usd is set, got {ev['cost_usd']}")
    _text(ev, "adjustment_reason")
    _check_extra_identifiers(ev, _BILLING_KNOWN)


_TRAINING_KNOWN = frozenset({"type", "ts", "run_id", "model_id", "workload", "status", "started_at", "ended_at",
                             "gpu_hours", "cost_usd", "metric", "data_version", "code_version", "trigger"})


def _training_run(ev: dict[str, Any]) -> None:
    _ident(ev, "run_id")
    _ident(ev, "model_id")
    _workload(ev, required=True)
    status = ev.get("status", _MISSING)
    if status is _MISSING:
        raise BadEvent("status: required field is missing")
    if status not in RUN_STATUSES:
        raise BadEvent(f"status: expected one of {sorted(RUN_STATUSES)}, got {_show(status)}")
    _opt_num(ev, "started_at")
    _opt_num(ev, "ended_at")
    _opt_nonneg(ev, "gpu_hours")
    _opt_nonneg(ev, "cost_usd")
    metric = ev.get("metric")
    if metric is not None:
        if type(metric) is not dict:
            raise BadEvent(f"metric: expected an object or null, got {_show(metric)}")
        _text(metric, "name", "metric.")
        if metric.get("name") is None:
            raise BadEvent("metric.name: required field is missing")
        _num(metric, "value", "metric.")
        hib = metric.get("higher_is_better", _MISSING)
        if type(hib) is not bool:
            raise BadEvent(f"metric.higher_is_better: expected true or false, got "
                           f"{'nothing' if hib is _MISSING else _show(hib)}")
    for name in ("data_version", "code_version", "trigger"):
        _text(ev, name)
    _check_extra_identifiers(ev, _TRAINING_KNOWN)


_OBS_KNOWN = frozenset({"type", "ts", "model_id", "workload", "values"})


def _model_observation(ev: dict[str, Any]) -> None:
    _ident(ev, "model_id")
    _workload(ev, required=True)
    values = ev.get("values", _MISSING)
    if values is _MISSING:
        raise BadEvent("values: required field is missing")
    if type(values) is not dict:
        raise BadEvent(f"values: expected an object of name -> array of numbers, got {_show(values)}")
    for name, arr in values.items():
        if type(arr) is not list:
            raise BadEvent(f"values.{name[:60]}: expected an array of numbers, got {_show(arr)}")
        if len(name) > MAX_ID_LEN:
            raise BadEvent(f"values: feature name is {len(name)} characters, more than {MAX_ID_LEN}")
        for i, x in enumerate(arr):
            t = type(x)
            if t is float:
                if not _isfinite(x):
                    raise BadEvent(f"values.{name[:60]}[{i}]: {x} is not a finite number")
            elif t is not int:
                raise BadEvent(f"values.{name[:60]}[{i}]: expected a number, got {_show(x)}")
    _check_extra_identifiers(ev, _OBS_KNOWN)


_FEEDBACK_KNOWN = frozenset({"type", "ts", "anomaly_id", "kind", "resource", "workload", "key", "verdict", "by",
                             "reason", "until", "evidence"})


def _feedback(ev: dict[str, Any]) -> None:
    """A person's verdict on an anomaly (an addition to the contract; see docs/feedback.md)."""
    _ident(ev, "anomaly_id")
    kind = _ident(ev, "kind")
    if kind is not None and len(kind) > 64:
        raise BadEvent(f"kind: {len(kind)} characters, more than 64")
    _ident(ev, "resource", required=False)
    if ev.get("workload") is not None:
        _workload(ev, required=False)
    else:
        ev["workload"] = None
    _ident(ev, "key")
    verdict = ev.get("verdict", _MISSING)
    if verdict is _MISSING:
        raise BadEvent("verdict: required field is missing")
    if verdict not in FEEDBACK_VERDICTS:
        raise BadEvent(f"verdict: expected one of {', '.join(FEEDBACK_VERDICTS)}, got {_show(verdict)}")
    _ident(ev, "by")
    _text(ev, "reason")
    until = _opt_num(ev, "until")
    if verdict == "snoozed" and until is None:
        raise BadEvent("until: required when verdict is snoozed (epoch seconds)")
    evidence = ev.get("evidence")
    if evidence is not None and type(evidence) is not dict:
        raise BadEvent(f"evidence: expected an object or null, got {_show(evidence)}")
    _check_extra_identifiers(ev, _FEEDBACK_KNOWN)


_VALIDATORS: dict[str, Callable[[dict[str, Any]], None]] = {
    GPU_SAMPLE: _gpu_sample,
    BILLING_DELTA: _billing_delta,
    TRAINING_RUN: _training_run,
    MODEL_OBSERVATION: _model_observation,
    FEEDBACK: _feedback,
}


def validate(obj: Any) -> dict[str, Any]:
    """Validate an already-decoded JSON value in place and return it as an event.

    Raises :class:`BadEvent` when it is not a contract input event.
    """
    if type(obj) is not dict:
        raise BadEvent(f"not a JSON object: got {_show(obj)}")
    etype = obj.get("type", _MISSING)
    if etype is _MISSING:
        raise BadEvent("type: required field is missing")
    check = _VALIDATORS.get(etype) if type(etype) is str else None
    if check is None:
        known = ", ".join((*INPUT_TYPES, FEEDBACK))
        raise BadEvent(f"type: unknown event type {_show(etype)}; expected one of {known}")
    ts = _num(obj, "ts")
    if ts < 0:
        raise BadEvent(f"ts: {ts} is negative; expected UTC epoch seconds")
    check(obj)
    return obj  # type: ignore[no-any-return]


def decode(raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse one raw message value (UTF-8 JSON) and validate it as an input event."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON: {exc}") from None
    return validate(obj)


def encode(obj: Any) -> bytes:
    """Serialise one event or anomaly as compact JSON bytes (deterministic key order as given)."""
    return orjson.dumps(obj)
