"""The Engine's state as the worker checkpoints it: per detector key, plus the anomaly lifecycle.

This module is the one seam between the worker's state store (``streams.state``) and the
Engine's insides (``detectors.engine``); nothing else in ``streams/`` touches them.

- :func:`snapshot_keys` / :func:`restore_keys`: one detector instance <-> bytes. Today the
  bytes are a pickle, read back through a *restricted* unpickler that only builds the classes
  the detectors are made of (no functions, nothing outside an allow-list), so a crafted record
  cannot run code. A versioned data format per detector (``to_state`` / ``from_state``) is to
  replace the pickle behind this same function pair.
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

from detectors.engine import Engine, _OpenAnomaly

Key = tuple[str, str]  # (detector name, detector key)

# What a detector's pickle may name: the detector packages' own classes, and a few plain
# containers. Functions, modules and everything else are refused (pickle's way to run code).
_ALLOWED_PREFIXES = ("detectors.", "spendwatch.", "river.")
_ALLOWED_GLOBALS = {
    ("collections", "deque"), ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "bytearray"), ("builtins", "range"), ("builtins", "float"), ("builtins", "int"),
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
    """Make ``engine`` remember which detector keys it touches (see :func:`take_touched`)."""
    if not isinstance(engine._instances, _TrackingDict):
        engine._instances = _TrackingDict(engine._instances)
    return engine


def take_touched(engine: Engine) -> set[Key]:
    """Keys touched since the last call (events processed, ticks), and forget them."""
    inst = engine._instances
    if not isinstance(inst, _TrackingDict):
        return set(inst)
    touched, inst.touched = inst.touched, set()
    return touched  # a touched key no longer in the table was deleted


def all_keys(engine: Engine) -> list[Key]:
    return list(dict.keys(engine._instances))


def ticking_keys(engine: Engine) -> set[Key]:
    return set(engine._ticking)


# ------------------------------------------------------------------------- per key
def snapshot_keys(engine: Engine, keys: list[Key] | set[Key]) -> dict[Key, bytes]:
    """Serialise the detector instances of ``keys`` (keys without an instance are left out)."""
    inst = engine._instances
    out: dict[Key, bytes] = {}
    dumps, proto = pickle.dumps, pickle.HIGHEST_PROTOCOL
    for k in keys:
        obj = dict.get(inst, k)
        if obj is not None:
            out[k] = dumps(obj, protocol=proto)
    return out


def restore_keys(engine: Engine, blobs: dict[Key, bytes], ticking: list[Key]) -> dict[Key, str]:
    """Put serialised detector instances into ``engine``; return the keys refused, with why.

    A key whose detector is no longer configured is skipped silently (not an error); a payload
    that does not decode, or names anything but detector state classes, is refused and that key
    starts cold. ``ticking`` lists, in order, the keys that wanted event-time ticks.
    """
    refused: dict[Key, str] = {}
    table = engine._instances
    for (name, key), data in blobs.items():
        if name not in engine._classes:
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
