"""What every command prints through: JSON with ISO times, plurals, argument types, a closed pipe.

- :func:`dumps` / :func:`print_json`: JSON where every epoch time (a key ``ts``, ``*_ts`` or
  ``*_at`` holding a number) gets an ISO 8601 twin (``started_at_iso``) beside it; evidence is
  passed through as the detector wrote it.
- :func:`stdout_closed`: what :func:`spendwatch.cli.main` does when the reader of stdout went away
  (``spendwatch anomalies | head -1``): no traceback, exit 0, like ``cat`` and ``grep``.
- :func:`plural`: ``1 anomaly``, ``2 anomalies``.
- argument types (:func:`positive_int`, :func:`non_negative_float`, :func:`time_arg`, ...) that
  argparse turns into exit 2 with the option's name.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from spendwatch.errors import ConfigError
from spendwatch.format import plural

__all__ = ["dumps", "iso", "plural", "print_json", "stdout_closed", "with_iso"]  # plural: spendwatch.format


def iso(ts: float) -> str:
    """``2026-03-24T00:00:00Z`` for epoch seconds (UTC).

    >>> iso(1774310400)
    '2026-03-24T00:00:00Z'
    >>> iso(1774310400.5)
    '2026-03-24T00:00:00.500000Z'
    """
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


# The history store's summaries group "no team" / "no owner" under "-", a display placeholder: JSON says null.
_PLACEHOLDER = "-"
_NAME_KEYS = frozenset({"team", "owner", "workload", "model_id", "resource", "kind", "scope"})


def _is_time_key(key: str) -> bool:
    return key == "ts" or key.endswith(("_ts", "_at"))


def with_iso(value: Any) -> Any:
    """``value`` with an ``<key>_iso`` beside every epoch time in it (``evidence`` is left as it is), and
    null where the store wrote the display placeholder ``-`` for a missing team or owner.

    >>> with_iso({"started_at": 1774310400, "resolved_at": None})
    {'started_at': 1774310400, 'started_at_iso': '2026-03-24T00:00:00Z', 'resolved_at': None, 'resolved_at_iso': None}
    """
    if isinstance(value, list | tuple):
        return [with_iso(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for k, v in value.items():
        out[k] = v if k == "evidence" else None if k in _NAME_KEYS and v == _PLACEHOLDER else with_iso(v)
        if isinstance(k, str) and _is_time_key(k) and f"{k}_iso" not in value:
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"{k}_iso"] = iso(float(v))
            elif v is None:
                out[f"{k}_iso"] = None
    return out


def dumps(value: Any, indent: bool = False) -> str:
    """JSON text of ``value`` with ISO twins of its times (:func:`with_iso`)."""
    option = orjson.OPT_SERIALIZE_NUMPY | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(with_iso(value), option=option).decode()


def print_json(value: Any, file: IO[str] | None = None) -> None:
    """One JSON document on a line of ``file`` (stdout by default)."""
    (file or sys.stdout).write(dumps(value) + "\n")


def stdout_closed() -> int:
    """The reader of stdout left: send what is still buffered to /dev/null and exit 0.

    Python's own advice (the ``signal`` module's notes on SIGPIPE): point the descriptor at
    ``/dev/null`` so the interpreter's final flush does not raise again on the way out.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real descriptor (captured in a test)
        pass
    return 0


# --------------------------------------------------------------------------- argument types
def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = low - 1
    if n < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return n


def positive_int(text: str) -> int:
    """An integer of at least 1."""
    return _int_at_least(text, 1, "a positive integer (at least 1)")


def non_negative_int(text: str) -> int:
    """An integer of at least 0."""
    return _int_at_least(text, 0, "an integer of at least 0")


def port(text: str) -> int:
    """A TCP port, 0-65535 (0: a free one, or off where the help says so)."""
    n = non_negative_int(text)
    if n > 65535:
        raise argparse.ArgumentTypeError(f"must be a port between 0 and 65535, got {text!r}")
    return n


def _number(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if x != x or x in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return x


def non_negative_float(text: str) -> float:
    """A number of at least 0."""
    x = _number(text)
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {text!r}")
    return x


def positive_float(text: str) -> float:
    """A number above 0."""
    x = _number(text)
    if x <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text!r}")
    return x


def fraction(text: str) -> float:
    """A number from 0 to 1."""
    x = _number(text)
    if not 0 <= x <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}")
    return x


def time_arg(text: str) -> float:
    """A time as epoch seconds or ISO 8601 (``1774310400``, ``2026-03-24``, ``2026-03-24T18:00Z``)."""
    from spendwatch.history import parse_time

    try:
        return parse_time(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def choice_list(*allowed: str) -> Any:
    """Comma-separated values, each one of ``allowed`` (for repeatable any-of filters)."""

    def parse(text: str) -> str:
        bad = [v.strip() for v in text.split(",") if v.strip() and v.strip() not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown value(s) {', '.join(map(repr, bad))}; "
                                             f"choose from {', '.join(allowed)}")
        return text

    return parse
