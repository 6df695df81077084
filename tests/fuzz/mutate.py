"""Mutations of valid contract events: hostile but plausible input, for the fuzz tests and ``make fuzz``.

:func:`mutate` takes one valid event line and a seeded ``random.Random`` and returns one mutated
line (bytes, maybe not JSON any more): a field's type swapped, a huge or deeply nested value,
NaN/Infinity, 1e308, NUL and control characters, invalid UTF-8, a duplicated key, a date far
ahead or behind, a field dropped or added, a truncated line. The same seed gives the same line.

:func:`hostile_anomaly` does the same for the output side: an anomaly event of the contract's
shape whose strings are hostile (Slack mrkdwn, NUL, huge) and whose numbers are extreme, for the
history store and the Slack renderer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import orjson

YEAR = 365 * 86400.0
HOSTILE_TEXT = ["", "\u0000", "a\u0000b", "\u0001\u001f\u007f", "\u2028\u2029", "<!channel>", "<!here|here>",
                "<https://evil.example|click>", "&amp;<>&", "*bold* _it_ ~st~ `code`", "\ufffd", "\U0001f525" * 50,
                "x" * 513, "y" * 5000, "é" * 512, "' OR 1=1; --", "%s%s%n", "{0}{1}", "\\", '"', "null"]
EXTREME_NUMBERS = [0, -0.0, -1, 1e308, -1e308, 1.7e308, 5e-324, 2 ** 63, 2 ** 64 - 1, 2 ** 64, 10 ** 30, 1e11,
                   4102444800.5, 0.1, 100.0000001, -1e-300]
_JUNK_BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00", b"\x1b[31m", b"\r",
               b"NaN", b"Infinity", b"-Infinity", b"1e999", b"\\u", b"\\ud800", b'"', b"{", b"]", b","]


def _values(r: random.Random, huge: float) -> Any:
    """A value of a random JSON type, often an extreme one; a huge one with probability ``huge``."""
    if r.random() < huge:
        return r.choice(["z" * 600_000, [0.5] * 120_000, {f"k{i}": "v" for i in range(300)}])
    pick = r.randrange(8)
    if pick == 0:
        return r.choice(HOSTILE_TEXT)
    if pick == 1:
        return r.choice(EXTREME_NUMBERS)
    if pick == 2:
        return r.choice([None, True, False])
    if pick == 3:
        return [r.choice(EXTREME_NUMBERS) for _ in range(r.randrange(5))]
    if pick == 4:
        return {r.choice(["id", "pid", "name", "x_id", "kind"]): _values(r, 0.0) for _ in range(r.randrange(3))}
    if pick == 5:
        return r.choice(["z" * 600, [0.5] * 300, {f"k{i}": "v" for i in range(20)}])
    if pick == 6:
        return r.uniform(-1e6, 1e6)
    return r.randrange(-(2 ** 40), 2 ** 40)


def _paths(ev: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(container, key) of every field, nested ones too (workload, metric, processes, values)."""
    out: list[tuple[Any, Any]] = []
    for k, v in ev.items():
        out.append((ev, k))
        if isinstance(v, dict):
            out += _paths(v)
        elif isinstance(v, list) and v:
            out.append((v, 0))
            if isinstance(v[0], dict):
                out += _paths(v[0])
    return out


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _swap(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    container, key = r.choice(_paths(ev))
    container[key] = _values(r, huge)
    return json.dumps(ev, ensure_ascii=r.random() < 0.5).encode()


def _dates(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    name = r.choice([k for k in ("ts", "ts", "started_at", "ended_at", "period_start", "period_end")
                     if isinstance(ev.get(k), int | float)])
    t = ev[name]
    ev[name] = r.choice([t + YEAR, t + 10 * YEAR, t - YEAR, 1e11, 1.7e12, 0, -1.0, t + 7200.0, t + 30.0,
                         4102444800.0])
    return orjson.dumps(ev)


def _money(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    name = r.choice(["price_per_hour_usd", "cost_usd", "adjustment_usd", "gpu_hours", "usage_quantity"])
    ev[name] = r.choice([1.7e308, 1e308, 2e9, 1e15, -1e308, 0.0, 2 ** 63])
    return orjson.dumps(ev)


def _deep_field(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    name = r.choice(["vendor", "workload", "labels", "values", "metric", "processes", "status", "node"])
    line = orjson.dumps({k: v for k, v in ev.items() if k != name})
    return line[:-1] + b',"' + name.encode() + b'":' + _deep(r.choice([20, 300, 600, 1100])) + b"}"


def _text(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    strings = [(c, k) for c, k in _paths(ev) if isinstance(c[k], str)]
    container, key = r.choice(strings)
    container[key] = r.choice(HOSTILE_TEXT) + container[key] + r.choice(HOSTILE_TEXT)
    return json.dumps(ev, ensure_ascii=r.random() < 0.5).encode()


def _bytes(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    line = orjson.dumps(ev)
    for _ in range(r.randrange(1, 3)):
        i = r.randrange(len(line) + 1)
        line = line[:i] + r.choice(_JUNK_BYTES) + line[i:]
    return line


def _duplicate(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    key = r.choice(list(ev))
    value = json.dumps(_values(r, huge) if r.random() < 0.7 else ev[key]).encode()
    line = orjson.dumps(ev)
    pair = orjson.dumps(key) + b":" + value
    return b"{" + pair + b"," + line[1:] if r.random() < 0.5 else line[:-1] + b"," + pair + b"}"


def _structure(ev: dict[str, Any], r: random.Random, huge: float) -> bytes:
    line = orjson.dumps(ev)
    pick = r.randrange(6)
    if pick == 0:
        return line[:r.randrange(1, len(line))]
    if pick == 1:
        del ev[r.choice([k for k in ev if k != "type"] or ["type"])]
        return orjson.dumps(ev)
    if pick == 2:
        return orjson.dumps([ev])
    if pick == 3:
        ev["type"] = r.choice(["gpu_xid_event", "anomaly", "GPU_SAMPLE", "", 5, None, ["gpu_sample"]])
        return orjson.dumps(ev)
    if pick == 4:
        return b"x" * 2_000_000 if r.random() < huge else line + line
    return line.replace(b'"', b"'")


MUTATIONS: list[Callable[[dict[str, Any], random.Random, float], bytes]] = [
    _swap, _swap, _dates, _money, _deep_field, _text, _text, _bytes, _duplicate, _structure]


def mutate(line: bytes, r: random.Random, huge: float = 0.05) -> bytes:
    """One hostile variant of a valid event line (no newline inside; maybe not JSON); a value of
    0.6-2 MB with probability ``huge`` (low for a million lines: they add up)."""
    ev = orjson.loads(line)
    out = r.choice(MUTATIONS)(ev, r, huge)
    return out.replace(b"\n", b" ").replace(b"\r", b" ")


def hostile_anomaly(r: random.Random, base: dict[str, Any]) -> dict[str, Any]:
    """An anomaly event like ``base`` (one the Engine emitted) with hostile strings and extreme figures."""
    a = json.loads(json.dumps(base))
    wl = a.get("workload") or {"id": "w"}
    for name in ("id", "owner", "team"):
        if r.random() < 0.6:
            wl[name] = r.choice(HOSTILE_TEXT)
    wl["labels"] = {r.choice(HOSTILE_TEXT): r.choice(HOSTILE_TEXT) for _ in range(r.randrange(3))}
    a["workload"] = wl if r.random() < 0.9 else None
    if r.random() < 0.5:
        a["summary"] = r.choice(HOSTILE_TEXT) + str(a.get("summary", "")) + r.choice(HOSTILE_TEXT)
    if r.random() < 0.3:
        a["resource"] = r.choice(HOSTILE_TEXT)
    for name in ("waste_usd", "projected_daily_usd"):
        if r.random() < 0.3:
            a[name] = r.choice([0.0, -1.0, 1e15, 1e308, 5e-324, 123456789.125])
    ev = a.setdefault("evidence", {})
    for _ in range(r.randrange(4)):
        ev[r.choice(HOSTILE_TEXT)] = r.choice([*HOSTILE_TEXT, *EXTREME_NUMBERS, None, [1, "<!channel>"], {"x": 1}])
    return a
