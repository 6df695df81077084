"""The Engine's state as the worker checkpoints it: per detector key, plus the anomaly lifecycle.

This module is the one seam between the worker's state store (``streams.state``) and the
Engine's insides (``detectors.engine``); nothing else in ``streams/`` touches them.

- :func:`snapshot_keys` / :func:`restore_keys`: one detector instance <-> bytes, and one
  *shared state* <-> bytes. Shared states are what several detectors of one key use together
  (:meth:`detectors.base.DetectorContext.state`: one ``ModelDrift`` per model for ``drift`` and
  ``retrain_without_drift``); each is its own key, ``("state:<name>", key)`` (:func:`state_key`),
  written whenever an instance of the same key or the state itself was touched, and restored
  before the instances. After a partition's keys are loaded every restored instance gets
  :meth:`~detectors.base.Detector.restored` (the idle detector rejoins the Engine's peer
  registry, derived state that is never written). Today the bytes are a pickle, read back
  through a *restricted* unpickler that only builds the classes the detectors are made of (no
  functions, nothing outside an allow-list), so a crafted record cannot run code. A versioned
  data format per detector (``to_state`` / ``from_state``) is to replace the pickle behind this
  same function pair.
- :func:`lifecycle_state` / :func:`restore_lifecycle`: open anomalies and the recently resolved
  ids, as JSON (plain data).
- :func:`clock_state` / :func:`restore_clock`: watermark, next tick, events counted.
- :func:`track` wraps an Engine's instance table so the worker learns which keys an event or a
  tick touched since the last checkpoint (:func:`take_touched`); only those are written.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from typing import Any

import orjson

from detectors.engine import _MOVED_CLASSES, _MOVED_MODULES, Engine, _OpenAnomaly

Key = tuple[str, str]  # (detector name, detector key), or ("state:<name>", key) for a shared state
STATE_PREFIX = "state:"  # detector names never start with it


def state_key(name: str, key: str) -> Key:
    """The checkpoint key of the shared state ``name`` of detector key ``key``."""
    return (STATE_PREFIX + name, key)


def is_state_key(k: Key) -> bool:
    return k[0].startswith(STATE_PREFIX)

# What a detector's pickle may name: the detector packages' own classes, and a few plain
# containers. Functions, modules and everything else are refused (pickle's way to run code).
_ALLOWED_PREFIXES = ("detectors.", "spendwatch.", "river.")
_ALLOWED_GLOBALS = {
    ("collections", "deque"), ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "bytearray"), ("builtins", "range"), ("builtins", "float"), ("builtins", "int"),
    ("array", "array"), ("array", "_array_reconstructor"),  # compact series in the spend baselines
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
}


class StateRejected(ValueError):
    """A state payload that is not what this worker writes; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # a class that moved since the record was written is looked up where it lives now
        module, name = _MOVED_CLASSES.get((module, name), (_MOVED_MODULES.get(module, module), name))
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.startswith(_ALLOWED_PREFIXES) and "." not in name and not name.startswith("__"):
            obj = super().find_class(module, name)
            if isinstance(obj, type) and obj.__module__ == module:
                return obj  # a class defined in a detector module, not something imported there
        raise StateRejected(f"state payload names {module}.{name}, which is not a detector state class")


def _loads(data: bytes) -> Any:
    try:
        return _RestrictedUnpickler(io.BytesIO(data)).load()
    except StateRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoding failure is a rejected payload
        raise StateRejected(f"state payload does not decode: {exc.__class__.__name__}: {str(exc)[:200]}") from None


# ----------------------------------------------------------------------------- tracking
class _TrackingDict(dict):  # type: ignore[type-arg]
    """The Engine's instance table, remembering every key it handed out or stored."""

    __slots__ = ("touched",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.touched: set[Key] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.touched.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.touched.add(key)
        return super().__getitem__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.touched.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.touched.add(key)
        super().__delitem__(key)

    def pop(self, key: Any, *default: Any) -> Any:
        self.touched.add(key)
        return super().pop(key, *default)


def track(engine: Engine) -> Engine:
    """Make ``engine`` remember which detector keys and shared states it touches (see :func:`take_touched`)."""
    if not isinstance(engine._instances, _TrackingDict):
        engine._instances = _TrackingDict(engine._instances)
    if not isinstance(engine.context.states, _TrackingDict):
        engine.context.states = _TrackingDict(engine.context.states)
    return engine


def take_touched(engine: Engine) -> set[Key]:
    """Keys touched since the last call (events processed, ticks), and forget them.

    A shared state counts as touched when it was looked up or stored, and also whenever an
    instance of the same detector key was touched (a detector may hold on to the object)."""
    inst, states = engine._instances, engine.context.states
    if not isinstance(inst, _TrackingDict):
        return set(inst) | {state_key(n, k) for n, k in states}
    touched, inst.touched = inst.touched, set()
    if isinstance(states, _TrackingDict):
        touched_states, states.touched = states.touched, set()
    else:
        touched_states = set(states)
    if states:
        keys = {k for _n, k in touched}
        touched_states |= {sk for sk in dict.keys(states) if sk[1] in keys}
    return touched | {state_key(n, k) for n, k in touched_states}  # a touched key no longer there was deleted


def all_keys(engine: Engine) -> list[Key]:
    return [state_key(n, k) for n, k in dict.keys(engine.context.states)] + list(dict.keys(engine._instances))


def ticking_keys(engine: Engine) -> set[Key]:
    return set(engine._ticking)


# ------------------------------------------------------------------------- per key
def snapshot_keys(engine: Engine, keys: list[Key] | set[Key]) -> dict[Key, bytes]:
    """Serialise the detector instances and shared states of ``keys`` (keys with neither are left out)."""
    inst, states = engine._instances, engine.context.states
    out: dict[Key, bytes] = {}
    dumps, proto = pickle.dumps, pickle.HIGHEST_PROTOCOL
    for k in keys:
        obj = dict.get(states, (k[0][len(STATE_PREFIX):], k[1])) if is_state_key(k) else dict.get(inst, k)
        if obj is not None:
            out[k] = dumps(obj, protocol=proto)
    return out


def restore_keys(engine: Engine, blobs: dict[Key, bytes], ticking: list[Key]) -> dict[Key, str]:
    """Put serialised shared states and detector instances into ``engine``; return the keys refused, with why.

    Shared states go in first, then the instances; once all of them are in, every restored
    instance's :meth:`~detectors.base.Detector.restored` runs (derived state such as the idle
    detector's peer registry is rebuilt there). Call it once per partition, with all its keys.
    A key whose detector is no longer configured is skipped silently (not an error); a payload
    that does not decode, names anything but detector state classes, or that ``restored()``
    cannot take back, is refused and that key starts cold. ``ticking`` lists, in order, the keys
    that wanted event-time ticks.
    """
    refused: dict[Key, str] = {}
    table, states = engine._instances, engine.context.states
    for (sname, key), data in blobs.items():
        if not sname.startswith(STATE_PREFIX):
            continue
        try:
            obj = _loads(data)
            if not type(obj).__module__.startswith("detectors."):
                raise StateRejected(f"shared state payload is a {type(obj).__name__}, not detector state")
        except StateRejected as exc:
            refused[(sname, key)] = exc.reason
            continue
        dict.__setitem__(states, (sname[len(STATE_PREFIX):], key), obj)
    restored: list[Key] = []
    for (name, key), data in blobs.items():
        if name.startswith(STATE_PREFIX) or name not in engine._classes:
            continue
        try:
            obj = _loads(data)
            cls = engine._classes[name]
            if not isinstance(obj, cls):
                raise StateRejected(f"payload is a {type(obj).__name__}, not a {cls.__name__}")
            obj.attach(engine._configs[name], engine.context)
        except StateRejected as exc:
            refused[(name, key)] = exc.reason
            continue
        dict.__setitem__(table, (name, key), obj)
        restored.append((name, key))
    for k in restored:
        try:
            dict.__getitem__(table, k).restored()
        except Exception as exc:  # noqa: BLE001 - a state that passed the allow-list but is inconsistent
            dict.__delitem__(table, k)
            refused[k] = f"restored() refused the state: {exc.__class__.__name__}: {str(exc)[:200]}"
    engine._ticking = {k: None for k in ticking if dict.__contains__(table, k)}
    return refused


# ------------------------------------------------------------------------ lifecycle
def lifecycle_state(engine: Engine) -> bytes:
    """Open anomalies and recently resolved ids, as JSON."""
    return orjson.dumps({
        "open": [[list(pk), a.id, a.detected_at, a.waste_usd, a.projected_daily_usd, a.severity]
                 for pk, a in engine._open.items()],
        "recently_resolved": list(engine._recently_resolved),
    })


def restore_lifecycle(engine: Engine, data: bytes) -> None:
    try:
        doc = orjson.loads(data)
        open_: dict[tuple[str, str, str], _OpenAnomaly] = {}
        for pk, aid, det, waste, daily, sev in doc["open"]:
            if not (isinstance(pk, list) and len(pk) == 3 and all(isinstance(x, str) for x in pk)):
                raise ValueError("problem key is not three strings")
            open_[(pk[0], pk[1], pk[2])] = _OpenAnomaly(str(aid), float(det), float(waste), float(daily), str(sev))
        resolved = OrderedDict((str(i), None) for i in doc["recently_resolved"])
    except (ValueError, TypeError, KeyError) as exc:
        raise StateRejected(f"lifecycle state does not decode: {exc.__class__.__name__}: {exc}") from None
    engine._open = open_
    engine._recently_resolved = resolved


def clock_state(engine: Engine) -> dict[str, Any]:
    wm, nt = engine.watermark, engine._next_tick
    return {"watermark": None if wm == float("-inf") else wm, "next_tick": None if nt == float("-inf") else nt,
            "events_in": engine.events_in}


def restore_clock(engine: Engine, doc: dict[str, Any]) -> None:
    wm, nt = doc.get("watermark"), doc.get("next_tick")
    engine.watermark = float("-inf") if wm is None else float(wm)
    engine._next_tick = float("-inf") if nt is None else float(nt)
    engine.events_in = int(doc.get("events_in") or 0)
