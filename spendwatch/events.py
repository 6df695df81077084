"""Strict decoding and validation of the four input event types (shared/CONTRACT.md).

``decode(raw)`` turns one raw message value (bytes or str) into a validated event dict or
raises :class:`BadEvent` whose ``reason`` says what is wrong and in which field. Nothing else
escapes: the pipeline catches ``BadEvent``, dead-letters or reports the value, and goes on.

Two paths give the same answer:

- the **typed path** decodes and validates in one pass with ``msgspec``: one ``Struct`` per event
  type, tagged by ``type``, whose field types and constraints are the contract's rules, then turns
  the struct into the event dict. It accepts only plainly valid values (no unknown field, nothing
  to normalise); anything else it refuses, valid or not;
- the **checked path** (what a refused value goes through) parses with ``orjson`` and checks field
  by field with the hand-written rules below, which normalise what they can and otherwise raise
  with the precise reason. Every reason comes from here.

``tests/test_events.py`` proves with property tests that the typed path accepts only what the
checked path accepts and gives the same event, type for type.

A decoded event holds the contract's fields only: unknown extra fields are ignored (not kept,
so a huge or deeply nested vendor field never reaches detector state, a snapshot or an alert),
and so are unknown fields inside ``workload``, ``metric`` and ``processes`` entries. Fields our
own collectors add to ``gpu_sample`` (``mig_profile``, ``util_source``, ``sm_occupancy_pct``,
``source``) are kept when they are well-typed. Two normalisations: ``workload`` always carries
``kind`` (default ``unknown``), and integral byte counts given as floats become ints.

:func:`validate` checks an already-decoded value in place (producers call it before they
publish) and keeps unknown fields: it says whether a value is valid, not what a consumer keeps.

Bounds the contract leaves open (each a bad-input reason naming the field): a value of at most
1 MiB, identifiers of at most 512 characters and other text of at most 4096, 256 labels per
workload, 1024 processes per sample, 1024 features per observation and 100,000 values per
feature, ``ts`` before 2100 (a larger one is milliseconds or garbage), integers within 64 bits.
Money and quantities per event are bounded by the Engine (``limits``), where settings reach.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import UNSET, Meta, Struct, UnsetType

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

__all__ = ["BILLING_DELTA", "FEEDBACK", "GPU_SAMPLE", "INPUT_TYPES", "MODEL_OBSERVATION", "MONEY_FIELDS",
           "QUANTITY_FIELDS", "TRAINING_RUN", "LimitsConfig", "decode", "encode", "validate"]

MAX_ID_LEN = 512  # contract: identifiers longer than this are bad input
MAX_TEXT_LEN = 4096  # other free-text fields: generous, but bounded so a value cannot bloat state
MAX_EVENT_BYTES = 1 << 20  # one message value (Kafka's default message size limit is 1 MB)
MAX_LABELS = 256  # labels per workload
MAX_PROCESSES = 1024  # compute processes per GPU sample
MAX_FEATURES = 1024  # features per model observation
MAX_VALUES = 100_000  # values per feature per observation
MAX_EVIDENCE_BYTES = 64 * 1024  # a feedback event's free-form evidence, as JSON
MAX_EVIDENCE_DEPTH = 32  # ... and how deep its objects and arrays may nest
MAX_TS = 4102444800.0  # 2100-01-01T00:00:00Z: a later ``ts`` is milliseconds or garbage, not seconds
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 64 - 1  # what JSON decoding gives as an int (orjson); others are bad
WORKLOAD_KINDS = frozenset({"training", "inference", "notebook", "batch", "unknown"})
RUN_STATUSES = frozenset({"started", "succeeded", "failed", "cancelled"})
# The money fields of each input type (``*_usd``), bounded per event by ``limits.max_event_usd``.
MONEY_FIELDS: dict[str, tuple[str, ...]] = {GPU_SAMPLE: ("price_per_hour_usd",),
                                            BILLING_DELTA: ("cost_usd", "adjustment_usd"),
                                            TRAINING_RUN: ("cost_usd",), MODEL_OBSERVATION: (), FEEDBACK: ()}
# The quantities that money is computed from (tokens, GPU-hours), bounded by ``limits.max_quantity``.
QUANTITY_FIELDS: dict[str, tuple[str, ...]] = {GPU_SAMPLE: (), BILLING_DELTA: ("usage_quantity",),
                                               TRAINING_RUN: ("gpu_hours",), MODEL_OBSERVATION: (), FEEDBACK: ()}

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
        if not _INT_MIN <= v <= _INT_MAX:
            raise BadEvent(f"{where}{name}: integer {_show_int(v)} is out of range (64 bits)")
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
            raise BadEvent(f"{where}{name}: {_show_int(v)} is negative")
        if v > _INT_MAX:
            raise BadEvent(f"{where}{name}: integer {_show_int(v)} is out of range (64 bits)")
        return v  # type: ignore[return-value]
    if v is _MISSING or v is None:
        if required:
            raise BadEvent(f"{where}{name}: required field is missing" if v is _MISSING
                           else f"{where}{name}: must be an integer, got null")
        return None
    if t is float and _isfinite(v) and v == int(v):
        if v < 0:
            raise BadEvent(f"{where}{name}: {v} is negative")
        if v > _INT_MAX:
            raise BadEvent(f"{where}{name}: {v} is out of range (64 bits)")
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


def _show_int(v: int) -> str:
    """An integer for a message: a huge one by its size (``str`` of it may be refused, and long)."""
    return str(v) if -10 ** 30 < v < 10 ** 30 else f"of {v.bit_length()} bits"


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
    if type(v) is int:
        return f"int {_show_int(v)}"
    return f"{type(v).__name__} {v!r}"[:80]


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
        if len(labels) > MAX_LABELS:
            raise BadEvent(f"workload.labels: {len(labels)} labels, more than {MAX_LABELS}")
        for k, lv in labels.items():
            if type(k) is not str:
                raise BadEvent(f"workload.labels: a label name is {_show(k)}, not a string")
            if type(lv) is not str:
                raise BadEvent(f"workload.labels.{k[:60]}: expected a string, got {_show(lv)}")
            if len(lv) > MAX_TEXT_LEN or len(k) > MAX_ID_LEN:
                raise BadEvent(f"workload.labels.{k[:60]}: label too long")


def _check_extra_identifiers(ev: dict[str, Any], known: frozenset[str]) -> None:
    """Contract: any `id`/`*_id`/`*_uuid` field longer than 512 characters is bad, also unknown ones."""
    for k, v in ev.items():
        if k in known:
            continue
        if type(k) is not str:
            raise BadEvent(f"a field name is {_show(k)}, not a string")
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
            and (type(iv) is float or (type(iv) is int and iv <= _INT_MAX)) and 0 < iv < _INF
            and (type(util) is float or type(util) is int) and 0.0 <= util <= 100.0
            and (sm is None or ((type(sm) is float or type(sm) is int) and 0.0 <= sm <= 100.0))
            and type(used) is int and 0 <= used <= _INT_MAX and type(total) is int and 0 <= total <= _INT_MAX
            and (power is None or (type(power) is float and 0 <= power < _INF)
                 or (type(power) is int and 0 <= power <= _INT_MAX))
            and (price is None or (type(price) is float and 0 <= price < _INF)
                 or (type(price) is int and 0 <= price <= _INT_MAX))):
        return False
    procs = g("processes")
    if procs is not None:
        if type(procs) is not list or len(procs) > MAX_PROCESSES:
            return False
        for p in procs:
            if type(p) is not dict:
                return False
            pid = p.get("pid")
            if type(pid) is not int or not _INT_MIN <= pid <= _INT_MAX:
                return False
            ub = p.get("used_mem_bytes")
            if ub is not None and (type(ub) is not int or not 0 <= ub <= _INT_MAX):
                return False
    if "workload" not in ev:
        return False
    w = ev["workload"]
    if w is not None and not _workload_ok(w):
        return False
    return ev.keys() <= _GPU_KNOWN or _extra_ids_ok(ev, _GPU_KNOWN)  # unknown fields: kept by validate


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
        if type(labels) is not dict or len(labels) > MAX_LABELS:
            return False
        for k, lv in labels.items():
            if type(lv) is not str or type(k) is not str or len(lv) > MAX_TEXT_LEN or len(k) > MAX_ID_LEN:
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
        if len(procs) > MAX_PROCESSES:
            raise BadEvent(f"processes: {len(procs)} entries, more than {MAX_PROCESSES}")
        for i, p in enumerate(procs):
            if type(p) is not dict:
                raise BadEvent(f"processes[{i}]: expected an object, got {_show(p)}")
            pid = p.get("pid")
            if type(pid) is not int:
                raise BadEvent(f"processes[{i}].pid: expected an integer, got {_show(pid)}")
            if not _INT_MIN <= pid <= _INT_MAX:
                raise BadEvent(f"processes[{i}].pid: integer {_show_int(pid)} is out of range (64 bits)")
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
    if cat is not None and (type(cat) is not str or cat not in CHARGE_CATEGORIES):
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
    if type(status) is not str or status not in RUN_STATUSES:
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
    if len(values) > MAX_FEATURES:
        raise BadEvent(f"values: {len(values)} features, more than {MAX_FEATURES}")
    for name, arr in values.items():
        if type(name) is not str:
            raise BadEvent(f"values: a feature name is {_show(name)}, not a string")
        if type(arr) is not list:
            raise BadEvent(f"values.{name[:60]}: expected an array of numbers, got {_show(arr)}")
        if len(name) > MAX_ID_LEN:
            raise BadEvent(f"values: feature name is {len(name)} characters, more than {MAX_ID_LEN}")
        if len(arr) > MAX_VALUES:
            raise BadEvent(f"values.{name[:60]}: {len(arr)} values, more than {MAX_VALUES}")
        for i, x in enumerate(arr):
            t = type(x)
            if t is float:
                if not _isfinite(x):
                    raise BadEvent(f"values.{name[:60]}[{i}]: {x} is not a finite number")
            elif t is not int:
                raise BadEvent(f"values.{name[:60]}[{i}]: expected a number, got {_show(x)}")
            elif not _INT_MIN <= x <= _INT_MAX:
                raise BadEvent(f"values.{name[:60]}[{i}]: integer {_show_int(x)} is out of range (64 bits)")
    _check_extra_identifiers(ev, _OBS_KNOWN)


_FEEDBACK_KNOWN = frozenset({"type", "ts", "anomaly_id", "kind", "resource", "workload", "key", "verdict", "by",
                             "reason", "until", "evidence"})


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``value`` (no recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        if type(v) is dict:
            stack.extend((x, depth + 1) for x in v.values() if type(x) is dict or type(x) is list)
        elif type(v) is list:
            stack.extend((x, depth + 1) for x in v if type(x) is dict or type(x) is list)
    return False


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
    if evidence:  # free-form, but it must stay publishable: JSON that orjson writes, at most 64 KiB
        if _deeper_than(evidence, MAX_EVIDENCE_DEPTH):
            raise BadEvent(f"evidence: nested more than {MAX_EVIDENCE_DEPTH} levels deep")
        try:
            size = len(orjson.dumps(evidence))
        except TypeError as exc:  # orjson.JSONEncodeError: nested too deep, an integer past 64 bits ...
            raise BadEvent(f"evidence: cannot be written as JSON ({exc})") from None
        if size > MAX_EVIDENCE_BYTES:
            raise BadEvent(f"evidence: {size:,} bytes as JSON, more than {MAX_EVIDENCE_BYTES:,}")
    _check_extra_identifiers(ev, _FEEDBACK_KNOWN)


_VALIDATORS: dict[str, Callable[[dict[str, Any]], None]] = {
    GPU_SAMPLE: _gpu_sample,
    BILLING_DELTA: _billing_delta,
    TRAINING_RUN: _training_run,
    MODEL_OBSERVATION: _model_observation,
    FEEDBACK: _feedback,
}


@dataclass(frozen=True)
class LimitsConfig:
    """``limits`` section: bounds on input values that only settings can set (the Engine applies them).

    Parameters
    ----------
    max_event_usd
        The most money one event may carry in any ``*_usd`` field (``price_per_hour_usd``,
        ``cost_usd``, the magnitude of ``adjustment_usd``): $1e9. Above it the event is bad
        input: a price of $1.7e308 an hour is a bug upstream, and summing such values would give
        infinite waste and spurious spikes. Generous on purpose: a real monthly bill fits.
    max_quantity
        The largest ``usage_quantity`` (tokens, GPU-hours ...) and ``gpu_hours`` one event may
        carry: 1e15. Sums and costs per token are computed from them; 1e308 tokens is garbage.
    """

    max_event_usd: float = 1e9
    max_quantity: float = 1e15


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
    if ts > MAX_TS:
        raise BadEvent(f"ts: {ts} is after the year 2100; expected UTC epoch seconds (not milliseconds)")
    check(obj)
    return obj  # type: ignore[no-any-return]


# ------------------------------------------------------------------ what a decoded event keeps
# Fields our own collectors add to gpu_sample beyond the contract: kept when well-typed (the idle
# detector prices a MIG slice by ``mig_profile``), dropped otherwise, never a reason to refuse.
_GPU_EXTRA_TEXT = ("mig_profile", "util_source", "source")
_GPU_EXTRA_PCT = ("sm_occupancy_pct",)
_GPU_KEEP = _GPU_KNOWN | frozenset(_GPU_EXTRA_TEXT + _GPU_EXTRA_PCT)
_KEEP: dict[str, frozenset[str]] = {GPU_SAMPLE: _GPU_KEEP, BILLING_DELTA: _BILLING_KNOWN,
                                    TRAINING_RUN: _TRAINING_KNOWN, MODEL_OBSERVATION: _OBS_KNOWN,
                                    FEEDBACK: _FEEDBACK_KNOWN}
_WORKLOAD_KNOWN = frozenset({"id", "kind", "owner", "team", "labels"})
_PROCESS_KNOWN = frozenset({"pid", "used_mem_bytes"})
_METRIC_KNOWN = frozenset({"name", "value", "higher_is_better"})


def _drop_unknown(d: dict[str, Any], known: frozenset[str]) -> None:
    if not d.keys() <= known:
        for k in [k for k in d if k not in known]:
            del d[k]


def _only_known(ev: dict[str, Any]) -> dict[str, Any]:
    """Drop (in place) what a validated event holds beyond the contract's fields."""
    t = ev["type"]
    _drop_unknown(ev, _KEEP[t])
    w = ev.get("workload")
    if w is not None:
        _drop_unknown(w, _WORKLOAD_KNOWN)
    if t == GPU_SAMPLE:
        for name in _GPU_EXTRA_TEXT:
            v = ev.get(name, "")
            if v is not None and (type(v) is not str or len(v) > MAX_TEXT_LEN):
                del ev[name]
        for name in _GPU_EXTRA_PCT:
            v = ev.get(name, 0)
            if v is not None and not ((type(v) is float or type(v) is int) and 0 <= v <= 100):
                del ev[name]
        for p in ev.get("processes") or ():
            _drop_unknown(p, _PROCESS_KNOWN)
    elif t == TRAINING_RUN and ev.get("metric") is not None:
        _drop_unknown(ev["metric"], _METRIC_KNOWN)
    return ev


# --------------------------------------------------------------------------------- typed path
# The contract's rules as msgspec types. Integers are bounded to int64 (msgspec's limit for
# bounds; orjson gives ints up to 2**64-1, which the checked path takes). JSON has no NaN or
# infinity, and msgspec refuses a number beyond the double range, as orjson does.
_I64 = Annotated[int, Meta(ge=-(2 ** 63), le=2 ** 63 - 1)]
_Num = _I64 | float
_NonNeg = Annotated[int, Meta(ge=0, le=2 ** 63 - 1)] | Annotated[float, Meta(ge=0.0)]
_Positive = Annotated[int, Meta(gt=0, le=2 ** 63 - 1)] | Annotated[float, Meta(gt=0.0)]
_Pct = Annotated[int, Meta(ge=0, le=100)] | Annotated[float, Meta(ge=0.0, le=100.0)]
_Ts = Annotated[int, Meta(ge=0, le=int(MAX_TS))] | Annotated[float, Meta(ge=0.0, le=MAX_TS)]
_Bytes = Annotated[int, Meta(ge=0, le=2 ** 63 - 1)]
_Id = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LEN)]
_Text = Annotated[str, Meta(max_length=MAX_TEXT_LEN)]
_Labels = Annotated[dict[Annotated[str, Meta(max_length=MAX_ID_LEN)], _Text], Meta(max_length=MAX_LABELS)]
_Values = Annotated[dict[Annotated[str, Meta(max_length=MAX_ID_LEN)],
                         Annotated[list[_Num], Meta(max_length=MAX_VALUES)]], Meta(max_length=MAX_FEATURES)]


class _Workload(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    id: _Id
    kind: Annotated[str, Meta(max_length=64)] = "unknown"
    owner: _Id | None | UnsetType = UNSET
    team: _Id | None | UnsetType = UNSET
    labels: _Labels | None | UnsetType = UNSET


class _Process(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    pid: _I64
    used_mem_bytes: _Bytes | None | UnsetType = UNSET


class _Metric(Struct, forbid_unknown_fields=True, kw_only=True, gc=False):
    name: _Text
    value: _Num
    higher_is_better: bool


class _Event(Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True, gc=False):
    ts: _Ts


class _GpuSample(_Event, tag=GPU_SAMPLE, kw_only=True, gc=False):
    node: _Id
    gpu_uuid: _Id
    mig_uuid: _Id | None | UnsetType = UNSET
    gpu_model: _Text | None | UnsetType = UNSET
    mig_profile: _Text | None | UnsetType = UNSET
    interval_s: _Positive
    util_gpu_pct: _Pct
    sm_active_pct: _Pct | None | UnsetType = UNSET
    sm_occupancy_pct: _Pct | None | UnsetType = UNSET
    util_source: _Text | None | UnsetType = UNSET
    mem_used_bytes: _Bytes
    mem_total_bytes: _Bytes
    power_w: _NonNeg | None | UnsetType = UNSET
    processes: Annotated[list[_Process], Meta(max_length=MAX_PROCESSES)] | None | UnsetType = UNSET
    workload: _Workload | None
    price_per_hour_usd: _NonNeg | None | UnsetType = UNSET
    source: _Text | None | UnsetType = UNSET


class _BillingDelta(_Event, tag=BILLING_DELTA, kw_only=True, gc=False):
    period_start: _Num
    period_end: _Num
    workload: _Workload
    source: _Text | None | UnsetType = UNSET
    service: _Text | None | UnsetType = UNSET
    resource_id: _Id | None | UnsetType = UNSET
    sku: _Text | None | UnsetType = UNSET
    model: _Text | None | UnsetType = UNSET
    cost_usd: _NonNeg
    usage_quantity: _NonNeg | None | UnsetType = UNSET
    usage_unit: _Text | None | UnsetType = UNSET
    charge_category: Literal["usage", "purchase", "tax", "credit", "adjustment", "refund"] | None | UnsetType \
        = UNSET
    adjustment_usd: _Num | None | UnsetType = UNSET
    adjustment_reason: _Text | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise ValueError("period_end before period_start")
        if self.adjustment_usd is not None and self.adjustment_usd is not UNSET and self.cost_usd != 0:
            raise ValueError("adjustment_usd with a cost")


class _TrainingRun(_Event, tag=TRAINING_RUN, kw_only=True, gc=False):
    run_id: _Id
    model_id: _Id
    workload: _Workload
    status: Literal["started", "succeeded", "failed", "cancelled"]
    started_at: _Num | None | UnsetType = UNSET
    ended_at: _Num | None | UnsetType = UNSET
    gpu_hours: _NonNeg | None | UnsetType = UNSET
    cost_usd: _NonNeg | None | UnsetType = UNSET
    metric: _Metric | None | UnsetType = UNSET
    data_version: _Text | None | UnsetType = UNSET
    code_version: _Text | None | UnsetType = UNSET
    trigger: _Text | None | UnsetType = UNSET


class _ModelObservation(_Event, tag=MODEL_OBSERVATION, kw_only=True, gc=False):
    model_id: _Id
    workload: _Workload
    values: _Values


class _Feedback(_Event, tag=FEEDBACK, kw_only=True, gc=False):
    anomaly_id: _Id
    kind: Annotated[str, Meta(min_length=1, max_length=64)]
    resource: _Id | None | UnsetType = UNSET
    workload: _Workload | None = None  # the checked path sets an absent workload to null
    key: _Id
    verdict: Literal["not_a_problem", "acknowledged", "snoozed"]
    by: _Id
    reason: _Text | None | UnsetType = UNSET
    until: _Num | None | UnsetType = UNSET
    # free-form: it goes the checked way (orjson's numbers, depth limit), so no value escapes the rules
    evidence: None | UnsetType = UNSET

    def __post_init__(self) -> None:
        if self.verdict == "snoozed" and (self.until is None or self.until is UNSET):
            raise ValueError("snoozed without until")


_TYPED = msgspec.json.Decoder(_GpuSample | _BillingDelta | _TrainingRun | _ModelObservation | _Feedback)
_typed_decode = _TYPED.decode
_to_builtins = msgspec.to_builtins
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError)


def _decode_typed(raw: bytes | bytearray | memoryview | str) -> dict[str, Any] | None:
    """The event when the typed path accepts ``raw``; None when it refuses it (valid or not)."""
    try:
        return _to_builtins(_typed_decode(raw))  # type: ignore[no-any-return]
    except _REFUSED:
        return None


def _decode_checked(raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """The checked path: orjson, the hand-written rules, then only the contract's fields."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"not valid JSON: {exc}") from None
    return _only_known(validate(obj))


def _size(raw: bytes | bytearray | memoryview | str) -> int:
    if isinstance(raw, str):
        if len(raw) <= MAX_EVENT_BYTES // 4:
            return len(raw)  # at most 4 bytes a character: small enough whatever it holds
        return len(raw.encode("utf-8", "surrogatepass"))
    return raw.nbytes if isinstance(raw, memoryview) else len(raw)


def decode(raw: bytes | bytearray | memoryview | str) -> dict[str, Any]:
    """Parse one raw message value (UTF-8 JSON) and validate it as an input event.

    The event holds the contract's fields only (see the module docstring); raises
    :class:`BadEvent` when ``raw`` is not a contract input event.
    """
    size = _size(raw)
    if size > MAX_EVENT_BYTES:
        raise BadEvent(f"value is longer than {MAX_EVENT_BYTES:,} bytes (1 MiB)")
    try:
        return _to_builtins(_typed_decode(raw))  # type: ignore[no-any-return]
    except _REFUSED:
        pass
    return _decode_checked(raw)


def encode(obj: Any) -> bytes:
    """Serialise one event or anomaly as compact JSON bytes (deterministic key order as given)."""
    return orjson.dumps(obj)
