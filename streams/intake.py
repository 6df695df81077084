"""What both drivers of the Engine do with a raw value first: decode it, or say why it is bad.

``spendwatch replay`` (:mod:`streams.replay`, a file) and the worker (:mod:`streams.partition`,
Kafka records) take bad input the same way: :func:`decode_or_reject` gives the validated event
or the :class:`~spendwatch.errors.BadEvent` that says what is wrong and where. The caller
dead-letters (worker) or reports the line (replay) and goes on; a bad value never reaches a
detector.

Examples
--------
>>> decode_or_reject(b'{"type": "training_run", "ts": 5}').reason
'run_id: required field is missing'
>>> decode_or_reject(None).reason
'empty value (tombstone); expected a JSON object'
>>> ok = decode_or_reject(b'{"type": "training_run", "ts": 5, "run_id": "r", "model_id": "m", '
...                       b'"workload": {"id": "ml/m"}, "status": "started"}')
>>> ok["model_id"], ok["workload"]["kind"]
('m', 'unknown')
"""

from __future__ import annotations

from typing import Any

from spendwatch.errors import BadEvent
from spendwatch.events import decode


def decode_or_reject(value: bytes | bytearray | memoryview | str | None) -> dict[str, Any] | BadEvent:
    """The validated input event in ``value``, or the :class:`BadEvent` saying why it is bad input
    (``None`` is a Kafka tombstone: bad input too)."""
    if value is None:
        return BadEvent("empty value (tombstone); expected a JSON object")
    try:
        return decode(value)
    except BadEvent as exc:
        return exc
